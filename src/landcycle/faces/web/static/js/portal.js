/*
 * 云上看地 (/, no sign-in): the published 年度可供土地清单 on the map and as a paged list, side by
 * side on an office screen and stacked on a phone. Filters: county, zone, area range (亩),
 * land source, industry; sort. A list entry's button zooms the map to the parcel and outlines
 * it; "查看详情" opens /land/{code}. Signed-in visitors see the same public list.
 *
 * Calls: /api/supply (list page; with land source / industry filters also the matching codes
 * for the map), /api/jurisdictions (filter menus, zoom-to), the public `supply` tile layer
 * (mapkit.js). The filters live in the address (?county=…&min_mu=…) so a view can be shared.
 */
import { $, api, el, mu, num, query, renderShell, say, wan } from './common.js';
import {
  STATE_COLORS, addParcelTiles, closePopup, createMap, featureBounds, highlightParcel, jurisdictionList,
  onParcelClick, openPopup, setParcelFilter,
} from './mapkit.js';

const PAGE = 20;
const FIELDS = ['county', 'zone', 'land_source', 'industry', 'min_mu', 'max_mu', 'sort'];
const form = $('supply-filters');
const filters = Object.fromEntries(FIELDS.map((k) => [k, new URLSearchParams(location.search).get(k) || '']));
let offset = Math.max(0, Number(new URLSearchParams(location.search).get('offset')) || 0);
let places = { counties: [], zones: [], byCode: {} };
let map = null;
let markers = [];
let items = [];
let lastData = { total: 0, items: [] };
let selected = '';
let facetsFilled = false;
let loadSeq = 0;

await renderShell({ active: 'portal' });
$('legend-listed').style.backgroundColor = STATE_COLORS.listed;

// ---- filters -----------------------------------------------------------------------------

function fillZones() {
  const select = $('filter-zone');
  const zones = places.zones.filter((z) => !filters.county || z.properties.county_code === filters.county);
  select.replaceChildren(el('option', { value: '', text: '全部产业集聚区' }),
    ...zones.map((f) => el('option', { value: f.properties.code, text: f.properties.name })));
  if (!zones.some((z) => z.properties.code === filters.zone)) filters.zone = '';
  select.value = filters.zone;
}

function fillPlaces() {
  $('filter-county').replaceChildren(el('option', { value: '', text: '全部县区' }),
    ...places.counties.map((f) => el('option', { value: f.properties.code, text: f.properties.name })));
  $('filter-county').value = filters.county;
  fillZones();
}

function fillFacets(facets) {
  if (facetsFilled || !facets) return;
  facetsFilled = true;
  $('filter-source').replaceChildren(el('option', { value: '', text: '全部来源' }),
    ...facets.land_sources.map((f) => el('option', { value: f.value, text: `${f.label}（${f.count}）` })));
  $('filter-industry').replaceChildren(el('option', { value: '', text: '全部产业' }),
    ...facets.industries.map((f) => el('option', { value: f.value, text: `${f.label}（${f.count}）` })));
  $('filter-source').value = filters.land_source;
  $('filter-industry').value = filters.industry;
}

function readForm() {
  for (const k of FIELDS) filters[k] = (form.elements[k].value || '').trim();
}

function remember() {
  const q = query({ ...filters, offset: offset || '' });
  history.replaceState(null, '', location.pathname + q);
}

form.addEventListener('submit', (e) => {
  e.preventDefault();
  readForm();
  offset = 0;
  load({ zoom: true });
});
form.addEventListener('reset', (e) => {
  e.preventDefault();
  for (const k of FIELDS) filters[k] = '';
  for (const k of FIELDS) form.elements[k].value = '';
  fillZones();
  offset = 0;
  load({ zoom: true });
});
// Menus apply at once; the area boxes wait for 筛选 / Enter.
for (const id of ['filter-county', 'filter-zone', 'filter-source', 'filter-industry', 'filter-sort']) {
  $(id).addEventListener('change', () => {
    readForm();
    if (id === 'filter-county') fillZones();
    offset = 0;
    load({ zoom: id === 'filter-county' || id === 'filter-zone' });
  });
}
$('page-prev').addEventListener('click', () => { offset = Math.max(0, offset - PAGE); load({ focusList: true }); });
$('page-next').addEventListener('click', () => { offset += PAGE; load({ focusList: true }); });

// ---- list --------------------------------------------------------------------------------

function params() {
  const p = { ...filters };
  delete p.sort;
  return p;
}

async function load({ zoom = false, focusList = false } = {}) {
  const seq = ++loadSeq;
  say($('portal-message'), '');
  remember();
  let data;
  try {
    data = await api('/api/supply' + query({ ...params(), sort: filters.sort, limit: PAGE, offset }));
  } catch (err) {
    if (seq !== loadSeq) return;
    say($('portal-message'), err.message, 'error');
    $('result-summary').textContent = '清单未能加载';
    return;
  }
  if (seq !== loadSeq) return;  // a newer request is on its way
  fillFacets(data.facets);
  $('list-year').textContent = data.list_year ? `${data.list_year} 年度` : '年度';
  items = data.items;
  lastData = data;
  renderList(data);
  await updateMap(data, seq);
  if (zoom) zoomToFilters();
  if (focusList && $('supply-list').firstElementChild) $('supply-list').querySelector('button').focus();
}

function renderList(data) {
  const list = $('supply-list');
  $('result-summary').replaceChildren('共 ', el('strong', { text: num(data.total, 0) }), ' 宗，合计 ',
    el('strong', { text: num(data.total_area_mu) }), ' 亩');
  if (!data.items.length) {
    list.replaceChildren(el('li', { class: 'empty', text: '没有符合条件的可供宗地，请放宽筛选条件。' }));
  } else {
    list.replaceChildren(...data.items.map((it, i) => listItem(it, data.offset + i + 1)));
  }
  const pages = Math.max(1, Math.ceil(data.total / PAGE));
  const pageNo = Math.floor(data.offset / PAGE) + 1;
  $('pager').hidden = data.total <= PAGE;
  $('page-info').textContent = `第 ${pageNo} / ${pages} 页`;
  $('page-prev').disabled = data.offset <= 0;
  $('page-next').disabled = data.offset + data.items.length >= data.total;
}

function listItem(it, n) {
  const where = [it.county_name, it.zone_name].filter(Boolean).join(' · ');
  const plot = it.plot_ratio_min != null || it.plot_ratio_max != null
    ? `${num(it.plot_ratio_min)}–${num(it.plot_ratio_max)}` : '—';
  return el('li', { class: 'supply-item', dataset: { code: it.code } }, [
    el('div', { class: 'supply-item-head' }, [
      el('span', { class: 'supply-no', 'aria-hidden': 'true', text: String(n) }),
      el('button', { type: 'button', class: 'supply-locate', 'aria-label': `在地图上定位宗地 ${it.code}`,
        onclick: () => select(it, { fly: true }) }, [
        el('span', { class: 'supply-area', text: mu(it.area_mu) }),
        el('span', { class: 'supply-where', text: where }),
      ]),
    ]),
    el('p', { class: 'supply-location', text: it.location || it.code }),
    el('p', { class: 'supply-tags' }, [
      it.land_source_label ? el('span', { class: 'tag', text: it.land_source_label }) : null,
      it.is_standard_land ? el('span', { class: 'tag tag-ok', text: '标准地' }) : null,
      ...it.suitable_industries.map((s) => el('span', { class: 'tag tag-industry', text: s })),
    ]),
    el('p', { class: 'supply-facts' }, [
      `容积率 ${plot}`, ' · ',
      it.expected_price_wan != null ? `预计价格 ${wan(it.expected_price_wan)}` : '价格待定',
      it.supply_method_label ? ` · ${it.supply_method_label}` : '',
    ]),
    el('a', { class: 'supply-detail', href: `/land/${encodeURIComponent(it.code)}`, text: '查看详情',
      'aria-label': `查看详情：宗地 ${it.code}` }),
  ]);
}

function select(it, { fly = false } = {}) {
  selected = it ? it.code : '';
  for (const li of document.querySelectorAll('.supply-item')) {
    li.classList.toggle('is-selected', li.dataset.code === selected);
  }
  for (const m of markers) m.getElement().classList.toggle('is-selected', m.code === selected);
  if (!map) return;
  highlightParcel(map, selected);
  if (!it) return;
  if (fly) {
    const [w, s, e, n] = it.bbox;
    map.fitBounds([[w, s], [e, n]], { padding: 60, maxZoom: 16, duration: 600 });
    if (matchMedia('(max-width: 720px)').matches) $('map').scrollIntoView({ behavior: 'smooth', block: 'center' });
  }
}

// ---- map ---------------------------------------------------------------------------------

/** The map shows the parcels the filters select: county / zone / area are tile attributes;
 * land source and industry are not, so those filters send the matching codes. */
async function updateMap(data, seq) {
  if (!map) return;
  const spec = { county: filters.county, zone: filters.zone, minMu: filters.min_mu, maxMu: filters.max_mu };
  if (filters.land_source || filters.industry) {
    if (data.total <= data.items.length) spec.codes = data.items.map((i) => i.code);
    else {
      try {
        const all = await api('/api/supply' + query({ ...params(), limit: 1000 }));
        if (seq !== loadSeq) return;
        if (all.total <= all.items.length) spec.codes = all.items.map((i) => i.code);
      } catch (err) { /* the list still shows the right parcels */ }
    }
  }
  setParcelFilter(map, spec);
  drawMarkers();
  closePopup(map);
  highlightParcel(map, '');
  selected = '';
}

/** A numbered marker per list entry (visible at every zoom: the parcels' tiles start at z11). */
function drawMarkers() {
  for (const m of markers) m.remove();
  markers = items.map((it, i) => {
    const node = el('span', { class: 'map-marker', text: String(offset + i + 1), 'aria-hidden': 'true' });
    node.addEventListener('click', (e) => { e.stopPropagation(); select(it, { fly: true }); });
    const [w, s, e, n] = it.bbox;
    const marker = new window.maplibregl.Marker({ element: node }).setLngLat([(w + e) / 2, (s + n) / 2]).addTo(map);
    marker.code = it.code;
    return marker;
  });
}

function zoomToFilters() {
  if (!map) return;
  const code = filters.zone || filters.county;
  let b = code && places.byCode[code] ? featureBounds(places.byCode[code]) : null;
  if (items.length && (filters.min_mu || filters.max_mu || filters.land_source || filters.industry || !b)) {
    // Frame the listed parcels themselves.
    const bx = items.map((i) => i.bbox);
    b = [[Math.min(...bx.map((x) => x[0])), Math.min(...bx.map((x) => x[1]))],
      [Math.max(...bx.map((x) => x[2])), Math.max(...bx.map((x) => x[3]))]];
  }
  if (b) map.fitBounds(b, { padding: 50, maxZoom: 15, duration: 500 });
}

function popupFor(p) {
  const it = items.find((i) => i.code === p.code);
  const rows = [['面积', p.area_mu != null ? mu(p.area_mu) : '—'], ['集聚区', p.zone_name || '—'],
    ['县区', p.county_name || '—'], ['用途', p.land_use_label || '—'], ['标准地', p.is_standard_land ? '是' : '否']];
  if (it && it.expected_price_wan != null) rows.push(['预计价格', wan(it.expected_price_wan)]);
  const dl = el('dl');
  for (const [k, v] of rows) dl.append(el('dt', { text: k }), el('dd', { text: v }));
  return el('div', { class: 'parcel-popup' }, [
    el('h3', { text: `可供宗地 ${p.code}` }), dl,
    el('a', { class: 'btn btn-small', href: `/land/${encodeURIComponent(p.code)}`, text: '查看详情' }),
  ]);
}

// ---- start -------------------------------------------------------------------------------

places = await jurisdictionList().catch(() => places);
fillPlaces();
for (const k of FIELDS) if (form.elements[k] && filters[k]) form.elements[k].value = filters[k];
const listed = load();
try {
  map = await createMap('map', { expose: 'landcycleMap' });
  await addParcelTiles(map, { layer: 'supply', styleBy: 'state' });
  onParcelClick(map, (p, lngLat) => {
    select(items.find((i) => i.code === p.code) || { code: p.code });
    openPopup(map, lngLat, popupFor(p), { onClose: () => select(null) });
  });
  await listed;
  await updateMap(lastData, loadSeq);
  zoomToFilters();
} catch (err) {
  console.error(err);
  const node = $('map-message');
  node.textContent = err.message || '地图无法显示。';
  node.hidden = false;
}
