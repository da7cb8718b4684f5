/*
 * 增存挂钩 (/work/quota): a year's allocation of new construction-land quota among the counties
 * from GET /api/quota/{year} (the latest stored run with every figure behind it, and the list
 * of runs; 404 when the year has none). For the city admin: 试算 (GET …/preview?total_mu=&as_of=,
 * not stored) and 保存分配 (POST /api/quota/{year} {total_mu, reason, as_of}); 422 problems appear next to
 * the field, a 403 as the API's message. The year lives in the URL.
 */
import { $, api, clearProblems, date, el, factList, fillYearOptions, mu, muCell, num, pct, query, renderShell, say, showProblems } from './common.js';

const PARAM_LABEL = {
  base_share: '基础份额（平均分配）', revived_share: '盘活面积份额', rate_share: '消化处置率份额',
  kaoping_share: '上年考评得分份额', floor_share: '每县下限（占总量）', cap_share: '每县上限（占总量）',
  unit_mu: '取整单位（亩）', require_revival: '未盘活的县不分配', zones_only: '只计产业集聚区内',
};
const BOUND_LABEL = { floor: '下限', cap: '上限' };
const state = { year: '' };
let user = null;
let loadSeq = 0;

function readUrl() {
  const y = Number(new URLSearchParams(location.search).get('year'));
  state.year = Number.isInteger(y) && y >= 2000 && y <= 2100 ? String(y) : String(new Date().getFullYear());
}


function paramText(key, v) {
  if (typeof v === 'boolean') return v ? '是' : '否';
  if (key.endsWith('_share')) return pct(v, 0);
  return num(v);
}

/** One allocation (stored run or preview): per-county table, totals, formula text, parameters. */
function allocationView(run, id) {
  const t = el('table', { class: 'data-table quota-table', id });
  t.append(el('caption', { text: `${run.year} 年度新增建设用地指标 ${num(run.total_mu)} 亩（数据截至 ${run.as_of}）` }));
  const heads = [['县（市、区）', ''], ['认定低效闲置（亩）', 'num'], ['已盘活（亩）', 'num'], ['消化处置率', 'num'],
    ['考评总分', 'num'], ['权重', 'num'], ['应分（亩）', 'num'], ['分得（亩）', 'num'], ['说明', '']];
  t.append(el('thead', null, [el('tr', null, heads.map(([h, c]) => el('th', { scope: 'col', class: c || null, text: h })))]));
  const tbody = el('tbody');
  for (const c of run.counties) {
    const notes = [];
    if (!c.participates) notes.push(el('span', { class: 'tag tag-warn', text: '未参与' }));
    if (c.bound) notes.push(el('span', { class: 'tag', text: `按${BOUND_LABEL[c.bound] || c.bound}` }));
    tbody.append(el('tr', { dataset: { code: c.code } }, [
      el('td', { class: 'name', text: c.name }),
      el('td', { class: 'num', text: muCell(c.identified_mu) }),
      el('td', { class: 'num', text: muCell(c.revived_mu) }),
      el('td', { class: 'num', text: c.identified_mu ? pct(c.rate) : '无数据' }),
      el('td', { class: 'num', text: num(c.kaoping) }),
      el('td', { class: 'num', text: pct(c.weight, 2) }),
      el('td', { class: 'num', text: muCell(c.exact_mu) }),
      el('td', { class: 'num allocated', text: num(c.allocated_mu) }),
      el('td', null, notes.length ? notes : ['—']),
    ]));
  }
  t.append(tbody);
  const sum = (k) => run.counties.reduce((a, c) => a + (c[k] || 0), 0);
  t.append(el('tfoot', null, [el('tr', null, [
    el('td', { text: '合计' }), el('td', { class: 'num', text: muCell(sum('identified_mu')) }),
    el('td', { class: 'num', text: muCell(sum('revived_mu')) }), el('td', { text: '' }), el('td', { text: '' }),
    el('td', { class: 'num', text: pct(sum('weight'), 2) }), el('td', { class: 'num', text: muCell(sum('exact_mu')) }),
    el('td', { class: 'num', id: `${id}-total`, text: num(sum('allocated_mu')) }), el('td', { text: '' }),
  ])]));
  const params = Object.entries(run.parameters).map(([k, v]) => [PARAM_LABEL[k] || k, paramText(k, v)]);
  return el('div', { class: 'allocation' }, [
    el('div', { class: 'table-wrap' }, [t]),
    el('h3', { text: '分配说明' }),
    el('ol', { class: 'explanation' }, (run.explanation || []).map((line) => el('li', { text: line }))),
    el('p', { class: 'muted basis', text: run.basis || '' }),
    el('details', { class: 'params' }, [el('summary', { text: '所用参数（规则库 [quota]）' }), factList(params)]),
  ]);
}

function runFacts(run) {
  return factList([
    ['分配编号', String(run.id)], ['指标总量', mu(run.total_mu)], ['分得合计', mu(run.allocated_total_mu)],
    ['计算人', run.actor], ['保存时间', date(run.at)], ['原因', run.reason || '—'], ['规则库版本', run.rulebook_version],
  ], 'facts run-facts');
}

function renderRuns(runs) {
  $('runs-panel').hidden = !runs.length;
  const t = el('table', { class: 'data-table', id: 'runs-table' });
  t.append(el('thead', null, [el('tr', null, ['编号', '指标总量（亩）', '数据截至', '计算人', '保存时间', '原因']
    .map((h) => el('th', { scope: 'col', text: h })))]));
  t.append(el('tbody', null, runs.map((r) => el('tr', { dataset: { run: r.id } }, [
    el('td', { class: 'num', text: String(r.id) }), el('td', { class: 'num', text: num(r.total_mu) }),
    el('td', { text: r.as_of }), el('td', { text: r.actor }), el('td', { text: date(r.at) }), el('td', { text: r.reason || '—' }),
  ]))));
  $('runs').replaceChildren(t);
}

async function load() {
  $('year').value = state.year;
  history.replaceState(null, '', location.pathname + query({ year: state.year }));
  const seq = ++loadSeq;
  say($('message'), '');
  $('preview-panel').hidden = true;
  try {
    const data = await api(`/api/quota/${state.year}`);
    if (seq !== loadSeq) return;
    $('run-heading').textContent = `${state.year} 年度指标分配（最近一次）`;
    $('run-body').replaceChildren(runFacts(data), allocationView(data, 'run-table'));
    renderRuns(data.runs);
    if (!$('total_mu').value) $('total_mu').value = data.total_mu;
  } catch (err) {
    if (seq !== loadSeq) return;
    $('runs-panel').hidden = true;
    $('run-heading').textContent = `${state.year} 年度指标分配`;
    const text = err.status === 404 ? `${state.year} 年度尚未分配新增建设用地指标。` : err.message;
    $('run-body').replaceChildren(el('p', { class: 'note', id: 'run-note', text }));
  }
}

function allocateBody() {
  const raw = $('total_mu').value.trim();
  const body = { total_mu: raw === '' ? null : Number(raw) };
  const reason = $('reason').value.trim();
  if (reason) body.reason = reason;
  if ($('as_of').value) body.as_of = $('as_of').value;  // the ledger's figures of that day
  return body;
}

function showError(err) {
  const rest = showProblems($('allocate-form'), err.problems);
  say($('allocate-message'), rest.length ? rest.map((p) => p.message).join('；') : err.message, 'error');
}

async function preview() {
  const form = $('allocate-form');
  clearProblems(form);
  say($('allocate-message'), '');
  const body = allocateBody();
  try {
    const run = await api(`/api/quota/${state.year}/preview${query({ total_mu: body.total_mu, as_of: body.as_of })}`);
    $('preview-body').replaceChildren(allocationView(run, 'preview-table'));
    $('preview-panel').hidden = false;
    say($('allocate-message'), `试算完成：${num(run.total_mu)} 亩，未保存`, 'info');
  } catch (err) {
    showError(err);
  }
}

async function store(ev) {
  ev.preventDefault();
  const form = $('allocate-form');
  clearProblems(form);
  say($('allocate-message'), '');
  try {
    const run = await api(`/api/quota/${state.year}`, { method: 'POST', body: allocateBody() });
    await load();
    say($('allocate-message'), `已保存第 ${run.id} 号分配：${num(run.total_mu)} 亩`, 'ok');
  } catch (err) {
    showError(err);
  }
}

async function main() {
  user = await renderShell({ active: 'quota', requireLogin: true });
  readUrl();
  fillYearOptions($('year'), state.year);
  $('allocate-panel').hidden = user.role !== 'city_admin';
  $('year').addEventListener('change', () => {
    state.year = $('year').value;
    $('total_mu').value = '';
    load();
  });
  $('filters').addEventListener('submit', (ev) => ev.preventDefault());
  $('preview').addEventListener('click', preview);
  $('allocate-form').addEventListener('submit', store);
  await load();
}

main();
