/*
 * 年度可供土地清单 (/work/supply-lists): the editions the caller may read (GET /api/supply-lists)
 * with their 增量/存量 counts and 亩; 编制 a draft (POST /api/supply-lists) for a year and a
 * jurisdiction; one edition (?id=N, GET /api/supply-lists/{id}): its entries, inline edit of an
 * entry's terms, add/remove entries while draft, 提交审核, 退回 with comments, 公布 with the
 * approval document, 修订, the history of steps and the Excel download. Every write names the
 * edition's version (If-Match); 409 reloads the edition and keeps the user's values in the form;
 * 422 problems appear next to their fields. Forms show only where the API would accept them
 * (city admin, or the edition's own county admin); the API still decides.
 */
import {
  $, api, clearProblems, date, download, el, num, query, renderShell, say, showProblems,
} from './common.js';

const STATUS_TAGS = {
  draft: ['草稿', 'tag'],
  submitted: ['审核中', 'tag tag-warn'],
  published: ['已公布', 'tag tag-ok'],
  superseded: ['已被替代', 'tag tag-muted'],
};
const STEP_NAMES = {
  compile: '编制', revise: '修订', submit: '提交审核', return: '退回修改', publish: '审核通过并公布', supersede: '被新版替代',
};
const SUPPLY_METHODS = ['出让', '划拨', '租赁', '先租后让', '租让结合', '作价出资'];
/** The entry terms the inline form edits: [field, label, kind]. */
const TERMS = [
  ['supply_method', '供地方式', 'method'],
  ['expected_price_wan', '成本/价格（万元）', 'number'],
  ['supply_cycle', '供地周期', 'text'],
  ['contact_office', '联系单位', 'text'],
  ['contact_phone', '联系电话', 'text'],
  ['supply_conditions', '供地条件', 'area'],
  ['supply_procedure', '供地程序', 'area'],
];
const MAX_LEN = { supply_cycle: 200, contact_office: 100, contact_phone: 40, supply_conditions: 4000, supply_procedure: 2000 };

const state = { year: '', id: '' };
let user = null;
let scope = { counties: [], zones: [] };
let edition = null;
const known = {};  // edition id → its summary (from the last history read), to name linked editions
let loadSeq = 0;

// ---- helpers ----------------------------------------------------------------------------

function statusTag(status) {
  const [text, cls] = STATUS_TAGS[status] || [status, 'tag'];
  return el('span', { class: cls, dataset: { status }, text });
}

/** True when the caller may change `lst` (city admin, or the admin of the list's own county). */
function mayEdit(lst) {
  if (!user) return false;
  if (user.role === 'city_admin') return true;
  return user.role === 'county_admin' && user.jurisdiction_name === lst.jurisdiction_name;
}

function mayCompile() {
  return !!user && (user.role === 'city_admin' || user.role === 'county_admin');
}

/** 增量/存量 counts and 亩 of a list, as the server adds them (by_kind of an edition's summary). */
function split(lst) {
  const k = lst.by_kind || {};
  const part = (x) => ({ n: (x && x.entries) || 0, mu: (x && x.area_mu) || 0 });
  return { 增量: part(k['增量']), 存量: part(k['存量']) };
}

function countText(c) {
  return c.n ? `${c.n} 宗 · ${num(c.mu)} 亩` : '—';
}

/** 增量 + 存量: each part already adds its entries' areas as shown (2 decimals), so the parts sum to the total. */
function totalText(c) {
  return `${c['增量'].n + c['存量'].n} 宗 · ${num(c['增量'].mu + c['存量'].mu)} 亩`;
}

function field(label, control, cls) {
  return el('div', { class: `field ${cls || ''}` }, [el('label', { for: control.id, text: label }), control]);
}

/** The API's refusal: problems next to the fields they name, the rest (or the message) in `msg`. */
function failure(form, msg, err) {
  const problems = err.problems || [];
  const rest = form ? showProblems(form, problems) : problems;
  let text = err.message;
  if (rest.length) text = rest.map((p) => p.message).join('；');
  else if (problems.length) text = '请按字段旁的提示修改后再提交';
  say(msg, text, 'error');
}

function readUrl() {
  const q = new URLSearchParams(location.search);
  state.year = q.get('year') || '';
  state.id = /^\d+$/.test(q.get('id') || '') ? q.get('id') : '';
}

function writeUrl() {
  history.replaceState(null, '', location.pathname + query({ year: state.year, id: state.id }));
}

// ---- editions -----------------------------------------------------------------------------

function editionsTable(items) {
  const t = el('table', { class: 'data-table', id: 'editions-table' });
  t.append(el('caption', { text: `本账号可查看的清单版本（${items.length} 个）` }));
  const heads = ['年度', '辖区', '版次', '标题', '状态', '增量', '存量', '合计', '批准文件', ''];
  t.append(el('thead', null, [el('tr', null, heads.map((h) => el('th', { scope: 'col', text: h })))]));
  const tbody = el('tbody');
  if (!items.length) tbody.append(el('tr', null, [el('td', { colspan: heads.length, class: 'empty', text: '暂无清单版本' })]));
  for (const x of items) {
    const c = split(x);
    tbody.append(el('tr', { dataset: { id: x.id, status: x.status }, class: String(x.id) === state.id ? 'selected' : null }, [
      el('td', { class: 'year', text: String(x.year) }),
      el('td', { class: 'jurisdiction', text: x.jurisdiction_name }),
      el('td', { class: 'num edition-no', text: `第 ${x.edition} 版` }),
      el('td', { class: 'title', text: x.title }),
      el('td', { class: 'status' }, [statusTag(x.status)]),
      el('td', { class: 'increment', text: countText(c['增量']) }),
      el('td', { class: 'stock', text: countText(c['存量']) }),
      el('td', { class: 'total', text: totalText(c) }),
      el('td', { class: 'document', text: x.document ? `${x.document.number}（${x.document.date}）` : '—' }),
      el('td', null, [el('button', { type: 'button', class: 'btn btn-small btn-secondary', text: '查看', onclick: () => openEdition(x.id) })]),
    ]));
  }
  t.append(tbody);
  return t;
}

async function loadEditions() {
  const seq = ++loadSeq;
  say($('message'), '');
  $('editions-wrap').setAttribute('aria-busy', 'true');
  try {
    const { items } = await api(`/api/supply-lists${query({ year: state.year })}`);
    if (seq !== loadSeq) return;
    items.forEach((x) => { known[x.id] = x; });
    fillYears(items);
    $('editions-wrap').replaceChildren(editionsTable(items));
  } catch (err) {
    if (seq === loadSeq) {
      say($('message'), err.message, 'error');
      $('editions-wrap').replaceChildren();
    }
  } finally {
    if (seq === loadSeq) $('editions-wrap').removeAttribute('aria-busy');
  }
}

function fillYears(items) {
  const select = $('f-year');
  const have = new Set([...select.options].map((o) => o.value));
  const years = [...new Set(items.map((x) => String(x.year)))].filter((y) => !have.has(y)).sort();
  for (const y of years) select.append(el('option', { value: y, text: `${y} 年度` }));
  [...select.options].slice(1).sort((a, b) => b.value.localeCompare(a.value)).forEach((o) => select.append(o));
  select.value = state.year;
}

// ---- compile ------------------------------------------------------------------------------

function fillCompileForm() {
  if (!mayCompile()) return;
  const options = [];
  if (user.role === 'city_admin') options.push(el('option', { value: '411000', text: '许昌市（全市）' }));
  for (const c of scope.counties) options.push(el('option', { value: c.code, text: c.name }));
  $('c-jurisdiction').replaceChildren(...options);
  $('c-year').value = String(new Date().getFullYear());
  $('compile-panel').hidden = false;
  const form = $('compile-form');
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearProblems(form);
    say($('compile-message'), '');
    const year = Number($('c-year').value);
    const body = { year: $('c-year').value === '' ? null : year, jurisdiction: $('c-jurisdiction').value };
    $('compile').disabled = true;
    try {
      const made = await api('/api/supply-lists', { method: 'POST', body });
      say($('compile-message'), `已编制 ${made.title}（第 ${made.edition} 版草稿，${made.entry_count} 宗）`, 'ok');
      state.id = String(made.id);
      writeUrl();
      await loadEditions();
      showEdition(made);
    } catch (err) {
      failure(form, $('compile-message'), err);
    } finally {
      $('compile').disabled = false;
    }
  });
}

// ---- one edition --------------------------------------------------------------------------

async function openEdition(id) {
  state.id = String(id);
  writeUrl();
  say($('edition-message'), '');
  say($('compile-message'), '');
  try {
    showEdition(await api(`/api/supply-lists/${id}`));
    $('edition').scrollIntoView({ block: 'start' });
    $('edition').focus({ preventScroll: true });
  } catch (err) {
    say($('message'), err.message, 'error');
  }
}

/** Reload the open edition after a write; `text` is the success (or 409) message to show. */
async function refresh(text, kind = 'ok') {
  const view = await api(`/api/supply-lists/${edition.id}`);
  showEdition(view);
  say($('edition-message'), text, kind);
  loadEditions();
  return view;
}

function documentText(d) {
  return d ? `${d.title}（${d.number}，${d.date}）` : '—';
}

function editionFacts(lst) {
  const c = split(lst);
  const name = (id) => (known[id] ? `第 ${known[id].edition} 版（${known[id].year} 年度 · ${known[id].jurisdiction_name}）` : `清单 ${id}`);
  const link = (id, text) => el('button', { type: 'button', class: 'btn-link', text, onclick: () => openEdition(id) });
  return el('dl', { class: 'facts' }, [
    el('dt', { text: '年度 · 辖区' }), el('dd', { text: `${lst.year} 年度 · ${lst.jurisdiction_name}` }),
    el('dt', { text: '版次' }), el('dd', { class: 'edition-no', text: `第 ${lst.edition} 版` }),
    el('dt', { text: '状态' }), el('dd', { id: 'edition-status' }, [statusTag(lst.status)]),
    el('dt', { text: '批准文件' }), el('dd', { id: 'edition-document', text: documentText(lst.document) }),
    el('dt', { text: '增量' }), el('dd', { id: 'edition-increment', text: countText(c['增量']) }),
    el('dt', { text: '存量' }), el('dd', { id: 'edition-stock', text: countText(c['存量']) }),
    el('dt', { text: '合计' }), el('dd', { id: 'edition-total', text: totalText(c) }),
    lst.based_on_id ? el('dt', { text: '修订自' }) : null,
    lst.based_on_id ? el('dd', null, [link(lst.based_on_id, name(lst.based_on_id))]) : null,
    lst.superseded_by_id ? el('dt', { text: '被替代' }) : null,
    lst.superseded_by_id ? el('dd', null, [link(lst.superseded_by_id, `${name(lst.superseded_by_id)}，${date(lst.superseded_at)}`)]) : null,
    lst.note ? el('dt', { text: '说明' }) : null,
    lst.note ? el('dd', { text: lst.note }) : null,
  ]);
}

/** A button that takes a step (submit / revise) with the edition's version. */
function stepButton(label, path, done, cls = 'btn') {
  return el('button', {
    type: 'button', class: cls, text: label, onclick: async (ev) => {
      ev.target.disabled = true;
      say($('edition-message'), '');
      try {
        const view = await api(`/api/supply-lists/${edition.id}/${path}`, { method: 'POST', body: { version: edition.version } });
        if (path === 'revise') {
          state.id = String(view.id);
          writeUrl();
        }
        showEdition(view);
        say($('edition-message'), done(view), 'ok');
        loadEditions();
      } catch (err) {
        await conflictOr(err, null, $('edition-message'));
      } finally {
        ev.target.disabled = false;
      }
    },
  });
}

/** 409: reload the edition (someone changed it) and say so; anything else: the API's message. */
async function conflictOr(err, form, msg) {
  if (err.status === 409) {
    await refresh(`${err.message}。已载入最新内容（清单已被他人修改），请核对后再操作。`, 'error');
    return true;
  }
  failure(form, msg, err);
  return false;
}

function actions(lst) {
  const row = el('div', { class: 'btn-row', id: 'edition-actions' });
  row.append(el('button', {
    type: 'button', class: 'btn btn-secondary', id: 'export', text: '导出 Excel', onclick: async (ev) => {
      ev.target.disabled = true;
      try {
        const { name } = await download(`/api/supply-lists/${lst.id}/export.xlsx`, '年度可供土地清单.xlsx');
        say($('edition-message'), `已导出 ${name}`, 'ok');
      } catch (err) {
        say($('edition-message'), `导出失败：${err.message}`, 'error');
      } finally {
        ev.target.disabled = false;
      }
    },
  }));
  if (lst.status === 'published') {
    const portal = lst.jurisdiction_code === '411000' ? '/' : `/${query({ county: lst.jurisdiction_code })}`;
    row.append(el('a', { class: 'btn btn-secondary', id: 'portal-link', href: portal, text: '在云上看地中查看' }));
  }
  if (!mayEdit(lst)) return row;
  if (lst.status === 'draft') row.append(stepButton('提交审核', 'submit', () => '已提交审核'));
  if (lst.status === 'published' || lst.status === 'superseded') {
    row.append(stepButton('修订（生成新版本草稿）', 'revise', (v) => `已生成第 ${v.edition} 版草稿，修改后再提交审核`, 'btn btn-secondary'));
  }
  return row;
}

function returnForm(lst) {
  const msg = el('p', { class: 'message', role: 'alert', hidden: true });
  const form = el('form', { class: 'office-form', id: 'return-form', novalidate: true }, [
    el('h3', { text: '退回修改' }),
    field('审核意见', el('textarea', { id: 'r-comment', name: 'comment', rows: 2, maxlength: 2000, required: true }), 'field-block'),
    msg,
    el('div', { class: 'btn-row' }, [el('button', { type: 'submit', class: 'btn btn-secondary', text: '退回' })]),
  ]);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearProblems(form);
    say(msg, '');
    try {
      await api(`/api/supply-lists/${lst.id}/return`, { method: 'POST', body: { comment: $('r-comment').value.trim(), version: lst.version } });
      await refresh('已退回修改');
    } catch (err) {
      await conflictOr(err, form, msg);
    }
  });
  return form;
}

function publishForm(lst) {
  const msg = el('p', { class: 'message', role: 'alert', hidden: true });
  const form = el('form', { class: 'office-form', id: 'publish-form', novalidate: true }, [
    el('h3', { text: '审核通过并公布' }),
    el('p', { class: 'muted', text: '公布后本版宗地即为本辖区向社会公开的可供土地，替代此前版本；储备、批而未供宗地纳入供地清单，收回宗地再供应。' }),
    field('批准文件名称', el('input', { id: 'p-title', name: 'title', maxlength: 200, required: true }), 'field-block'),
    el('div', { class: 'form-grid field-block' }, [
      field('文号', el('input', { id: 'p-number', name: 'number', maxlength: 100, required: true })),
      field('日期', el('input', { id: 'p-date', name: 'date', type: 'date', required: true })),
    ]),
    msg,
    el('div', { class: 'btn-row' }, [el('button', { type: 'submit', class: 'btn', text: '公布' })]),
  ]);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearProblems(form);
    say(msg, '');
    const v = (id) => $(id).value.trim();
    const body = { document: { title: v('p-title'), number: v('p-number'), date: v('p-date') || null }, version: lst.version };
    try {
      await api(`/api/supply-lists/${lst.id}/publish`, { method: 'POST', body });
      await refresh('已公布：本版宗地已在云上看地公开');
    } catch (err) {
      await conflictOr(err, form, msg);
    }
  });
  return form;
}

function addForm(lst) {
  const msg = el('p', { class: 'message', role: 'alert', hidden: true });
  const form = el('form', { class: 'office-form completion-form', id: 'add-form', novalidate: true }, [
    field('增加宗地（宗地代码）', el('input', { id: 'a-code', name: 'code', maxlength: 19, required: true, placeholder: '19 位宗地代码' }), 'field-wide'),
    el('div', { class: 'btn-row' }, [el('button', { type: 'submit', class: 'btn btn-small', text: '增加' })]),
    msg,
  ]);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearProblems(form);
    say(msg, '');
    const code = $('a-code').value.trim();
    try {
      await api(`/api/supply-lists/${lst.id}/entries`, { method: 'POST', body: { code, version: lst.version } });
      await refresh(`已增加宗地 ${code}`);
    } catch (err) {
      await conflictOr(err, form, msg);
    }
  });
  return form;
}

function termControl(key, kind, value) {
  const id = `t-${key}`;
  if (kind === 'method') {
    return el('select', { id, name: key }, [
      el('option', { value: '', text: '（未定）' }),
      ...SUPPLY_METHODS.map((m) => el('option', { value: m, text: m, selected: m === value })),
    ]);
  }
  if (kind === 'number') return el('input', { id, name: key, type: 'number', min: 0, step: 0.1, value: value ?? '' });
  if (kind === 'area') return el('textarea', { id, name: key, rows: 2, maxlength: MAX_LEN[key] }, [value ?? '']);
  return el('input', { id, name: key, maxlength: MAX_LEN[key], value: value ?? '' });
}

/** The inline form under an entry's row: its terms, saved with PATCH and the edition's version. */
function editRow(lst, e, cols, values) {
  const msg = el('p', { class: 'message', role: 'alert', hidden: true });
  const start = values || {
    ...Object.fromEntries(TERMS.map(([k]) => [k, e[k]])),
    supply_method: e.supply_method_label || '',
  };
  const form = el('form', { class: 'entry-form', novalidate: true, dataset: { code: e.code } }, [
    el('div', { class: 'form-grid' }, TERMS.filter(([, , k]) => k !== 'area').map(([k, label, kind]) => field(label, termControl(k, kind, start[k])))),
    ...TERMS.filter(([, , k]) => k === 'area').map(([k, label, kind]) => field(label, termControl(k, kind, start[k]), 'field-block')),
    msg,
    el('div', { class: 'btn-row' }, [
      el('button', { type: 'submit', class: 'btn btn-small', text: '保存' }),
      el('button', { type: 'button', class: 'btn btn-secondary btn-small', text: '取消', onclick: () => showEdition(edition) }),
    ]),
  ]);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearProblems(form);
    say(msg, '');
    const mine = Object.fromEntries(TERMS.map(([k]) => [k, form.elements[k].value.trim()]));
    const body = { ...mine, version: edition.version };
    body.expected_price_wan = mine.expected_price_wan === '' ? null : Number(mine.expected_price_wan);
    body.supply_method = mine.supply_method || null;
    try {
      await api(`/api/supply-lists/${lst.id}/entries/${encodeURIComponent(e.code)}`, { method: 'PATCH', body });
      await refresh(`已保存宗地 ${e.code} 的供地信息`);
    } catch (err) {
      if (err.status === 409) {
        // someone changed the edition: show the current one, with this form still holding the user's values
        const view = await refresh(`${err.message}。清单已被他人修改，已载入最新内容；您的修改仍在下方表单中，请核对后再保存。`, 'error');
        const cur = view.entries.find((x) => x.code === e.code);
        if (cur) openEditRow(view, cur, mine);
      } else {
        failure(form, msg, err);
      }
    }
  });
  return el('tr', { class: 'entry-edit', dataset: { code: e.code } }, [el('td', { colspan: cols }, [form])]);
}

function openEditRow(lst, e, values) {
  const tbody = $('entries-table').tBodies[0];
  tbody.querySelectorAll('tr.entry-edit').forEach((r) => r.remove());
  const row = tbody.querySelector(`tr[data-code="${CSS.escape(e.code)}"]`);
  const edit = editRow(lst, e, row.cells.length, values);
  row.after(edit);
  edit.querySelector('input, select, textarea').focus();
}

async function removeEntry(lst, e) {
  if (!window.confirm(`从清单中移除宗地 ${e.code}？`)) return;
  say($('edition-message'), '');
  try {
    await api(`/api/supply-lists/${lst.id}/entries/${encodeURIComponent(e.code)}${query({ version: lst.version })}`, { method: 'DELETE' });
    await refresh(`已移除宗地 ${e.code}`);
  } catch (err) {
    await conflictOr(err, null, $('edition-message'));
  }
}

function entriesTable(lst) {
  const editable = lst.status === 'draft' && mayEdit(lst);
  const heads = ['序号', '宗地代码', '坐落', '面积(亩)', '类别', '用途', '成本/价格(万元)', '供地条件', '程序', '周期'];
  if (editable) heads.push('');
  const t = el('table', { class: 'data-table', id: 'entries-table' });
  t.append(el('caption', { text: `清单条目（${lst.entries.length} 宗）` }));
  t.append(el('thead', null, [el('tr', null, heads.map((h, i) => el('th', { scope: 'col', class: [3, 6].includes(i) ? 'num' : null, text: h })))]));
  const tbody = el('tbody');
  if (!lst.entries.length) tbody.append(el('tr', null, [el('td', { colspan: heads.length, class: 'empty', text: '清单中没有宗地' })]));
  lst.entries.forEach((e, i) => {
    tbody.append(el('tr', { dataset: { code: e.code } }, [
      el('td', { class: 'num', text: String(i + 1) }),
      el('td', { class: 'code' }, [el('a', { href: `/work/parcels/${encodeURIComponent(e.code)}`, text: e.code })]),
      el('td', { class: 'location', text: e.location || '—' }),
      el('td', { class: 'num area', text: num(e.area_mu) }),
      el('td', { class: 'category', text: e.category_label }),
      el('td', { class: 'use', text: e.land_use_label || e.land_use || '—' }),
      el('td', { class: 'num price', text: num(e.expected_price_wan, 1) }),
      el('td', { class: 'conditions', text: e.supply_conditions || '—' }),
      el('td', { class: 'procedure', text: e.supply_procedure || '—' }),
      el('td', { class: 'cycle', text: e.supply_cycle || '—' }),
      editable ? el('td', { class: 'entry-actions' }, [
        el('button', { type: 'button', class: 'btn btn-small btn-secondary', text: '修改', 'aria-label': `修改 ${e.code}`, onclick: () => openEditRow(lst, e) }),
        el('button', { type: 'button', class: 'btn btn-small btn-danger', text: '移除', 'aria-label': `移除 ${e.code}`, onclick: () => removeEntry(lst, e) }),
      ]) : null,
    ]));
  });
  t.append(tbody);
  const c = split(lst);
  t.append(el('tfoot', null, [el('tr', null, [
    el('td', { colspan: 3, text: `合计 ${lst.entries.length} 宗` }),
    el('td', { class: 'num', text: num(c['增量'].mu + c['存量'].mu) }),
    el('td', { colspan: heads.length - 4 }),
  ])]));
  return el('div', { class: 'table-wrap' }, [t]);
}

function stepsTable(lst) {
  const t = el('table', { class: 'data-table', id: 'steps-table' });
  t.append(el('caption', { text: '经办记录' }));
  t.append(el('thead', null, [el('tr', null, ['环节', '经办人', '时间', '意见'].map((h) => el('th', { scope: 'col', text: h })))]));
  t.append(el('tbody', null, (lst.steps || []).map((s) => el('tr', { dataset: { step: s.step } }, [
    el('td', { class: 'step', text: STEP_NAMES[s.step] || s.step }),
    el('td', { text: s.actor || '—' }),
    el('td', { class: 'when', text: date(s.at) }),
    el('td', { text: s.comment || '—' }),
  ]))));
  return el('div', { class: 'table-wrap' }, [t]);
}

function showEdition(lst) {
  edition = lst;
  $('edition-heading').replaceChildren(`${lst.title} · 第 ${lst.edition} 版 `, statusTag(lst.status));
  const editable = mayEdit(lst);
  $('edition-body').replaceChildren(...[
    editionFacts(lst),
    actions(lst),
    editable && lst.status === 'submitted' ? el('div', { class: 'review-forms' }, [publishForm(lst), returnForm(lst)]) : null,
    editable && lst.status === 'draft' ? addForm(lst) : null,
    entriesTable(lst),
    stepsTable(lst),
  ].filter(Boolean));
  say($('edition-message'), '');
  $('edition').hidden = false;
  document.querySelectorAll('#editions-table tbody tr').forEach((r) => r.classList.toggle('selected', r.dataset.id === String(lst.id)));
}

// ---- start --------------------------------------------------------------------------------

async function main() {
  user = await renderShell({ active: 'supply-lists', requireLogin: true });
  readUrl();
  if (mayCompile()) {
    try {
      scope = await api('/api/workbench/scope');
    } catch (err) {
      say($('message'), err.message, 'error');
    }
    fillCompileForm();
  }
  $('f-year').addEventListener('change', () => {
    state.year = $('f-year').value;
    writeUrl();
    loadEditions();
  });
  $('filters').addEventListener('submit', (ev) => ev.preventDefault());
  $('close-edition').addEventListener('click', () => {
    state.id = '';
    edition = null;
    $('edition').hidden = true;
    writeUrl();
    document.querySelectorAll('#editions-table tr.selected').forEach((r) => r.classList.remove('selected'));
  });
  await loadEditions();
  if (state.id) await openEdition(state.id);
}

main();
