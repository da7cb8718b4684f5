/*
 * 驾驶舱 (/work): GET /api/dashboard for the caller's jurisdiction, drawn with Apache ECharts
 * (vendored, canvas renderer, global `echarts` from /static/vendor/echarts/echarts.min.js).
 * Every chart has a text summary (aria-describedby) and a data table; the key numbers are cards.
 * The 消化处置率 and 盘活面积 are the 处置台账's as of today (the caller's row: city / own county /
 * own zone — services/dashboard.py), the platform's one definition; `d.disposal` is null for
 * callers who do not read the ledgers (enterprises).
 */
import { $, api, el, mu, num, renderShell, say, table } from './common.js';

const VERDICT_COLORS = { below: '#c0392b', met: '#1b7837', above: '#1d5fa8', unknown: '#9aa3b2' };
const CLASS_COLORS = { A: '#1b7837', B: '#1d5fa8', C: '#c0392b', not_evaluated: '#9aa3b2' };
const CLASS_LABELS = { A: 'A类 优先发展', B: 'B类 鼓励提升', C: 'C类 倒逼转型', not_evaluated: '不参评 按B类管理' };
const LAND_COLORS = ['#8c564b', '#d62728', '#ff7f0e', '#bcbd22', '#9467bd', '#e377c2', '#7f7f7f'];
const FONT = '"Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", sans-serif';
const charts = [];

function chartAt(id) {
  const node = $(id);
  const chart = echarts.init(node, null, { renderer: 'canvas', locale: 'ZH' });
  charts.push(chart);
  return chart;
}

function emptyChart(id, text) {
  $(id).replaceChildren(el('div', { class: 'chart-empty', text }));
}

function tier(z) {
  if (z.tax_target_min_wan == null) return '—';
  return z.tax_target_max_wan == null ? `≥${num(z.tax_target_min_wan)}` : `${num(z.tax_target_min_wan)}–${num(z.tax_target_max_wan)}`;
}

function kpi(label, value, sub, good) {
  return el('div', { class: 'kpi', dataset: good == null ? {} : { good: String(good) } }, [
    el('span', { class: 'k', text: label }), el('span', { class: 'v', text: value }),
    sub ? el('span', { class: 's', text: sub }) : null,
  ]);
}

function goalPct(dr) {
  return Math.round(dr.goal * 100);
}

function disposalKpi(dr) {
  if (!dr) return kpi('消化处置率', '—', '处置台账仅供政府部门查看');
  return kpi('消化处置率', dr.label,
    `目标 ≥ ${goalPct(dr)}%；已处置 ${num(dr.disposed)} / 认定 ${num(dr.identified)} ${dr.unit}（处置台账）`,
    dr.met == null ? null : dr.met);
}

function revivedKpi(dr) {
  if (!dr) return null;
  const share = dr.goal_revived_mu > 0 ? dr.revived_mu / dr.goal_revived_mu : null;
  return kpi('盘活存量用地', mu(dr.revived_mu),
    `全市目标 ${num(dr.goal_revived_mu / 10000, 2)} 万亩${dr.level === 'city' && share != null ? `，已完成 ${(share * 100).toFixed(1)}%` : ''}`);
}

function renderKpis(d) {
  const dr = d.disposal;
  const zones = d.zones.filter((z) => z.zone_id != null);
  const known = zones.filter((z) => z.target_verdict !== 'unknown');
  const okZones = known.filter((z) => z.target_verdict !== 'below').length;
  const c = d.classes;
  $('kpis').replaceChildren(...[
    disposalKpi(dr),
    revivedKpi(dr),
    kpi('闲置用地', mu(d.land.total.idle_area_mu), `${d.land.total.idle_parcels} 宗（现状）`),
    kpi('低效用地', mu(d.land.total.inefficient_area_mu), `${d.land.total.inefficient_parcels} 宗（现状）`),
    kpi('亩均税收达到目标档次', known.length ? `${okZones} / ${known.length}` : '无数据',
      d.run ? `${d.run.year}年度评价（截至 ${d.run.as_of}）` : '尚无年度评价', known.length ? okZones === known.length : null),
    kpi('参评企业分类', `A ${c.A} · B ${c.B} · C ${c.C}`, `不参评 ${c.not_evaluated} 家（按B类管理）`),
  ].filter(Boolean));
}

function renderTax(d) {
  const zones = d.zones.filter((z) => z.zone_id != null || z.tax_per_mu_wan != null);
  $('tax-table').replaceChildren(table([
    { label: '产业集聚区', value: (z) => z.name },
    { label: '亩均税收（万元/亩）', num: true, value: (z) => num(z.tax_per_mu_wan) },
    { label: '目标档次（万元/亩）', value: tier },
    { label: '对照目标', value: (z) => z.target_label },
  ], zones, { caption: d.run ? `${d.run.year}年度评价` : '尚无年度评价' }));
  $('tax-alt-summary').textContent = zones.length
    ? zones.map((z) => `${z.name}：亩均税收 ${num(z.tax_per_mu_wan)} 万元/亩，目标 ${tier(z)}，${z.target_label}`).join('；')
    : '尚无年度评价数据';
  if (!zones.length) {
    emptyChart('chart-tax', d.run ? '本辖区没有评价数据' : '尚无年度评价（landcycle evaluate）');
    return;
  }
  const names = zones.map((z) => z.name).reverse();
  const rows = [...zones].reverse();
  const chart = chartAt('chart-tax');
  chart.setOption({
    textStyle: { fontFamily: FONT },
    animation: false,
    grid: { left: 8, right: 30, top: 8, bottom: 8, containLabel: true },
    tooltip: {
      trigger: 'axis', axisPointer: { type: 'shadow' },
      formatter: (ps) => {
        const z = rows[ps[0].dataIndex];
        return `${z.name}<br>亩均税收：${num(z.tax_per_mu_wan)} 万元/亩<br>目标档次：${tier(z)}<br>${z.target_label}`;
      },
    },
    xAxis: { type: 'value' },
    yAxis: { type: 'category', data: names, axisLabel: { width: 150, overflow: 'truncate' } },
    series: [
      { name: '亩均税收', type: 'bar', barWidth: '55%', barMaxWidth: 26, itemStyle: { color: VERDICT_COLORS.met },
        data: rows.map((z) => ({ value: z.tax_per_mu_wan, itemStyle: { color: VERDICT_COLORS[z.target_verdict] } })),
        label: { show: true, position: 'right', formatter: (p) => num(p.value, 1) } },
      { name: '目标下限', type: 'scatter', symbol: 'rect', symbolSize: [3, 18], itemStyle: { color: '#222' },
        data: rows.map((z) => z.tax_target_min_wan), z: 5 },
      { name: '目标上限', type: 'scatter', symbol: 'rect', symbolSize: [3, 18], itemStyle: { color: '#b54708' },
        data: rows.map((z) => z.tax_target_max_wan ?? null), z: 5 },
    ],
  });
}

function renderClasses(d) {
  const c = d.classes;
  const keys = ['A', 'B', 'C', 'not_evaluated'];
  const total = keys.reduce((a, k) => a + (c[k] || 0), 0);
  $('class-table').replaceChildren(table([
    { label: '类别', value: (k) => CLASS_LABELS[k] },
    { label: '企业数（家）', num: true, value: (k) => String(c[k] || 0) },
    { label: '占比', num: true, value: (k) => (total ? `${((c[k] || 0) / total * 100).toFixed(1)}%` : '—') },
  ], keys));
  $('class-alt-summary').textContent = total
    ? keys.map((k) => `${CLASS_LABELS[k]} ${c[k] || 0} 家`).join('，')
    : '尚无企业分类数据';
  if (!total) {
    emptyChart('chart-class', '尚无企业分类数据');
    return;
  }
  const chart = chartAt('chart-class');
  chart.setOption({
    textStyle: { fontFamily: FONT },
    animation: false,
    tooltip: { trigger: 'item', formatter: (p) => `${p.name}：${p.value} 家（${p.percent}%）` },
    legend: { orient: 'vertical', right: 8, top: 'middle' },
    series: [{
      name: '企业分类', type: 'pie', radius: ['38%', '68%'], center: ['36%', '52%'],
      label: { formatter: (p) => `${p.name.split(' ')[0]}\n${p.value} 家` },
      data: keys.map((k) => ({ name: CLASS_LABELS[k], value: c[k] || 0, itemStyle: { color: CLASS_COLORS[k] } })),
    }],
  });
}

function renderLand(d) {
  const cats = d.land.categories;
  const zones = d.land.zones;
  const cols = [
    { label: '产业集聚区', value: (z) => z.name },
    { label: '闲置', num: true, value: (z) => num(z.idle_area_mu, 1) },
    ...cats.map((c) => ({ label: c.label, num: true, value: (z) => num(z.categories[c.value], 1) })),
    { label: '低效合计（去重）', num: true, value: (z) => num(z.inefficient_area_mu, 1) },
  ];
  const totalRow = { name: '合计', idle_area_mu: d.land.total.idle_area_mu, categories: d.land.total.categories,
    inefficient_area_mu: d.land.total.inefficient_area_mu };
  $('land-table').replaceChildren(table(cols, zones.length ? [...zones, totalRow] : [],
    { caption: '单位：亩；一宗地可属多个低效类别，各类别面积可重叠' }));
  $('land-alt-summary').textContent = `闲置 ${num(d.land.total.idle_area_mu, 1)} 亩；`
    + cats.map((c) => `${c.label} ${num(d.land.total.categories[c.value], 1)} 亩`).join('，');
  if (!zones.length) {
    emptyChart('chart-land', '本辖区现无闲置、低效用地');
    return;
  }
  const rows = [...zones].reverse();
  const series = [
    { name: '闲置', key: (z) => z.idle_area_mu },
    ...cats.map((c) => ({ name: `低效·${c.label}`, key: (z) => z.categories[c.value] })),
  ].map((s, i) => ({
    name: s.name, type: 'bar', stack: 'area', barWidth: '55%', barMaxWidth: 26, itemStyle: { color: LAND_COLORS[i % LAND_COLORS.length] },
    emphasis: { focus: 'series' }, data: rows.map((z) => Math.round(s.key(z) * 10) / 10),
  }));
  const chart = chartAt('chart-land');
  chart.setOption({
    textStyle: { fontFamily: FONT },
    animation: false,
    grid: { left: 8, right: 20, top: 52, bottom: 8, containLabel: true },
    legend: { top: 0, itemWidth: 14, itemHeight: 10, textStyle: { fontSize: 11 } },
    tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' }, valueFormatter: (v) => `${num(v, 1)} 亩` },
    xAxis: { type: 'value' },
    yAxis: { type: 'category', data: rows.map((z) => z.name), axisLabel: { width: 150, overflow: 'truncate' } },
    series,
  });
}

const LEVELS = { city: '全市', county: '本县（市、区）', zone: '本产业集聚区' };

function renderDisposal(d) {
  const dr = d.disposal;
  if (!dr) {
    $('disposal-table').replaceChildren(el('p', { text: '处置台账为政府工作台账，本账号无权查看。' }));
    $('disposal-alt-summary').textContent = '消化处置率：无权查看';
    emptyChart('chart-disposal', '处置台账仅供政府部门查看');
    return;
  }
  const who = `${LEVELS[dr.level] || ''}${dr.name ? `（${dr.name}）` : ''}`;
  $('disposal-table').replaceChildren(
    el('p', { class: 'disposal-scope', text: `${who}，处置台账截至 ${dr.as_of}。` }),
    el('p', { class: 'disposal-formula', text: dr.definition }),
    table([
      { label: '项目', value: (r) => r[0] },
      { label: '数值', num: true, value: (r) => r[1] },
    ], [
      ['认定的低效、闲置用地', `${num(dr.identified)} ${dr.unit}`],
      ['已消化处置', `${num(dr.disposed)} ${dr.unit}`],
      ['消化处置率', dr.label],
      ['目标', `≥ ${goalPct(dr)}%`],
      ['盘活面积', `${num(dr.revived_mu)} 亩`],
      ['全市盘活目标', `${num(dr.goal_revived_mu)} 亩`],
      ['台账（已立账 / 已办结）', `${dr.entries} / ${dr.closed_entries} 条`],
    ]),
  );
  $('disposal-heading').after(el('p', { class: 'disposal-link', id: 'disposal-ledger-link' }, [
    el('a', { href: dr.ledger_url, text: '查看处置台账和各产业集聚区、县（市、区）进度 →' })]));
  $('disposal-alt-summary').textContent = (dr.rate == null
    ? '消化处置率：无数据（本辖区处置台账没有认定的低效、闲置用地）'
    : `消化处置率 ${dr.label}，目标 ${goalPct(dr)}%，${dr.met ? '已达到' : '未达到'}目标`)
    + `；盘活面积 ${num(dr.revived_mu)} 亩，全市目标 ${num(dr.goal_revived_mu)} 亩`;
  const goal = dr.goal;
  const series = [{
    name: '盘活面积', type: 'bar', xAxisIndex: 0, yAxisIndex: 0, barWidth: 26,
    itemStyle: { color: '#1d5fa8' }, data: [Math.round(dr.revived_mu * 10) / 10],
    label: { show: true, position: 'right', formatter: (p) => `${num(p.value, 1)} 亩` },
    markLine: { symbol: 'none', silent: true, lineStyle: { color: '#b54708', type: 'dashed' },
      label: { formatter: `目标 ${num(dr.goal_revived_mu / 10000, 2)} 万亩`, position: 'end', color: '#b54708' },
      data: [{ xAxis: dr.goal_revived_mu }] },
  }];
  if (dr.rate != null) {
    series.unshift({
      name: '消化处置率', type: 'gauge', min: 0, max: 100, splitNumber: 10, radius: '70%', center: ['50%', '40%'],
      axisLine: { lineStyle: { width: 16, color: [[goal, '#f2b8b0'], [1, '#a9d8b2']] } },
      pointer: { width: 6, length: '55%', itemStyle: { color: dr.met ? '#1b7837' : '#c0392b' } },
      axisTick: { distance: -16, length: 6 },
      splitLine: { distance: -16, length: 16, lineStyle: { color: '#fff', width: 2 } },
      axisLabel: { distance: 22, formatter: (v) => (v % 20 === 0 || v === goal * 100 ? `${v}%` : '') },
      title: { offsetCenter: [0, '78%'], fontSize: 13, color: '#5c6370' },
      detail: { valueAnimation: false, offsetCenter: [0, '48%'], fontSize: 24, fontWeight: 'bold',
        formatter: () => dr.label, color: dr.met ? '#1b7837' : '#c0392b' },
      data: [{ value: Math.round(dr.rate * 1000) / 10, name: dr.met ? '已达到目标' : '未达到目标' }],
    });
  }
  const chart = chartAt('chart-disposal');
  chart.setOption({
    textStyle: { fontFamily: FONT },
    animation: false,
    title: dr.rate == null ? { text: '消化处置率：无数据', subtext: '本辖区处置台账没有认定的低效、闲置用地',
      left: 'center', top: '25%', textStyle: { fontSize: 16, color: '#5c6370' } } : undefined,
    tooltip: { trigger: 'item' },
    grid: { left: 70, right: 40, bottom: 24, height: 34 },
    xAxis: { type: 'value', min: 0, max: Math.max(dr.goal_revived_mu, dr.revived_mu) || 1, splitNumber: 4,
      axisLabel: { showMaxLabel: false, formatter: (v) => (v >= 10000 ? `${num(v / 10000, 1)}万` : String(v)) } },
    yAxis: { type: 'category', data: ['盘活面积'] },
    series,
  });
}

async function main() {
  const user = await renderShell({ active: 'dashboard', requireLogin: true });
  if (user.jurisdiction_name) $('lead').textContent = `${user.jurisdiction_name}：亩均效益、企业分类、闲置低效用地和消化处置进度。`;
  if (typeof echarts === 'undefined') {
    say($('message'), '图表库未加载（请运行 make static 构建前端依赖）；下面只显示数据表。', 'warn');
  }
  let d;
  try {
    d = await api('/api/dashboard');
  } catch (err) {
    say($('message'), err.message, 'error');
    return;
  }
  renderKpis(d);
  for (const draw of [renderTax, renderClasses, renderLand, renderDisposal]) {
    try {
      draw(d);
    } catch (err) {
      say($('message'), `图表绘制失败：${err.message}`, 'error');
    }
  }
  document.body.dataset.ready = 'true';
  window.addEventListener('resize', () => charts.forEach((c) => c.resize()));
}

main();
