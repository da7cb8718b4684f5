/*
 * 计划任务 (/work/plans): the tasks of a 百园增效 plan from GET /api/plans and
 * GET /api/plans/{id}/tasks (as_of, overdue, unit, mine) — 牵头单位, 责任单位, each dated
 * milestone's state on the chosen day, the quarterly progress reports. A task's detail holds the
 * report form (POST /api/plan-tasks/{id}/reports) where the task's `may_report` says the API
 * would accept one, and 记录完成 per open milestone (POST /api/plan-milestones/{id}/completion)
 * where `may_complete` says so; the API still decides (403/422 are shown). The filters live in
 * the URL.
 */
import { $, api, clearProblems, date, el, query, renderShell, say, showProblems } from './common.js';

const STATUSES = ['未开始', '推进中', '已完成'];
const state = { plan: '', as_of: '', unit: '', overdue: false, mine: false, task: '' };
let plans = [];
let tasks = [];
let loadSeq = 0;

function today() {
  const d = new Date();
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
}

/** "2021-08-15" → "2021Q3" (the quarter a report for that day belongs to). */
function quarterOf(day) {
  const [y, m] = day.split('-').map(Number);
  return `${y}Q${Math.floor((m - 1) / 3) + 1}`;
}

function readUrl() {
  const q = new URLSearchParams(location.search);
  for (const k of ['plan', 'as_of', 'unit', 'task']) if (q.get(k)) state[k] = q.get(k);
  state.overdue = q.get('overdue') === '1';
  state.mine = q.get('mine') === '1';
  if (!/^\d{4}-\d{2}-\d{2}$/.test(state.as_of)) state.as_of = today();
}

function writeUrl() {
  history.replaceState(null, '', location.pathname + query({
    plan: state.plan, as_of: state.as_of === today() ? '' : state.as_of, unit: state.unit,
    overdue: state.overdue ? '1' : '', mine: state.mine ? '1' : '', task: state.task }));
}

/** The tag of one milestone on the day: 已完成 (late N days) / 逾期 N 天 / 未到期. */
function milestoneTag(m) {
  if (m.done) {
    return el('span', { class: 'tag tag-ok', text: m.late_days ? `已完成（晚 ${m.late_days} 天）` : '已完成' });
  }
  if (m.overdue) return el('span', { class: 'tag tag-error', text: `逾期 ${m.days_overdue} 天` });
  return el('span', { class: 'tag', text: '未到期' });
}

/** The task's state: 已完成 / 逾期 N 天 (the most overdue milestone) / 进行中. */
function taskTag(t) {
  if (t.status === '已完成') return el('span', { class: 'tag tag-ok', text: '已完成' });
  if (t.overdue) return el('span', { class: 'tag tag-error', text: `逾期 ${t.days_overdue} 天` });
  return el('span', { class: 'tag tag-progress', text: '进行中' });
}

function deadlines(t) {
  const list = el('ul', { class: 'milestones' }, t.milestones.map((m) => el('li', { dataset: { milestone: m.id } }, [
    el('span', { class: 'due', text: m.due }), ' ', milestoneTag(m),
    t.milestones.length > 1 ? el('span', { class: 'what', text: m.what }) : null,
  ])));
  if (t.ongoing && t.ongoing.length) list.append(...t.ongoing.map((o) => el('li', { class: 'muted', text: o })));
  return list;
}

function unitsText(t) {
  return t.units.filter((u) => !u.is_lead).map((u) => u.name).join('、') || '—';
}

function renderTable(page) {
  const t = el('table', { class: 'data-table', id: 'tasks-table' });
  t.append(el('caption', { text: `${page.plan.name}：截至 ${page.as_of} 的任务` }));
  const heads = ['编号', '任务', '牵头单位', '责任单位', '完成时限', '状态', '最近报送'];
  t.append(el('thead', null, [el('tr', null, heads.map((h) => el('th', { scope: 'col', text: h })))]));
  const tbody = el('tbody');
  if (!page.tasks.length) {
    tbody.append(el('tr', null, [el('td', { colspan: heads.length, class: 'empty', text: '没有符合条件的任务' })]));
  }
  for (const task of page.tasks) {
    const status = task.status === '已完成' ? 'done' : task.overdue ? 'overdue' : 'open';
    const row = el('tr', { class: 'row-link', dataset: { task: task.id, number: task.number, status } }, [
      el('td', { class: 'num', text: String(task.number) }),
      el('td', { class: 'task-title' }, [
        el('button', { type: 'button', class: 'btn-link task-open', text: task.title, onclick: () => openTask(task.id) }),
        el('span', { class: 'section', text: task.section || '' }),
      ]),
      el('td', { class: 'lead', text: task.lead }),
      el('td', { class: 'units', text: unitsText(task) }),
      el('td', { class: 'deadlines' }, [deadlines(task)]),
      el('td', { class: 'state' }, [taskTag(task)]),
      el('td', { class: 'quarter', text: task.latest_report ? task.latest_report.quarter : '—' }),
    ]);
    tbody.append(row);
  }
  t.append(tbody);
  $('table-wrap').replaceChildren(t);
  const overdue = page.tasks.filter((x) => x.overdue).length;
  const done = page.tasks.filter((x) => x.status === '已完成').length;
  $('summary').textContent = `基准日 ${page.as_of}：${page.count} 项任务${state.overdue || state.unit || state.mine ? '（已筛选）' : ''}，逾期 ${overdue} 项，已完成 ${done} 项`;
}

// ---- detail ----------------------------------------------------------------------------

function reportsTable(task) {
  const rows = [...(task.reports || [])].reverse();
  const t = el('table', { class: 'data-table', id: 'reports-table' });
  t.append(el('caption', { text: `季度进展报送（${rows.length} 次，最新在前）` }));
  const heads = ['季度', '报送单位', '状态', '完成比例', '进展情况', '附件', '报送人', '报送时间'];
  t.append(el('thead', null, [el('tr', null, heads.map((h) => el('th', { scope: 'col', text: h })))]));
  const tbody = el('tbody');
  if (!rows.length) tbody.append(el('tr', null, [el('td', { colspan: heads.length, class: 'empty', text: '尚未报送进展' })]));
  for (const r of rows) {
    tbody.append(el('tr', { dataset: { report: r.id } }, [
      el('td', { class: 'quarter', text: r.quarter }), el('td', { text: r.unit }), el('td', { text: r.status || '—' }),
      el('td', { class: 'num', text: r.percent == null ? '—' : `${r.percent}%` }),
      el('td', { class: 'report-text', text: r.text }), el('td', { text: r.attachments.join('；') || '—' }),
      el('td', { text: r.submitted_by }), el('td', { class: 'when', text: date(r.submitted_at) }),
    ]));
  }
  t.append(tbody);
  return el('div', { class: 'table-wrap' }, [t]);
}

function field(label, control, cls) {
  return el('div', { class: `field ${cls || ''}` }, [el('label', { for: control.id, text: label }), control]);
}

function reportForm(task) {
  if (!task.may_report) {
    return el('p', { class: 'note', id: 'report-denied', text: '本账号不是该任务的责任单位，不能报送进展（市级管理员、任务责任单位所在辖区的管理员和对应部门可以报送）。' });
  }
  const unit = el('select', { id: 'r-unit', name: 'unit' }, [
    el('option', { value: '', text: '本账号可代表的第一个单位' }),
    ...task.units.map((u) => el('option', { value: u.name, text: u.name })),
  ]);
  const status = el('select', { id: 'r-status', name: 'status' }, [
    el('option', { value: '', text: '（按完成比例）' }), ...STATUSES.map((s) => el('option', { value: s, text: s })),
  ]);
  const msg = el('p', { class: 'message', role: 'alert', hidden: true });
  const form = el('form', { class: 'office-form', id: 'report-form', novalidate: true }, [
    el('h3', { text: '报送季度进展' }),
    el('div', { class: 'form-grid' }, [
      field('季度', el('input', { id: 'r-quarter', name: 'quarter', value: quarterOf(state.as_of), maxlength: 6, placeholder: '如 2021Q3', required: true })),
      field('报送单位', unit),
      field('状态', status),
      field('完成比例（%）', el('input', { id: 'r-percent', name: 'percent', type: 'number', min: 0, max: 100, step: 1 })),
    ]),
    field('进展情况', el('textarea', { id: 'r-text', name: 'text', rows: 3, maxlength: 4000, required: true }), 'field-block'),
    field('附件名称（每行一个）', el('textarea', { id: 'r-attachments', name: 'attachments', rows: 2 }), 'field-block'),
    msg,
    el('div', { class: 'btn-row' }, [el('button', { type: 'submit', class: 'btn', text: '报送进展' })]),
  ]);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearProblems(form);
    say(msg, '');
    const v = (id) => form.querySelector(`#${id}`).value.trim();
    const body = { quarter: v('r-quarter'), text: v('r-text'),
      attachments: v('r-attachments').split('\n').map((s) => s.trim()).filter(Boolean) };
    if (v('r-unit')) body.unit = v('r-unit');
    if (v('r-status')) body.status = v('r-status');
    if (v('r-percent') !== '') body.percent = Number(v('r-percent'));
    try {
      const saved = await api(`/api/plan-tasks/${task.id}/reports`, { method: 'POST', body });
      await load();
      say($('detail-message'), `已报送 ${saved.quarter} 进展（${saved.unit}）`, 'ok');
    } catch (err) {
      const rest = showProblems(form, err.problems);
      say(msg, rest.length ? rest.map((p) => p.message).join('；') : err.message, 'error');
    }
  });
  return form;
}

/** 记录完成 for an open milestone (date + evidence), where the task's may_complete allows it. */
function completionForm(task, m) {
  const msg = el('p', { class: 'message', role: 'alert', hidden: true });
  const form = el('form', { class: 'completion-form', novalidate: true, dataset: { milestone: m.id } }, [
    field('完成日期', el('input', { id: `c-date-${m.id}`, name: 'completed_on', type: 'date', value: state.as_of, required: true })),
    field('完成依据（文件、文号或成果）', el('input', { id: `c-evidence-${m.id}`, name: 'evidence', maxlength: 2000, required: true }), 'field-wide'),
    el('div', { class: 'btn-row' }, [el('button', { type: 'submit', class: 'btn btn-small', text: '记录完成' })]),
    msg,
  ]);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearProblems(form);
    say(msg, '');
    const body = { completed_on: form.querySelector('[name=completed_on]').value,
      evidence: form.querySelector('[name=evidence]').value.trim() };
    try {
      await api(`/api/plan-milestones/${m.id}/completion`, { method: 'POST', body });
      await load();
      say($('detail-message'), `已记录节点 ${m.due} 完成`, 'ok');
    } catch (err) {
      const rest = showProblems(form, err.problems);
      say(msg, rest.length ? rest.map((p) => p.message).join('；') : err.message, 'error');
    }
  });
  return form;
}

function milestonesTable(task) {
  const t = el('table', { class: 'data-table', id: 'milestones-table' });
  t.append(el('caption', { text: '完成时限' }));
  const heads = ['到期日', '节点', '依据', '状态', '完成情况'];
  t.append(el('thead', null, [el('tr', null, heads.map((h) => el('th', { scope: 'col', text: h })))]));
  const tbody = el('tbody');
  for (const m of task.milestones) {
    const done = m.done || m.completed_on
      ? `${m.completed_on}${m.completion ? ` · ${m.completion.evidence}（${m.completion.recorded_by}）` : ''}`
      : task.may_complete ? completionForm(task, m) : '—';
    tbody.append(el('tr', { dataset: { milestone: m.id } }, [
      el('td', { class: 'due', text: m.due }), el('td', { text: m.what }), el('td', { text: m.basis }),
      el('td', null, [milestoneTag(m)]), el('td', { class: 'completion' }, [done]),
    ]));
  }
  t.append(tbody);
  return el('div', { class: 'table-wrap' }, [t]);
}

function renderDetail(task) {
  $('detail-heading').textContent = `任务 ${task.number}：${task.title}`;
  const units = el('ul', { class: 'unit-list' }, task.units.map((u) => el('li', null, [
    u.name, u.is_lead ? el('span', { class: 'tag tag-lead', text: '牵头' }) : null,
    u.collective_label && u.collective_label !== u.name ? el('span', { class: 'muted', text: `（${u.collective_label}）` }) : null,
  ])));
  $('detail-body').replaceChildren(
    el('p', { class: 'message', id: 'detail-message', role: 'status', hidden: true }),
    el('dl', { class: 'facts' }, [
      el('dt', { text: '所属部分' }), el('dd', { text: task.section || '—' }),
      el('dt', { text: '任务内容' }), el('dd', { class: 'task-text', text: task.text }),
      el('dt', { text: '责任单位' }), el('dd', null, [units]),
      el('dt', { text: '完成时限' }), el('dd', { text: task.deadline_line }),
      el('dt', { text: '状态' }), el('dd', null, [taskTag(task)]),
    ]),
    milestonesTable(task),
    reportsTable(task),
    reportForm(task),
  );
  $('task-detail').hidden = false;
}

function openTask(id) {
  state.task = String(id);
  writeUrl();
  const task = tasks.find((t) => String(t.id) === state.task);
  if (!task) return;
  renderDetail(task);
  $('task-detail').scrollIntoView({ block: 'start' });
  $('task-detail').focus({ preventScroll: true });
}

// ---- loading ---------------------------------------------------------------------------

async function loadPlans() {
  plans = await api(`/api/plans${query({ as_of: state.as_of })}`);
  $('plan').replaceChildren(...plans.map((p) => el('option', {
    value: p.id,
    text: `${p.jurisdiction.name} · ${p.name}${p.document ? `（${p.document}）` : ''} — ${p.tasks} 项任务，逾期 ${p.overdue_tasks} 项` }),
  ));
  if (!plans.some((p) => String(p.id) === state.plan)) state.plan = plans.length ? String(plans[0].id) : '';
  $('plan').value = state.plan;
}

/** The unit menu: every unit of the plan's tasks (read once per plan, without filters). */
async function loadUnits() {
  const all = await api(`/api/plans/${state.plan}/tasks${query({ as_of: state.as_of })}`);
  const names = [];
  for (const t of all.tasks) for (const u of t.units) if (!names.includes(u.name)) names.push(u.name);
  $('unit').replaceChildren(el('option', { value: '', text: '全部单位' }), ...names.map((n) => el('option', { value: n, text: n })));
  if (!names.includes(state.unit)) state.unit = '';
  $('unit').value = state.unit;
}

async function load() {
  $('as_of').value = state.as_of;
  $('overdue').checked = state.overdue;
  $('mine').checked = state.mine;
  writeUrl();
  const seq = ++loadSeq;
  say($('message'), '');
  if (!state.plan) {
    $('summary').textContent = '尚未加载实施方案（landcycle plan load）';
    $('table-wrap').replaceChildren();
    return;
  }
  try {
    const page = await api(`/api/plans/${state.plan}/tasks${query({
      as_of: state.as_of, unit: state.unit, overdue: state.overdue ? 'true' : '', mine: state.mine ? 'true' : '' })}`);
    if (seq !== loadSeq) return;
    tasks = page.tasks;
    renderTable(page);
    const open = tasks.find((t) => String(t.id) === state.task);
    if (open) renderDetail(open);
    else $('task-detail').hidden = true;
  } catch (err) {
    if (seq === loadSeq) say($('message'), err.message, 'error');
  }
}

async function main() {
  await renderShell({ active: 'plans', requireLogin: true });
  readUrl();
  try {
    await loadPlans();
    if (state.plan) await loadUnits();
  } catch (err) {
    say($('message'), err.message, 'error');
  }
  $('plan').addEventListener('change', async () => {
    state.plan = $('plan').value;
    state.unit = '';
    state.task = '';
    await loadUnits().catch((err) => say($('message'), err.message, 'error'));
    load();
  });
  $('as_of').addEventListener('change', async () => {
    if (!$('as_of').value) return;
    state.as_of = $('as_of').value;
    await loadPlans().catch((err) => say($('message'), err.message, 'error'));  // counts on the new day
    load();
  });
  $('unit').addEventListener('change', () => {
    state.unit = $('unit').value;
    load();
  });
  for (const id of ['overdue', 'mine']) {
    $(id).addEventListener('change', () => {
      state[id] = $(id).checked;
      load();
    });
  }
  $('today').addEventListener('click', async () => {
    state.as_of = today();
    await loadPlans().catch((err) => say($('message'), err.message, 'error'));
    load();
  });
  $('close-detail').addEventListener('click', () => {
    state.task = '';
    $('task-detail').hidden = true;
    writeUrl();
  });
  $('filters').addEventListener('submit', (ev) => ev.preventDefault());
  await load();
}

main();
