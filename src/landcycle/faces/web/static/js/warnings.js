/*
 * 预警 (/work/warnings): open deadlines of the caller's jurisdiction from GET /api/warnings
 * (as_of, zone, kind, severity, paging). Overdue first. The cards show the counts by severity
 * over all warnings and filter the list; the filters live in the URL.
 */
import { $, api, el, query, renderShell, say, updatePager, wirePager } from './common.js';

const SEV_TAG = { overdue: 'tag-error', urgent: 'tag-warn', upcoming: 'tag' };
const state = { as_of: '', zone: '', kind: '', severity: '', limit: 50, offset: 0 };
let loadSeq = 0;
let metaFilled = false;

function today() {
  const d = new Date();
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
}

function readUrl() {
  const q = new URLSearchParams(location.search);
  for (const k of ['as_of', 'zone', 'kind', 'severity']) if (q.get(k)) state[k] = q.get(k);
  const off = Number(q.get('offset'));
  if (Number.isInteger(off) && off > 0) state.offset = off;
  if (!/^\d{4}-\d{2}-\d{2}$/.test(state.as_of)) state.as_of = today();
}

function writeUrl() {
  history.replaceState(null, '', location.pathname + query({
    as_of: state.as_of === today() ? '' : state.as_of, zone: state.zone, kind: state.kind,
    severity: state.severity, offset: state.offset || '' }));
}

function daysText(n) {
  if (n < 0) return `逾期 ${-n} 天`;
  if (n === 0) return '今天到期';
  return `还剩 ${n} 天`;
}

function renderCards(page) {
  const c = page.counts.severity;
  const total = Object.values(c).reduce((a, b) => a + b, 0);
  const items = [['', '全部预警', total], ...page.severities.map((s) => [s.value, s.label, c[s.value] || 0])];
  $('cards').replaceChildren(...items.map(([value, label, n]) => el('button', {
    type: 'button', class: 'warn-card', dataset: { severity: value },
    'aria-pressed': String(state.severity === value),
    onclick: () => {
      state.severity = value;
      state.offset = 0;
      load();
    },
  }, [el('span', { class: 'n', text: String(n) }), el('span', { class: 'l', text: label })])));
}

function fillMeta(page) {
  if (metaFilled) return;
  metaFilled = true;
  page.kinds.forEach((k) => $('kind').append(el('option', { value: k.value, text: k.label })));
  page.severities.forEach((s) => $('severity').append(el('option', { value: s.value, text: s.label })));
  $('kind').value = state.kind;
  $('severity').value = state.severity;
  const [far, near] = page.lead_days;
  $('lead').append(` 到期前 ${far} 天内提示，${near} 天内为紧急（规则库 [warnings] lead_days）。`);
}

function render(page) {
  fillMeta(page);
  renderCards(page);
  const columns = [
    ['紧急程度', (w) => el('span', { class: `tag ${SEV_TAG[w.severity] || ''}`, text: w.severity_label })],
    ['到期日', (w) => w.due_date, 'due'],
    ['剩余天数', (w) => daysText(w.days_left), 'days'],
    ['预警类型', (w) => w.kind_label],
    ['宗地代码', (w) => el('a', { href: `/work/parcels/${encodeURIComponent(w.parcel_code)}`, text: w.parcel_code }), 'code'],
    ['坐落', (w) => w.location],
    ['产业集聚区', (w) => w.zone || w.county || '—'],
    ['现状', (w) => w.state_label],
    ['依据', (w) => `${w.rule_id} · ${w.basis}`, 'basis'],
  ];
  const t = el('table', { class: 'data-table', id: 'warnings-table' });
  t.append(el('caption', { text: `截至 ${page.as_of} 的预警` }));
  t.append(el('thead', null, [el('tr', null, columns.map(([label]) => el('th', { scope: 'col', text: label })))]));
  const tbody = el('tbody');
  if (!page.items.length) {
    tbody.append(el('tr', null, [el('td', { colspan: columns.length, class: 'empty', text: '没有符合条件的预警' })]));
  }
  for (const w of page.items) {
    tbody.append(el('tr', { dataset: { severity: w.severity, kind: w.kind, code: w.parcel_code } },
      columns.map(([, value, cls]) => el('td', { class: cls || null }, [value(w) ?? '—']))));
  }
  t.append(tbody);
  $('table-wrap').replaceChildren(t);
  $('summary').textContent = `基准日 ${page.as_of}：共 ${page.total} 条${state.severity || state.kind ? '（已筛选）' : ''}`;
  const pages = Math.max(1, Math.ceil(page.total / state.limit));
  $('page-info').textContent = `第 ${Math.floor(state.offset / state.limit) + 1} / ${pages} 页`;
  updatePager(state, page.total);
}

async function load() {
  $('as_of').value = state.as_of;
  $('zone').value = state.zone;
  if (metaFilled) {
    $('kind').value = state.kind;
    $('severity').value = state.severity;
  }
  writeUrl();
  const seq = ++loadSeq;
  say($('message'), '');
  try {
    const page = await api(`/api/warnings${query({ ...state })}`);
    if (seq === loadSeq) render(page);
  } catch (err) {
    if (seq === loadSeq) say($('message'), err.message, 'error');
  }
}

async function main() {
  await renderShell({ active: 'warnings', requireLogin: true });
  readUrl();
  try {
    const scope = await api('/api/workbench/scope');
    scope.zones.forEach((z) => $('zone').append(el('option', { value: z.code, text: z.name })));
    $('zone-field').hidden = scope.zones.length <= 1;
  } catch (err) {
    say($('message'), err.message, 'error');
  }
  $('as_of').addEventListener('change', () => {
    if (!$('as_of').value) return;
    state.as_of = $('as_of').value;
    state.offset = 0;
    load();
  });
  for (const id of ['zone', 'kind', 'severity']) {
    $(id).addEventListener('change', () => {
      state[id] = $(id).value;
      state.offset = 0;
      load();
    });
  }
  $('today').addEventListener('click', () => {
    state.as_of = today();
    state.offset = 0;
    load();
  });
  $('filters').addEventListener('submit', (ev) => ev.preventDefault());
  wirePager(state, load);
  await load();
}

main();
