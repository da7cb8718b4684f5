/*
 * 台账 (/work/ledgers): 批而未供 / 闲置 / 低效 (by 低效类别) parcels of the caller's jurisdiction.
 * Reads GET /api/parcels (state, category, county, zone, sort, paging; totalAreaMu = 亩 over the
 * whole filtered set) and exports the same filters through GET /api/exports/parcels?format=xlsx.
 * The filters live in the URL (?kind=idle&zone=…), so a ledger view can be bookmarked.
 */
import { $, api, el, exportFromButton, mu, num, query, renderShell, say, updatePager, wirePager } from './common.js';

const KINDS = {
  approved_unsupplied: '批而未供',
  idle: '闲置',
  inefficient: '低效',
};
const COLUMNS = [
  { key: 'code', label: '宗地代码', sort: 'code', cls: 'code',
    value: (p) => el('a', { href: `/work/parcels/${encodeURIComponent(p.code)}`, text: p.code }) },
  { key: 'location', label: '坐落', sort: 'location', cls: 'loc', value: (p) => p.location },
  { key: 'county', label: '县（市、区）', value: (p) => p.county_name },
  { key: 'zone', label: '产业集聚区', value: (p) => p.zone_name || '—' },
  { key: 'state', label: '状态', sort: 'state', value: (p) => p.state_label },
  { key: 'category', label: '低效类别', value: (p) => (p.inefficiency_labels || []).join('、') || '—' },
  { key: 'source', label: '土地来源', value: (p) => p.land_source_label || '—' },
  { key: 'area', label: '面积（亩）', sort: 'area_mu', num: true, value: (p) => num(p.area_mu, 2) },
  { key: 'supply_date', label: '供地日期', sort: 'supply_date', value: (p) => p.supply_date || '—' },
];

const state = { kind: 'idle', county: '', zone: '', category: '', sort: 'code', limit: 50, offset: 0 };
let loadSeq = 0;

function readUrl() {
  const q = new URLSearchParams(location.search);
  if (KINDS[q.get('kind')]) state.kind = q.get('kind');
  for (const k of ['county', 'zone', 'category', 'sort']) if (q.get(k)) state[k] = q.get(k);
  const lim = Number(q.get('limit'));
  if ([20, 50, 100].includes(lim)) state.limit = lim;
  const off = Number(q.get('offset'));
  if (Number.isInteger(off) && off > 0) state.offset = off;
}

function writeUrl() {
  const q = query({ kind: state.kind, county: state.county, zone: state.zone,
    category: state.kind === 'inefficient' ? state.category : '',
    sort: state.sort === 'code' ? '' : state.sort, limit: state.limit === 50 ? '' : state.limit,
    offset: state.offset || '' });
  history.replaceState(null, '', location.pathname + q);
}

/** The filters shared by the list and the export. */
function filters() {
  return { state: state.kind, county: state.county, zone: state.zone,
    category: state.kind === 'inefficient' ? state.category : '' };
}

let zoneCounty = {};

/** Offer only the zones lying in the chosen county (a zone in another county would list nothing). */
function limitZones() {
  for (const opt of $('zone').options) {
    opt.hidden = !!(opt.value && state.county && zoneCounty[opt.value] !== state.county);
  }
  if (state.zone && state.county && zoneCounty[state.zone] !== state.county) state.zone = '';
}

function syncControls() {
  limitZones();
  document.querySelectorAll('.ledger-kind').forEach((b) => {
    b.setAttribute('aria-pressed', String(b.dataset.state === state.kind));
  });
  $('county').value = state.county;
  $('zone').value = state.zone;
  $('category').value = state.category;
  $('limit').value = String(state.limit);
  $('category-field').hidden = state.kind !== 'inefficient';
  document.title = `${KINDS[state.kind]}台账 · 许昌市产业集聚区土地全生命周期管理平台`;
}

function header() {
  const [field, desc] = state.sort.startsWith('-') ? [state.sort.slice(1), true] : [state.sort, false];
  return el('tr', null, COLUMNS.map((c) => {
    const sorted = c.sort && c.sort === field;
    const th = el('th', { scope: 'col', class: c.num ? 'num' : null,
      'aria-sort': c.sort ? (sorted ? (desc ? 'descending' : 'ascending') : 'none') : null });
    if (!c.sort) {
      th.textContent = c.label;
      return th;
    }
    th.append(el('button', {
      type: 'button', class: 'sort-btn', text: c.label,
      title: `按${c.label}${sorted && !desc ? '降序' : '升序'}排列`,
      onclick: () => {
        state.sort = sorted && !desc ? `-${c.sort}` : c.sort;
        state.offset = 0;
        load();
      },
    }));
    return th;
  }));
}

function render(page) {
  const rows = page.features.map((f) => f.properties);
  const caption = `${KINDS[state.kind]}台账${state.category && state.kind === 'inefficient'
    ? '（' + ($('category').selectedOptions[0]?.textContent || '') + '）' : ''}`;
  const t = el('table', { class: 'data-table', id: 'ledger-table' });
  t.append(el('caption', { id: 'ledger-caption', text: caption }));
  t.append(el('thead', null, [header()]));
  const tbody = el('tbody');
  if (!rows.length) {
    tbody.append(el('tr', null, [el('td', { colspan: COLUMNS.length, class: 'empty', text: '没有符合条件的宗地' })]));
  }
  let pageMu = 0;
  for (const p of rows) {
    pageMu += p.area_mu || 0;
    const tr = el('tr', { class: 'row-link', dataset: { code: p.code } },
      COLUMNS.map((c) => el('td', { class: [c.num ? 'num' : '', c.cls || ''].join(' ').trim() || null }, [c.value(p) ?? '—'])));
    // Whole row opens the card for mouse users; the code link is the keyboard path.
    tr.addEventListener('click', (ev) => {
      if (ev.target.closest('a')) return;
      location.assign(`/work/parcels/${encodeURIComponent(p.code)}`);
    });
    tbody.append(tr);
  }
  t.append(tbody);
  if (rows.length) {
    t.append(el('tfoot', null, [el('tr', null, [
      el('td', { colspan: 7, text: `本页 ${rows.length} 宗小计` }),
      el('td', { class: 'num', text: num(pageMu, 2) }),
      el('td', { text: '' }),
    ])]));
  }
  $('table-wrap').replaceChildren(t);

  $('summary').replaceChildren(
    `${caption}：共 `, el('strong', { id: 'total-count', text: num(page.numberMatched, 0) }), ' 宗，面积合计 ',
    el('strong', { id: 'total-mu', dataset: { mu: String(page.totalAreaMu) }, text: mu(page.totalAreaMu) }),
    '（全部筛选结果，非仅本页）',
  );
  const pages = Math.max(1, Math.ceil(page.numberMatched / state.limit));
  const current = Math.floor(state.offset / state.limit) + 1;
  $('page-info').textContent = `第 ${current} / ${pages} 页`;
  updatePager(state, page.numberMatched);
}

async function load() {
  syncControls();
  writeUrl();
  const seq = ++loadSeq;
  say($('message'), '');
  $('table-wrap').setAttribute('aria-busy', 'true');
  try {
    const page = await api(`/api/parcels${query({ ...filters(), sort: state.sort, limit: state.limit, offset: state.offset })}`);
    if (seq !== loadSeq) return;
    render(page);
  } catch (err) {
    if (seq !== loadSeq) return;
    say($('message'), err.message, 'error');
  } finally {
    if (seq === loadSeq) $('table-wrap').removeAttribute('aria-busy');
  }
}

/** 导出 Excel: the ledger of the current filters as a file (errors shown on the page in Chinese). */
function exportExcel() {
  return exportFromButton($('export'), $('message'), `/api/exports/parcels${query({ format: 'xlsx', ...filters() })}`,
    `${KINDS[state.kind]}台账.xlsx`, ({ response }) => `已导出 ${response.headers.get('X-Export-Count') ?? ''} 宗`);
}

async function fillFilters() {
  const scope = await api('/api/workbench/scope');
  const add = (select, items) => items.forEach((j) => select.append(el('option', { value: j.code, text: j.name })));
  add($('county'), scope.counties);
  add($('zone'), scope.zones);
  zoneCounty = Object.fromEntries(scope.zones.map((z) => [z.code, z.county_code]));
  $('county-field').hidden = scope.counties.length === 0;
  $('zone-field').hidden = scope.zones.length <= 1;
  scope.categories.forEach((c) => $('category').append(el('option', { value: c.value, text: c.label })));
}

async function main() {
  await renderShell({ active: 'ledgers', requireLogin: true });
  readUrl();
  try {
    await fillFilters();
  } catch (err) {
    say($('message'), err.message, 'error');
  }
  document.querySelectorAll('.ledger-kind').forEach((b) => b.addEventListener('click', () => {
    state.kind = b.dataset.state;
    state.offset = 0;
    load();
  }));
  for (const id of ['county', 'zone', 'category']) {
    $(id).addEventListener('change', () => {
      state[id] = $(id).value;
      state.offset = 0;
      load();
    });
  }
  $('limit').addEventListener('change', () => {
    state.limit = Number($('limit').value);
    state.offset = 0;
    load();
  });
  $('filters').addEventListener('submit', (ev) => ev.preventDefault());
  $('export').addEventListener('click', exportExcel);
  wirePager(state, load);
  await load();
}

main();
