/*
 * One parcel of the published supply list (/land/{code}, no sign-in): every public fact —
 * area, planning conditions, 标准地 indicators, expected price, supply conditions, procedure and
 * cycle, suitable industries, land source, a public office to call — and a small map of the
 * parcel among the other listed parcels. Printable (A4, the map as drawn).
 *
 * Calls: /api/supply/{code} (404 for a parcel not on the list), the public `supply` tiles.
 */
import { $, api, date, el, factList, mu, num, pathKey, renderShell, say, wan } from './common.js';
import { addParcelTiles, createMap, highlightParcel, showFeature } from './mapkit.js';

await renderShell({ active: 'portal' });
const code = pathKey();

const ratio = (v) => (v == null ? null : `${num(v * 100, 1)}%`);
const dash = (v) => (v == null || v === '' ? null : v);

function tags(list, cls = 'tag') {
  if (!list || !list.length) return null;
  return el('span', { class: 'tag-list' }, list.map((s) => el('span', { class: cls, text: s })));
}

function render(d) {
  document.title = `可供宗地 ${d.code} · 许昌市产业集聚区土地全生命周期管理平台`;
  $('land-title').textContent = `可供宗地 ${d.code}`;
  $('land-lead').textContent = [d.location, d.list_year ? `${d.list_year} 年度可供土地清单` : ''].filter(Boolean).join(' · ');
  $('facts-basic').replaceChildren(factList([
    ['宗地代码', d.code],
    ['坐落', dash(d.location)],
    ['面积', `${mu(d.area_mu)}（${num(d.area_m2)} 平方米）`],
    ['所在县(市、区)', d.county_name],
    ['所在产业集聚区', dash(d.zone_name)],
    ['土地用途', dash(d.land_use_label)],
    ['土地来源', dash(d.land_source_label)],
    ['是否标准地', d.is_standard_land ? '是' : '否'],
    ['适宜产业', tags(d.suitable_industries, 'tag tag-industry')],
  ]));
  const plot = d.plot_ratio_min != null || d.plot_ratio_max != null
    ? `${num(d.plot_ratio_min)} – ${num(d.plot_ratio_max)}` : null;
  $('facts-planning').replaceChildren(factList([
    ['容积率', plot],
    ['建筑密度', d.building_density_min != null ? `不低于 ${ratio(d.building_density_min)}` : null],
    ['绿地率', d.green_ratio_max != null ? `不高于 ${ratio(d.green_ratio_max)}` : null],
    ['建筑限高', d.height_limit_m != null ? `${num(d.height_limit_m)} 米` : null],
  ]));
  const std = $('facts-standard');
  if (d.standard_indicators && d.standard_indicators.length) {
    std.replaceChildren(
      el('p', { class: 'muted small', text: `项目类别：${d.standard_land_class_label || '—'}。受让人须在出让合同和履约监管协议中承诺达到以下指标。` }),
      el('table', { class: 'data-table' }, [
        el('thead', null, [el('tr', null, [el('th', { scope: 'col', text: '指标' }), el('th', { scope: 'col', class: 'num', text: '要求' })])]),
        el('tbody', null, d.standard_indicators.map((r) => el('tr', null, [
          el('td', { text: r.label }),
          el('td', { class: 'num', text: `${r.bound} ${r.percent ? ratio(r.value) : `${num(r.value)}${r.unit ? ' ' + r.unit : ''}`}` }),
        ]))),
      ]));
  } else {
    std.replaceChildren(el('p', { class: 'muted', text: d.is_standard_land ? '控制指标以出让公告为准。' : '本宗地不按“标准地”供应。' }));
  }
  $('facts-supply').replaceChildren(factList([
    ['供地方式', dash(d.supply_method_label)],
    ['预计价格（起始价）', d.expected_price_wan != null
      ? `${wan(d.expected_price_wan)}（约 ${num(d.expected_price_wan / d.area_mu)} 万元/亩）` : '待定'],
    ['供地条件', dash(d.supply_conditions)],
    ['供应程序', dash(d.supply_procedure)],
    ['供地周期', dash(d.supply_cycle)],
    ['清单公布日期', d.published_at ? date(d.published_at.slice(0, 10)) : null],
  ]));
  $('facts-contact').replaceChildren(factList([
    ['咨询单位', dash(d.contact_office)],
    ['咨询电话', d.contact_phone ? el('a', { href: `tel:${d.contact_phone}`, text: d.contact_phone }) : null],
  ]));
  $('land-body').hidden = false;
}

async function drawMap(d) {
  try {
    const map = await createMap('land-map', { expose: 'landcycleMap', controls: true });
    await addParcelTiles(map, { layer: 'supply', styleBy: 'state' });
    highlightParcel(map, d.code);
    showFeature(map, { type: 'Feature', geometry: d.geometry, properties: {} }, { padding: 60, maxZoom: 15.5 });
  } catch (err) {
    console.error(err);
    $('map-message').textContent = err.message || '地图无法显示。';
    $('map-message').hidden = false;
  }
}

$('print').addEventListener('click', () => window.print());

try {
  const d = await api(`/api/supply/${encodeURIComponent(code)}`);
  render(d);
  await drawMap(d);
} catch (err) {
  $('land-title').textContent = '未找到可供宗地';
  say($('land-message'), err.status === 404
    ? `宗地“${code}”不在已公布的可供土地清单上。请返回清单查看其他宗地。`
    : err.message, 'error');
}
