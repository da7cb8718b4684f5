/*
 * 宗地地图 (/work/map, signed in): the parcels of the caller's jurisdiction from the scoped
 * `parcels` tile layer (the session cookie goes with every tile request, so the server
 * decides what is drawn), styled by 状态 / 低效类别 / 企业分类(A/B/C) with a legend;
 * filters county / zone / state; a click opens a popup linking to the 一宗一卡.
 *
 * Calls: /api/auth/me (shell), /api/meta/states, /api/jurisdictions, /tiles/parcels.json and
 * its tiles (through mapkit.js).
 */
import { $, api, el, mu, renderShell } from './common.js';
import {
  addParcelTiles, colorOf, createMap, featureBounds, highlightParcel, jurisdictionList, onParcelClick,
  openPopup, renderLegend, renderedParcels, setParcelFilter, setParcelStyle, swatch,
} from './mapkit.js';

const user = await renderShell({ active: 'map', requireLogin: true });
const filters = { county: '', zone: '', state: '' };
let styleBy = 'state';
let map = null;
let places = { counties: [], zones: [], byCode: {} };

function message(text) {
  const node = $('map-message');
  node.textContent = text || '';
  node.hidden = !text;
}

/** Counties and zones the user's jurisdiction covers (the tiles are scoped anyway). */
function ownPlaces(all) {
  const name = user.jurisdiction_name;
  if (user.everywhere || !name) return all;
  const zone = all.zones.find((z) => z.properties.name === name);
  if (zone) {
    return { ...all, counties: all.counties.filter((c) => c.properties.code === zone.properties.county_code),
      zones: [zone], home: zone };
  }
  const county = all.counties.find((c) => c.properties.name === name);
  if (county) {
    return { ...all, counties: [county],
      zones: all.zones.filter((z) => z.properties.county_code === county.properties.code), home: county };
  }
  return all;
}

function fillSelects(states) {
  const county = $('filter-county');
  county.replaceChildren(el('option', { value: '', text: '全部县区' }),
    ...places.counties.map((f) => el('option', { value: f.properties.code, text: f.properties.name })));
  fillZones();
  $('filter-state').replaceChildren(el('option', { value: '', text: '全部状态' }),
    ...states.map((s) => el('option', { value: s.value, text: s.label })));
  if (places.counties.length === 1) county.value = filters.county = places.counties[0].properties.code;
  if (places.zones.length === 1) $('filter-zone').value = filters.zone = places.zones[0].properties.code;
}

function fillZones() {
  const select = $('filter-zone');
  const keep = select.value;
  const zones = places.zones.filter((z) => !filters.county || z.properties.county_code === filters.county);
  select.replaceChildren(el('option', { value: '', text: '全部产业集聚区' }),
    ...zones.map((f) => el('option', { value: f.properties.code, text: f.properties.name })));
  select.value = zones.some((z) => z.properties.code === keep) ? keep : '';
  filters.zone = select.value;
}

function zoomTo(code) {
  const f = code && places.byCode[code];
  const b = f && featureBounds(f);
  if (map && b) map.fitBounds(b, { padding: 30, maxZoom: 15, duration: 500 });
}

function applyFilters() {
  if (map) setParcelFilter(map, filters);
}

function updateStatus() {
  if (!map) return;
  if (map.getZoom() < map.landcycle.parcelMinZoom) {
    $('status').textContent = '放大地图以查看宗地（14 级以上显示宗地）';
    return;
  }
  const drawn = renderedParcels(map);
  const area = drawn.reduce((s, p) => s + (Number(p.area_mu) || 0), 0);
  $('status').replaceChildren('当前视野内 ', el('strong', { text: drawn.length.toLocaleString('zh-CN') }),
    ` 宗，合计 ${mu(Math.round(area * 100) / 100)}`);
}

function popupFor(p) {
  const rows = [
    ['状态', [swatch(colorOf(p, 'state')), p.state_label || p.state || '—']],
    ['面积', p.area_mu != null ? mu(p.area_mu) : '—'],
    ['集聚区', p.zone_name || '—'],
    ['县区', p.county_name || '—'],
  ];
  if (p.inefficiency_label) rows.push(['低效类别', [swatch(colorOf(p, 'category')), p.inefficiency_label]]);
  if (p.eval_class) rows.push(['企业分类', [swatch(colorOf(p, 'class')), p.eval_class_label || p.eval_class]]);
  const dl = el('dl');
  for (const [k, v] of rows) dl.append(el('dt', { text: k }), el('dd', null, v));
  return el('div', { class: 'parcel-popup' }, [
    el('h3', { text: `宗地 ${p.code}` }), dl,
    el('a', { class: 'btn btn-small', href: `/work/parcels/${encodeURIComponent(p.code)}`, text: '一宗一卡' }),
  ]);
}

function setStyle(value) {
  styleBy = value;
  renderLegend($('legend'), styleBy);
  $('legend-note').hidden = styleBy !== 'class';
  if (map) setParcelStyle(map, styleBy);
}

// ---- controls --------------------------------------------------------------------------

$('filter-county').addEventListener('change', (e) => {
  filters.county = e.target.value;
  fillZones();
  applyFilters();
  zoomTo(filters.zone || filters.county);
});
$('filter-zone').addEventListener('change', (e) => {
  filters.zone = e.target.value;
  applyFilters();
  zoomTo(filters.zone || filters.county);
});
$('filter-state').addEventListener('change', (e) => {
  filters.state = e.target.value;
  applyFilters();
});
$('map-filters').addEventListener('reset', (e) => {
  e.preventDefault();
  filters.county = places.counties.length === 1 ? places.counties[0].properties.code : '';
  filters.state = '';
  $('filter-county').value = filters.county;
  $('filter-state').value = '';
  fillZones();
  if (places.zones.length === 1) $('filter-zone').value = filters.zone = places.zones[0].properties.code;
  applyFilters();
});
for (const radio of document.querySelectorAll('input[name="style"]')) {
  radio.addEventListener('change', (e) => { if (e.target.checked) setStyle(e.target.value); });
}
setStyle('state');

// ---- start -----------------------------------------------------------------------------

const [states, all] = await Promise.all([
  api('/api/meta/states').catch(() => []),
  jurisdictionList().catch(() => ({ counties: [], zones: [], byCode: {} })),
]);
places = ownPlaces(all);
fillSelects(states);
if (places.home) $('scope-note').textContent = `显示${places.home.properties.name}范围内的全部宗地。`;
try {
  const home = places.home && featureBounds(places.home);
  map = await createMap('map', { bounds: home || undefined, expose: 'landcycleMap', hash: !home });
  const doc = await addParcelTiles(map, { layer: 'parcels', styleBy });
  // A zone fits in one screen at the parcels' first zoom level: start where they show.
  if (places.home && places.home.properties.kind === 'zone' && map.getZoom() < doc.minzoom) map.setZoom(doc.minzoom);
  applyFilters();
  map.on('idle', updateStatus);
  map.on('moveend', updateStatus);
  onParcelClick(map, (p, lngLat) => {
    highlightParcel(map, p.code);
    openPopup(map, lngLat, popupFor(p), { onClose: () => highlightParcel(map, '') });
  });
  updateStatus();
} catch (err) {
  console.error(err);
  message(err.message || '地图无法显示。');
  $('status').textContent = '地图不可用';
}
