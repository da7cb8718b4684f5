/*
 * 处置台账 (/work/disposal): the 批而未供 / 闲置 / 低效 disposal ledger of the caller's jurisdiction
 * (GET /api/disposal/entries, one page at a time with `overdue=true` as the 逾期 filter and the
 * API's `totals` over the whole filtered set: count, 亩, open, overdue) and its Excel
 * (GET /api/disposal/entries.xlsx, same filters). An entry's detail
 * (GET /api/disposal/entries/{id}): facts, 一宗一策 edit (PATCH with If-Match; 409 → message and
 * the current record), progress reports (POST …/reports), 办结 with an outcome (POST …/close).
 * 从评价结果建立台账 (POST /api/disposal/from-evaluation, run from GET /api/evaluations).
 * 进度 (GET /api/disposal/progress?as_of=): 消化处置率 per zone / county / city against the goal.
 * Forms are offered to the writing roles only; the API still decides (403/422/409 are shown).
 * The filters, the open entry and the progress day live in the URL.
 */
import {
  $, api, clearProblems, el, exportFromButton, factList, focusPanel, mu, num, pct, query, rateBar, renderShell, say,
  showDetail, showProblems, todayIso, updatePager, wirePager,
} from './common.js';

const CATEGORIES = [
  ['approved_unsupplied', '批而未供'], ['idle', '闲置'], ['industry_transformation', '低效·产业转型类'],
  ['construction_stalled', '低效·停建缓建类'], ['below_contract', '低效·开发未达标类'],
  ['production_halted', '低效·停产半停产类'], ['output_shortfall', '低效·产出未达标类'], ['other', '低效·其他'],
];
const MEASURES = [['self_development', '自主开发'], ['government_reserve', '政府收储'],
  ['state_investment', '国有投资公司参与'], ['court_linkage', '府院联动司法处置']];
const OUTCOMES = [['supplied', '完成供地'], ['procedures_completed', '完善用地手续'], ['revived', '盘活'],
  ['reclaimed', '收回'], ['resupplied', '再供应'], ['judicial', '依法处置'], ['revoked', '撤销认定'], ['other', '其他']];
const STAGES = [['assessing', '研判'], ['planning', '制定方案'], ['implementing', '实施中'], ['finishing', '收尾']];
const WRITERS = ['city_admin', 'county_admin', 'zone_manager'];

const state = { category: '', status: '', county: '', zone: '', overdue: false, entry: '', as_of: '',
  limit: 50, offset: 0 };
let user = null;
let page = { items: [], total: 0, totals: null };
let loadSeq = 0;

const mayWrite = () => !!user && WRITERS.includes(user.role);
const options = (pairs, first) => [first ? el('option', { value: '', text: first }) : null,
  ...pairs.map(([v, t]) => el('option', { value: v, text: t }))];

function readUrl() {
  const q = new URLSearchParams(location.search);
  for (const k of ['category', 'status', 'county', 'zone', 'entry', 'as_of']) if (q.get(k)) state[k] = q.get(k);
  state.overdue = q.get('overdue') === '1';
  const off = Number(q.get('offset'));
  if (Number.isInteger(off) && off > 0) state.offset = off;
  if (!/^\d{4}-\d{2}-\d{2}$/.test(state.as_of)) state.as_of = todayIso();
}

function writeUrl() {
  history.replaceState(null, '', location.pathname + query({
    category: state.category, status: state.status, county: state.county, zone: state.zone,
    overdue: state.overdue ? '1' : '', offset: state.offset || '', entry: state.entry,
    as_of: state.as_of === todayIso() ? '' : state.as_of }));
}

/** The filters the API applies (list and Excel). */
function filters() {
  return { category: state.category, status: state.status, county: state.county, zone: state.zone,
    overdue: state.overdue ? 'true' : '' };
}

/** Open (处置中) and past its 完成时限 today. */
function isOverdue(e) {
  return e.status === 'open' && !!e.due_date && e.due_date < todayIso();
}

function dueCell(e) {
  if (!e.due_date) return el('span', { class: 'muted', text: '未定' });
  return el('span', null, [e.due_date, isOverdue(e) ? el('span', { class: 'tag tag-error overdue-tag', text: '逾期' }) : null]);
}

function statusCell(e) {
  if (e.status === 'closed') {
    return el('span', null, [el('span', { class: 'tag tag-ok', text: '已办结' }), ` ${e.outcome_label || ''}`,
      el('span', { class: 'muted small', text: ` ${e.closed_on || ''}` })]);
  }
  return el('span', { class: 'tag tag-progress', text: '处置中' });
}

// ---- list ------------------------------------------------------------------------------

function renderTable() {
  const rows = page.items;
  const heads = ['宗地代码', '类别', '面积（亩）', '形成原因', '处置措施', '完成时限', '牵头单位', '状态/结果', ''];
  const t = el('table', { class: 'data-table', id: 'entries-table' });
  t.append(el('caption', { text: '处置台账' }));
  t.append(el('thead', null, [el('tr', null, heads.map((h, i) => el('th', { scope: 'col', class: i === 2 ? 'num' : null, text: h })))]));
  const tbody = el('tbody');
  if (!rows.length) tbody.append(el('tr', null, [el('td', { colspan: heads.length, class: 'empty', text: '没有符合条件的台账' })]));
  for (const e of rows) {
    tbody.append(el('tr', { dataset: { entry: e.id, code: e.parcel, status: isOverdue(e) ? 'overdue' : e.status } }, [
      el('td', { class: 'code' }, [el('a', { href: `/work/parcels/${encodeURIComponent(e.parcel)}`, text: e.parcel })]),
      el('td', { class: 'category', text: e.category_label }),
      el('td', { class: 'num area', text: num(e.area_mu, 2) }),
      el('td', { class: 'cause', text: e.cause || '—' }),
      el('td', { class: 'measure', text: e.measure_label || '待研判' }),
      el('td', { class: 'due' }, [dueCell(e)]),
      el('td', { class: 'lead', text: e.lead_unit || '—' }),
      el('td', { class: 'state' }, [statusCell(e)]),
      el('td', null, [el('button', { type: 'button', class: 'btn btn-small btn-secondary entry-open', text: '详情',
        'aria-label': `查看台账 ${e.id}（${e.parcel} ${e.category_label}）`, onclick: () => openEntry(e.id) })]),
    ]));
  }
  t.append(tbody);
  $('table-wrap').replaceChildren(t);
  const totals = page.totals;
  $('summary').replaceChildren(
    '共 ', el('strong', { id: 'total-count', text: num(totals.count, 0) }), ' 条，面积合计 ',
    el('strong', { id: 'total-mu', dataset: { mu: String(totals.area_mu) }, text: mu(totals.area_mu) }),
    `，其中处置中 ${totals.open} 条、逾期 ${totals.overdue} 条（全部筛选结果，截至 ${totals.as_of}）`,
  );
  const pages = Math.max(1, Math.ceil(page.total / state.limit));
  $('page-info').textContent = `第 ${Math.floor(state.offset / state.limit) + 1} / ${pages} 页`;
  updatePager(state, page.total);
}

async function load() {
  syncControls();
  writeUrl();
  const seq = ++loadSeq;
  say($('message'), '');
  $('table-wrap').setAttribute('aria-busy', 'true');
  try {
    let got = await api(`/api/disposal/entries${query({ ...filters(), sort: '-id', limit: state.limit, offset: state.offset })}`);
    if (state.offset > 0 && state.offset >= got.total) {  // past the end after a filter change: back to page 1
      state.offset = 0;
      writeUrl();
      got = await api(`/api/disposal/entries${query({ ...filters(), sort: '-id', limit: state.limit, offset: 0 })}`);
    }
    if (seq !== loadSeq) return;
    page = got;
    renderTable();
    if (state.entry) await showEntry(state.entry);
  } catch (err) {
    if (seq === loadSeq) say($('message'), err.message, 'error');
  } finally {
    if (seq === loadSeq) $('table-wrap').removeAttribute('aria-busy');
  }
}

// ---- detail ----------------------------------------------------------------------------

function field(label, control, cls) {
  return el('div', { class: `field ${cls || ''}` }, [el('label', { for: control.id, text: label }), control]);
}

/** The API's problems next to the fields, the rest in the form's message. */
function showError(form, msg, err) {
  const rest = showProblems(form, err.problems);
  say(msg, rest.length ? rest.map((p) => p.message).join('；') : err.message, 'error');
}

function factsOf(e) {
  const f = e.facts || {};
  return factList([
    ['宗地代码', el('a', { href: `/work/parcels/${encodeURIComponent(e.parcel)}`, text: e.parcel })],
    ['坐落', f.location], ['面积', mu(e.area_mu)], ['立账时现状', f.state_label || f.state],
    ['产业集聚区', (f.zone || {}).name || '（不在产业集聚区）'], ['县（市、区）', (f.county || {}).name],
    ['土地使用权人', (f.land_users || []).join('、')],
    ['台账类别', e.category_label], ['立账日期', e.opened_on],
    ['来源', `${e.source_label}${e.source_run_id ? `（评价批次 ${e.source_run_id}）` : ''}${e.source_note ? '：' + e.source_note : ''}`],
    ['形成原因', e.cause], ['处置措施', e.measure_label || '待研判'],
    ['一宗一策', e.plan ? el('span', { class: 'plan-text', text: e.plan }) : null],
    ['完成时限', dueCell(e)], ['责任单位', e.units.length ? e.units.map((u, i) => (i ? u : `${u}（牵头）`)).join('、') : null],
    ['状态', statusCell(e)], ['办结说明', e.closing_note], ['版本', `第 ${e.version} 版`],
  ]);
}

function reportsTable(e) {
  const rows = [...e.reports].reverse();
  const t = el('table', { class: 'data-table', id: 'reports-table' });
  t.append(el('caption', { text: `进展报告（${rows.length} 次，最新在前）` }));
  const heads = ['日期', '阶段', '完成比例', '进展情况', '报送人'];
  t.append(el('thead', null, [el('tr', null, heads.map((h) => el('th', { scope: 'col', text: h })))]));
  const tbody = el('tbody');
  if (!rows.length) tbody.append(el('tr', null, [el('td', { colspan: heads.length, class: 'empty', text: '尚未报送进展' })]));
  for (const r of rows) {
    tbody.append(el('tr', { dataset: { report: r.id } }, [
      el('td', { class: 'when', text: r.reported_on }), el('td', { text: r.stage_label || '—' }),
      el('td', { class: 'num', text: r.percent == null ? '—' : `${r.percent}%` }),
      el('td', { class: 'report-text', text: r.text }), el('td', { text: r.reported_by }),
    ]));
  }
  t.append(tbody);
  return el('div', { class: 'table-wrap' }, [t]);
}

/** A form that POSTs/PATCHes `body()`; 422 next to the fields, 409 → message + current record. */
function wire(form, msg, send, done) {
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearProblems(form);
    say(msg, '');
    try {
      const saved = await send();
      await load();
      say($('detail-message'), done(saved), 'ok');
    } catch (err) {
      if (err.status === 409 && err.current) {
        await load();
        say($('detail-message'), `${err.message}。该台账已被他人修改，现显示当前第 ${err.current.version} 版，请核对后重新提交。`, 'warn');
      } else {
        showError(form, msg, err);
      }
    }
  });
  return form;
}

const val = (form, name) => form.querySelector(`[name="${name}"]`).value.trim();

function editForm(e) {
  const msg = el('p', { class: 'message', role: 'alert', hidden: true });
  const measure = el('select', { id: 'e-measure', name: 'measure' }, options(MEASURES, '待研判'));
  measure.value = e.measure || '';
  const form = el('form', { class: 'office-form', id: 'edit-form', novalidate: true }, [
    el('h3', { text: `修改一宗一策（依据第 ${e.version} 版）` }),
    el('div', { class: 'form-grid' }, [
      field('处置措施', measure),
      field('完成时限', el('input', { id: 'e-due', name: 'due_date', type: 'date', value: e.due_date || '' })),
    ]),
    field('形成原因', el('textarea', { id: 'e-cause', name: 'cause', rows: 2, maxlength: 2000, text: e.cause || '' }), 'field-block'),
    field('一宗一策处置方案', el('textarea', { id: 'e-plan', name: 'plan', rows: 3, maxlength: 4000, text: e.plan || '' }), 'field-block'),
    field('责任单位（每行一个，第一个为牵头单位）', el('textarea', { id: 'e-units', name: 'units', rows: 3, text: e.units.join('\n') }), 'field-block'),
    field('修改理由', el('input', { id: 'e-reason', name: 'reason', maxlength: 1000 }), 'field-block'),
    msg,
    el('div', { class: 'btn-row' }, [el('button', { type: 'submit', class: 'btn', text: '保存修改' })]),
  ]);
  return wire(form, msg, () => {
    const body = { cause: val(form, 'cause') || null, plan: val(form, 'plan') || null,
      measure: val(form, 'measure') || null, due_date: val(form, 'due_date') || null,
      units: val(form, 'units').split('\n').map((s) => s.trim()).filter(Boolean) };
    if (val(form, 'reason')) body.reason = val(form, 'reason');
    return api(`/api/disposal/entries/${e.id}`, { method: 'PATCH', body, version: e.version });
  }, (saved) => `已保存（第 ${saved.version} 版）`);
}

function reportForm(e) {
  const msg = el('p', { class: 'message', role: 'alert', hidden: true });
  const form = el('form', { class: 'office-form', id: 'report-form', novalidate: true }, [
    el('h3', { text: '报送进展' }),
    el('div', { class: 'form-grid' }, [
      field('报送日期', el('input', { id: 'r-date', name: 'reported_on', type: 'date', value: todayIso() })),
      field('阶段', el('select', { id: 'r-stage', name: 'stage' }, options(STAGES, '（不填）'))),
      field('完成比例（%）', el('input', { id: 'r-percent', name: 'percent', type: 'number', min: 0, max: 100, step: 1 })),
    ]),
    field('进展情况', el('textarea', { id: 'r-text', name: 'text', rows: 3, maxlength: 4000, required: true }), 'field-block'),
    msg,
    el('div', { class: 'btn-row' }, [el('button', { type: 'submit', class: 'btn', text: '报送进展' })]),
  ]);
  return wire(form, msg, () => {
    const body = { text: val(form, 'text') };
    if (val(form, 'reported_on')) body.reported_on = val(form, 'reported_on');
    if (val(form, 'stage')) body.stage = val(form, 'stage');
    if (val(form, 'percent') !== '') body.percent = Number(val(form, 'percent'));
    return api(`/api/disposal/entries/${e.id}/reports`, { method: 'POST', body });
  }, (saved) => `已报送 ${saved.reported_on} 的进展`);
}

function closeForm(e) {
  const msg = el('p', { class: 'message', role: 'alert', hidden: true });
  const form = el('form', { class: 'office-form', id: 'close-form', novalidate: true }, [
    el('h3', { text: '办结（必须填写处置结果）' }),
    el('div', { class: 'form-grid' }, [
      field('处置结果', el('select', { id: 'c-outcome', name: 'outcome', required: true }, options(OUTCOMES, '请选择'))),
      field('办结日期', el('input', { id: 'c-date', name: 'closed_on', type: 'date', value: todayIso() })),
    ]),
    field('办结说明', el('textarea', { id: 'c-note', name: 'note', rows: 2, maxlength: 2000 }), 'field-block'),
    msg,
    el('div', { class: 'btn-row' }, [el('button', { type: 'submit', class: 'btn', text: '办结台账' })]),
  ]);
  return wire(form, msg, () => {
    const body = { outcome: val(form, 'outcome') || null };
    if (val(form, 'closed_on')) body.closed_on = val(form, 'closed_on');
    if (val(form, 'note')) body.note = val(form, 'note');
    return api(`/api/disposal/entries/${e.id}/close`, { method: 'POST', body, version: e.version });
  }, (saved) => `已办结：${saved.outcome_label}（${saved.closed_on}）`);
}

function renderDetail(e) {
  $('detail-heading').textContent = `台账 ${e.id}：${e.parcel} · ${e.category_label}`;
  const forms = [];
  if (e.status === 'open' && mayWrite()) forms.push(reportForm(e), editForm(e), closeForm(e));
  else if (e.status === 'open') forms.push(el('p', { class: 'note', id: 'write-denied', text: '本账号只能查看台账（职能部门只读）。' }));
  else forms.push(el('p', { class: 'note', text: '台账已办结，不能再修改或报送进展。' }));
  const keep = $('detail-message');
  $('detail-body').replaceChildren(
    keep || el('p', { class: 'message', id: 'detail-message', role: 'status', hidden: true }),
    factsOf(e), reportsTable(e), ...forms,
  );
  $('entry-detail').hidden = false;
}

function showEntry(id) {
  return showDetail($('entry-detail'), `/api/disposal/entries/${id}`, renderDetail, $('message'));
}

async function openEntry(id) {
  state.entry = String(id);
  writeUrl();
  say($('detail-message'), '');
  await showEntry(id);
  focusPanel($('entry-detail'));
}

// ---- 从评价结果建立 ---------------------------------------------------------------------

async function setupFromEvaluation() {
  if (!mayWrite()) return;
  $('open-from').hidden = false;
  $('open-from').addEventListener('click', () => {
    const open = $('from-panel').hidden;
    $('from-panel').hidden = !open;
    $('open-from').setAttribute('aria-expanded', String(open));
  });
  $('f-opened').value = todayIso();
  try {
    const runs = await api('/api/evaluations?limit=100');
    runs.items.forEach((r) => $('f-run').append(el('option', { value: r.id,
      text: `${r.year} 年度评价（批次 ${r.id}${r.published ? '，已公示' : ''}）` })));
    if (runs.items.length) $('f-run').value = String(runs.items[0].id);
  } catch (err) {
    say($('from-message'), err.message, 'error');
  }
  const form = $('from-form');
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearProblems(form);
    say($('from-message'), '');
    const body = { states: $('f-states').checked };
    if ($('f-run').value) body.run_id = Number($('f-run').value);
    if ($('f-opened').value) body.opened_on = $('f-opened').value;
    if ($('f-reason').value.trim()) body.reason = $('f-reason').value.trim();
    try {
      const out = await api('/api/disposal/from-evaluation', { method: 'POST', body });
      say($('from-message'), `已建立 ${out.created} 条台账（候选 ${out.candidates} 条，已有未办结台账 ${out.already_open} 条、已办结 ${out.already_closed} 条，均未重复建立）`, 'ok');
      await Promise.all([load(), loadProgress()]);
    } catch (err) {
      showError(form, $('from-message'), err);
    }
  });
}

// ---- 进度 ------------------------------------------------------------------------------

function progressRow(level, r, p) {
  const label = `${r.name}：消化处置率 ${pct(r.rate)}，目标 ${pct(p.goal_rate, 0)}`;
  const met = r.rate == null ? el('span', { class: 'tag', text: '无数据' })
    : r.meets_goal ? el('span', { class: 'tag tag-ok', text: '达标' }) : el('span', { class: 'tag tag-error', text: '未达标' });
  return el('tr', { dataset: { code: r.code, level } }, [
    el('td', { class: 'level', text: level === 'city' ? '全市' : level === 'county' ? '县（市、区）' : '产业集聚区' }),
    el('th', { scope: 'row', class: 'name', text: r.name }),
    el('td', { class: 'num identified', text: num(r.identified, 2) }),
    el('td', { class: 'num disposed', text: num(r.disposed, 2) }),
    el('td', { class: 'rate-cell' }, [rateBar(r.rate, p.goal_rate, label), el('span', { class: 'rate', text: pct(r.rate) })]),
    el('td', { class: 'met' }, [met]),
    el('td', { class: 'num revived', text: num(r.revived_mu, 2) }),
    el('td', { class: 'num entries', text: `${r.closed_entries} / ${r.entries}` }),
  ]);
}

function renderProgress(p) {
  $('formula').textContent = p.formula;
  const unit = p.unit;
  const t = el('table', { class: 'data-table progress-table', id: 'progress-table' });
  t.append(el('caption', { text: `截至 ${p.as_of}：消化处置率（目标 ${pct(p.goal_rate, 0)}）与盘活面积` }));
  const heads = ['层级', '名称', `认定（${unit}）`, `已处置（${unit}）`, '消化处置率', '是否达标', '盘活面积（亩）', '已办结 / 台账（条）'];
  t.append(el('thead', null, [el('tr', null, heads.map((h) => el('th', { scope: 'col', text: h })))]));
  const tbody = el('tbody');
  if (p.city) tbody.append(progressRow('city', p.city, p));
  p.counties.forEach((r) => tbody.append(progressRow('county', r, p)));
  p.zones.forEach((r) => tbody.append(progressRow('zone', r, p)));
  t.append(tbody);
  $('progress-wrap').replaceChildren(t);
  const top = p.city || (p.counties.length === 1 ? p.counties[0] : null) || (p.zones.length === 1 ? p.zones[0] : null);
  const goal = p.goal_revived_mu;
  $('goal-line').replaceChildren(top ? el('div', { class: 'revival', id: 'revival' }, [
    el('span', { text: `${top.name}盘活面积 ` }), el('strong', { text: mu(top.revived_mu) }),
    el('span', { text: `，对照全市目标 ${num(goal / 10000, 2)} 万亩（${pct(top.revived_mu / goal)}）` }),
    rateBar(top.revived_mu / goal, 1, `盘活面积 ${num(top.revived_mu)} 亩，目标 ${num(goal)} 亩`),
  ]) : '');
}

async function loadProgress() {
  $('as_of').value = state.as_of;
  writeUrl();
  try {
    renderProgress(await api(`/api/disposal/progress${query({ as_of: state.as_of })}`));
  } catch (err) {
    $('progress-wrap').replaceChildren(el('p', { class: 'message', role: 'alert', 'data-kind': 'error', text: err.message }));
  }
}

// ---- page ------------------------------------------------------------------------------

let zoneCounty = {};

function syncControls() {
  for (const opt of $('zone').options) opt.hidden = !!(opt.value && state.county && zoneCounty[opt.value] !== state.county);
  if (state.zone && state.county && zoneCounty[state.zone] !== state.county) state.zone = '';
  for (const k of ['category', 'status', 'county', 'zone']) $(k).value = state[k];
  $('overdue').checked = state.overdue;
}

async function fillFilters() {
  $('category').append(...options(CATEGORIES));
  const scope = await api('/api/workbench/scope');
  scope.counties.forEach((j) => $('county').append(el('option', { value: j.code, text: j.name })));
  scope.zones.forEach((j) => $('zone').append(el('option', { value: j.code, text: j.name })));
  zoneCounty = Object.fromEntries(scope.zones.map((z) => [z.code, z.county_code]));
  $('county-field').hidden = scope.counties.length === 0;
  $('zone-field').hidden = scope.zones.length <= 1;
}

function exportExcel() {
  return exportFromButton($('export'), $('message'), `/api/disposal/entries.xlsx${query(filters())}`, '处置台账.xlsx',
    () => '已导出 Excel');
}

async function main() {
  user = await renderShell({ active: 'disposal', requireLogin: true });
  readUrl();
  try {
    await fillFilters();
  } catch (err) {
    say($('message'), err.message, 'error');
  }
  for (const id of ['category', 'status', 'county', 'zone']) {
    $(id).addEventListener('change', () => {
      state[id] = $(id).value;
      state.offset = 0;
      load();
    });
  }
  $('overdue').addEventListener('change', () => {
    state.overdue = $('overdue').checked;
    state.offset = 0;
    load();
  });
  $('as_of').addEventListener('change', () => {
    if (!$('as_of').value) return;
    state.as_of = $('as_of').value;
    loadProgress();
  });
  $('close-detail').addEventListener('click', () => {
    state.entry = '';
    $('entry-detail').hidden = true;
    writeUrl();
  });
  $('filters').addEventListener('submit', (ev) => ev.preventDefault());
  $('export').addEventListener('click', exportExcel);
  wirePager(state, load);
  await setupFromEvaluation();
  await Promise.all([load(), loadProgress()]);
}

main();
