/*
 * 挂牌督办 (/work/oversight): each 产业集聚区's count against "每个产业集聚区挂牌督办 2 宗以上"
 * on a chosen day (GET /api/oversight/zones?as_of=; zones below the minimum flagged), the cases
 * (GET /api/oversight/cases: zone, level, status) with a case's detail — progress notes
 * (POST …/progress), 销号 with a result (POST …/lift with If-Match; 409 → message + current) —
 * opening a case (POST /api/oversight/cases), the filing workbook (GET /api/oversight/export.xlsx),
 * and the 再开发监管协议 (GET /api/redevelopment/agreements[/{id}]: targets, rewards, the assessment,
 * claw-back lines settled through POST /api/redevelopment/clawbacks/{id}/settle).
 * Forms follow docs/oversight.md §3 by role; the API still decides (403/422/409 are shown).
 * Filters, the day and the open case live in the URL.
 */
import {
  $, api, clearProblems, el, exportFromButton, factList, focusPanel, mu, num, query, renderShell, say,
  showDetail, showProblems, table, todayIso, wan,
} from './common.js';

const state = { as_of: '', zone: '', level: '', status: '', case: '', agreement: '' };
let user = null;
let cases = [];
let zoneCodes = {};

const role = () => (user ? user.role : '');
const mayOpen = () => ['city_admin', 'county_admin'].includes(role());
const mayReport = () => ['city_admin', 'county_admin', 'zone_manager'].includes(role());
const mayLift = (c) => role() === 'city_admin' || (role() === 'county_admin' && c.level === 'county');
const maySettle = () => ['city_admin', 'county_admin', 'zone_manager'].includes(role());
const mayWaive = () => ['city_admin', 'county_admin'].includes(role());

function readUrl() {
  const q = new URLSearchParams(location.search);
  for (const k of Object.keys(state)) if (q.get(k)) state[k] = q.get(k);
  if (!/^\d{4}-\d{2}-\d{2}$/.test(state.as_of)) state.as_of = todayIso();
}

function writeUrl() {
  history.replaceState(null, '', location.pathname + query({ ...state, as_of: state.as_of === todayIso() ? '' : state.as_of }));
}

function field(label, control, cls) {
  return el('div', { class: `field ${cls || ''}` }, [el('label', { for: control.id, text: label }), control]);
}

function showError(form, msg, err) {
  const rest = showProblems(form, err.problems);
  say(msg, rest.length ? rest.map((p) => p.message).join('；') : err.message, 'error');
}

const val = (form, name) => form.querySelector(`[name="${name}"]`).value.trim();
const lines = (text) => text.split('\n').map((s) => s.trim()).filter(Boolean);

// ---- per-zone count --------------------------------------------------------------------

function zoneState(z) {
  if (z.met) return el('span', { class: 'tag tag-ok', text: '已达到要求' });
  return el('span', { class: 'tag tag-error', text: `${z.overdue ? '逾期未达到' : '低于要求'}，差 ${z.shortfall} 宗` });
}

async function loadZones() {
  try {
    const z = await api(`/api/oversight/zones${query({ as_of: state.as_of })}`);
    $('zones-summary').textContent = `截至 ${z.as_of}：要求 ${z.due} 前每个产业集聚区挂牌督办${z.counted_states_labels.join('、')}土地 ${z.minimum} 宗以上；`
      + `${z.zones.length} 个产业集聚区中 ${z.below_minimum} 个低于要求（依据 ${z.source}）`;
    const t = table([
      { label: '产业集聚区', value: (r) => r.zone },
      { label: '所属', value: (r) => r.parent || '—' },
      { label: '督办中', num: true, value: (r) => String(r.open) },
      { label: '累计挂牌', num: true, value: (r) => String(r.listed) },
      { label: '其中批而未供/闲置', num: true, value: (r) => String(r.counted_listed) },
      { label: '期限内计入要求', num: true, value: (r) => String(r.counted_by_due) },
      { label: '要求', num: true, value: (r) => `≥${r.minimum}` },
      { label: '是否达标', value: zoneState },
    ], z.zones, { caption: '各产业集聚区挂牌督办宗数与“2宗以上”要求对照', empty: '本辖区没有产业集聚区' });
    t.classList.add('zone-table');
    t.id = 'zones-table';
    t.querySelectorAll('tbody tr').forEach((tr, i) => {
      const r = z.zones[i];
      if (!r) return;
      tr.dataset.zone = r.zone_code;
      tr.dataset.below = r.below_minimum ? '1' : '0';
      const first = tr.firstElementChild;
      const th = el('th', { scope: 'row', class: 'name', text: r.zone });
      first.replaceWith(th);
    });
    $('zones-wrap').replaceChildren(t);
  } catch (err) {
    $('zones-wrap').replaceChildren(el('p', { class: 'message', role: 'alert', 'data-kind': 'error', text: err.message }));
  }
}

// ---- cases -----------------------------------------------------------------------------

function caseStatus(c) {
  if (c.status === 'lifted') return el('span', { class: 'tag tag-ok', text: `已销号 ${c.lifted_on}` });
  return el('span', null, [el('span', { class: 'tag tag-progress', text: '督办中' }),
    c.overdue ? el('span', { class: 'tag tag-error overdue-tag', text: `逾期 ${c.days_overdue} 天` }) : null]);
}

function renderCases(page) {
  const heads = ['宗地代码', '坐落', '产业集聚区', '级别', '挂牌日期', '完成时限', '牵头单位', '状态', ''];
  const t = el('table', { class: 'data-table', id: 'cases-table' });
  t.append(el('caption', { text: `挂牌督办事项（截至 ${page.as_of}）` }));
  t.append(el('thead', null, [el('tr', null, heads.map((h) => el('th', { scope: 'col', text: h })))]));
  const tbody = el('tbody');
  if (!page.cases.length) tbody.append(el('tr', null, [el('td', { colspan: heads.length, class: 'empty', text: '没有符合条件的督办事项' })]));
  for (const c of page.cases) {
    tbody.append(el('tr', { dataset: { case: c.id, code: c.parcel_code, overdue: c.overdue ? '1' : '0' } }, [
      el('td', { class: 'code' }, [el('a', { href: `/work/parcels/${encodeURIComponent(c.parcel_code)}`, text: c.parcel_code })]),
      el('td', { class: 'reason', text: c.location || '—' }),
      el('td', { text: c.zone || '（不在产业集聚区）' }),
      el('td', { text: c.level_label }),
      el('td', { class: 'when', text: c.listed_on }),
      el('td', { class: 'due', text: c.deadline }),
      el('td', { class: 'lead', text: c.lead || '—' }),
      el('td', { class: 'state' }, [caseStatus(c)]),
      el('td', null, [el('button', { type: 'button', class: 'btn btn-small btn-secondary', text: '详情',
        'aria-label': `查看督办事项 ${c.id}（${c.parcel_code}）`, onclick: () => openCase(c.id) })]),
    ]));
  }
  t.append(tbody);
  $('cases-wrap').replaceChildren(t);
  const open = page.cases.filter((c) => c.status === 'open').length;
  $('cases-summary').textContent = `共 ${page.count} 宗，督办中 ${open} 宗，面积合计 ${mu(page.cases.reduce((a, c) => a + (c.area_mu || 0), 0))}`;
}

async function loadCases() {
  writeUrl();
  say($('message'), '');
  try {
    const page = await api(`/api/oversight/cases${query({ as_of: state.as_of, zone: state.zone, level: state.level, status: state.status })}`);
    cases = page.cases;
    renderCases(page);
    if (state.case) await showCase(state.case);
  } catch (err) {
    say($('message'), err.message, 'error');
  }
}

function wire(form, msg, send, done, reload) {
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearProblems(form);
    say(msg, '');
    try {
      const saved = await send();
      await reload(saved);
      say($('case-message') || $('message'), done(saved), 'ok');
    } catch (err) {
      if (err.status === 409 && err.current) {
        await reload(err.current);
        say($('case-message') || $('message'), `${err.message}。该事项已被他人修改，现显示当前第 ${err.current.version} 版，请核对后重新提交。`, 'warn');
      } else {
        showError(form, msg, err);
      }
    }
  });
  return form;
}

const reloadAll = async () => {
  await Promise.all([loadZones(), loadCases()]);
};

function progressForm(c) {
  const msg = el('p', { class: 'message', role: 'alert', hidden: true });
  const form = el('form', { class: 'office-form', id: 'progress-form', novalidate: true }, [
    el('h3', { text: '报送督办进展' }),
    field('日期', el('input', { id: 'p-date', name: 'reported_on', type: 'date', value: todayIso() })),
    field('进展情况', el('textarea', { id: 'p-text', name: 'text', rows: 3, maxlength: 4000, required: true }), 'field-block'),
    msg,
    el('div', { class: 'btn-row' }, [el('button', { type: 'submit', class: 'btn', text: '报送进展' })]),
  ]);
  return wire(form, msg, () => api(`/api/oversight/cases/${c.id}/progress`, { method: 'POST',
    body: { text: val(form, 'text'), reported_on: val(form, 'reported_on') || null } }),
  (r) => `已报送 ${r.reported_on} 的进展`, reloadAll);
}

function liftForm(c) {
  const msg = el('p', { class: 'message', role: 'alert', hidden: true });
  const form = el('form', { class: 'office-form', id: 'lift-form', novalidate: true }, [
    el('h3', { text: `销号（依据第 ${c.version} 版，须写明结果）` }),
    field('销号日期', el('input', { id: 'l-date', name: 'lifted_on', type: 'date', value: todayIso() })),
    field('销号结果（处置成效）', el('textarea', { id: 'l-result', name: 'result', rows: 2, maxlength: 2000, required: true }), 'field-block'),
    msg,
    el('div', { class: 'btn-row' }, [el('button', { type: 'submit', class: 'btn', text: '销号' })]),
  ]);
  return wire(form, msg, () => api(`/api/oversight/cases/${c.id}/lift`, { method: 'POST', version: c.version,
    body: { result: val(form, 'result'), lifted_on: val(form, 'lifted_on') || null } }),
  (r) => `已销号（${r.lifted_on}）`, reloadAll);
}

function renderCase(c) {
  $('case-heading').textContent = `督办事项 ${c.id}：${c.parcel_code}（${c.level_label}挂牌督办）`;
  const notes = c.progress.length
    ? el('ol', { class: 'progress-notes', id: 'case-notes' }, c.progress.map((n) => el('li', null, [
      el('span', { class: 'when', text: n.reported_on }), n.text, el('span', { class: 'muted small', text: `（${n.actor}）` })])))
    : el('p', { class: 'muted', id: 'case-notes', text: '尚未报送进展' });
  const forms = [];
  if (c.status === 'open') {
    if (mayReport()) forms.push(progressForm(c));
    if (mayLift(c)) forms.push(liftForm(c));
    if (!forms.length) forms.push(el('p', { class: 'note', id: 'write-denied', text: '本账号只能查看督办事项。' }));
  }
  $('case-body').replaceChildren(
    $('case-message') || el('p', { class: 'message', id: 'case-message', role: 'status', hidden: true }),
    factList([
      ['宗地', el('a', { href: `/work/parcels/${encodeURIComponent(c.parcel_code)}`, text: c.parcel_code })],
      ['坐落', c.location], ['面积', mu(c.area_mu)], ['产业集聚区', c.zone], ['县（市、区）', c.county],
      ['挂牌时土地状态', `${c.state_at_listing_label}${c.counts_toward_requirement ? '（计入“2宗以上”要求）' : '（不计入要求）'}`],
      ['督办级别', c.level_label], ['挂牌督办单位', c.listed_by_unit], ['督办文号', c.document_no],
      ['挂牌日期', c.listed_on], ['督办事由', c.reason], ['督办要求', c.requirement], ['完成时限', c.deadline],
      ['责任单位', c.units.map((u, i) => (i ? u : `${u}（牵头）`)).join('、')], ['状态', caseStatus(c)],
      ['销号结果', c.lift_result], ['版本', `第 ${c.version} 版`],
    ]),
    el('h3', { class: 'sub-heading', text: '督办进展' }), notes, ...forms,
  );
  $('case-detail').hidden = false;
}

function showCase(id) {
  return showDetail($('case-detail'), `/api/oversight/cases/${id}${query({ as_of: state.as_of })}`, renderCase,
    $('message'));
}

async function openCase(id) {
  state.case = String(id);
  writeUrl();
  say($('case-message'), '');
  await showCase(id);
  focusPanel($('case-detail'));
}

/** 挂牌督办一宗地: city admins choose 市级/县级, county admins open 县级 cases only. */
function openCaseForm() {
  const msg = el('p', { class: 'message', role: 'alert', hidden: true });
  const level = el('select', { id: 'o-level', name: 'level' }, [
    role() === 'city_admin' ? el('option', { value: 'city', text: '市级' }) : null,
    el('option', { value: 'county', text: '县级' }),
  ]);
  const form = el('form', { class: 'office-form', id: 'case-form', novalidate: true }, [
    el('h3', { text: '挂牌督办一宗地' }),
    el('div', { class: 'form-grid' }, [
      field('宗地代码', el('input', { id: 'o-code', name: 'code', maxlength: 19, required: true })),
      field('督办级别', level),
      field('挂牌督办单位', el('input', { id: 'o-unit', name: 'listed_by_unit', maxlength: 200, required: true,
        value: role() === 'city_admin' ? '许昌市百园增效行动领导小组办公室' : '' })),
      field('督办文号', el('input', { id: 'o-doc', name: 'document_no', maxlength: 100 })),
      field('挂牌日期', el('input', { id: 'o-listed', name: 'listed_on', type: 'date', value: todayIso() })),
      field('完成时限', el('input', { id: 'o-deadline', name: 'deadline', type: 'date', required: true })),
    ]),
    field('督办事由', el('textarea', { id: 'o-reason', name: 'reason', rows: 2, maxlength: 2000, required: true }), 'field-block'),
    field('督办要求', el('textarea', { id: 'o-requirement', name: 'requirement', rows: 2, maxlength: 2000, required: true }), 'field-block'),
    field('责任单位（每行一个，第一个为牵头单位）', el('textarea', { id: 'o-units', name: 'units', rows: 3, required: true }), 'field-block'),
    msg,
    el('div', { class: 'btn-row' }, [el('button', { type: 'submit', class: 'btn', text: '挂牌督办' })]),
  ]);
  return wire(form, msg, () => api('/api/oversight/cases', { method: 'POST', body: {
    code: val(form, 'code'), level: val(form, 'level'), listed_by_unit: val(form, 'listed_by_unit'),
    document_no: val(form, 'document_no') || null, listed_on: val(form, 'listed_on') || null,
    deadline: val(form, 'deadline') || null, reason: val(form, 'reason'), requirement: val(form, 'requirement'),
    units: lines(val(form, 'units')) } }),
  (c) => `已挂牌督办 ${c.parcel_code}（事项 ${c.id}）`, async (c) => {
    form.reset();
    $('case-form-panel').hidden = true;
    $('open-case').setAttribute('aria-expanded', 'false');
    state.case = String(c.id);
    await reloadAll();
  });
}

// ---- 再开发监管协议 ----------------------------------------------------------------------

function targetsText(a) {
  const names = { investment_intensity: ['投资强度', '万元/亩'], tax_per_mu: ['亩均税收', '万元/亩'], plot_ratio: ['容积率', ''] };
  const parts = Object.entries(a.targets).map(([k, v]) => `${names[k] ? names[k][0] : k} ≥ ${num(v, 4)}${names[k] ? names[k][1] : ''}`);
  if (a.target_completion_date) parts.push(`${a.target_completion_date} 前竣工`);
  return parts.join('；') || '—';
}

async function loadAgreements() {
  try {
    const list = await api('/api/redevelopment/agreements');
    const pending = list.agreements.reduce((s, a) => s + a.clawback_pending_wan, 0);
    $('agreements-summary').textContent = `共 ${list.count} 份协议，待追缴 ${wan(pending)}`;
    const t = table([
      { label: '协议编号', value: (a) => el('button', { type: 'button', class: 'btn-link', text: a.agreement_no, onclick: () => openAgreement(a.id) }) },
      { label: '宗地代码', value: (a) => el('a', { href: `/work/parcels/${encodeURIComponent(a.parcel_code)}`, text: a.parcel_code }) },
      { label: '企业', value: (a) => a.enterprise.name },
      { label: '签订日期', value: (a) => a.signed_on },
      { label: '核查日期', value: (a) => a.check_date },
      { label: '约定目标', value: targetsText },
      { label: '优惠合计', num: true, value: (a) => wan(a.rewards_total_wan) },
      { label: '状态', value: (a) => el('span', { class: `tag ${a.status === 'met' ? 'tag-ok' : a.status === 'missed' ? 'tag-error' : 'tag-progress'}`, text: a.status_label }) },
      { label: '待追缴', num: true, value: (a) => wan(a.clawback_pending_wan) },
    ], list.agreements, { caption: '再开发监管协议', empty: '本辖区没有再开发监管协议' });
    t.id = 'agreements-table';
    $('agreements-wrap').replaceChildren(t);
    if (state.agreement) await showAgreement(state.agreement);
  } catch (err) {
    $('agreements-wrap').replaceChildren(el('p', { class: 'message', role: 'alert', 'data-kind': 'error', text: err.message }));
  }
}

function settleForm(c) {
  const msg = el('p', { class: 'message', role: 'alert', hidden: true });
  const status = el('select', { id: `s-status-${c.id}`, name: 'status' }, [
    el('option', { value: 'recovered', text: '已追缴' }), mayWaive() ? el('option', { value: 'waived', text: '免予追缴' }) : null]);
  const form = el('form', { class: 'settle-form', novalidate: true, dataset: { clawback: c.id } }, [
    field('结果', status),
    field('日期', el('input', { id: `s-date-${c.id}`, name: 'settled_on', type: 'date', value: todayIso() })),
    field('实际追缴（万元）', el('input', { id: `s-amount-${c.id}`, name: 'recovered_wan', type: 'number', step: '0.0001', min: 0, placeholder: num(c.amount_wan, 4) })),
    field('说明（免予追缴须写明理由）', el('input', { id: `s-note-${c.id}`, name: 'note', maxlength: 2000 }), 'field-wide'),
    el('div', { class: 'btn-row' }, [el('button', { type: 'submit', class: 'btn btn-small', text: '登记' })]),
    msg,
  ]);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearProblems(form);
    say(msg, '');
    const body = { status: val(form, 'status'), settled_on: val(form, 'settled_on') || null, note: val(form, 'note') || null };
    if (val(form, 'recovered_wan') !== '') body.recovered_wan = Number(val(form, 'recovered_wan'));
    try {
      await api(`/api/redevelopment/clawbacks/${c.id}/settle`, { method: 'POST', body, version: c.version });
      await loadAgreements();
      say($('agreement-message'), '已登记追缴结果', 'ok');
    } catch (err) {
      if (err.status === 409) {
        await loadAgreements();
        say($('agreement-message'), `${err.message}。追缴事项已被他人修改，现显示当前记录。`, 'warn');
      } else {
        showError(form, msg, err);
      }
    }
  });
  return form;
}

function renderAgreement(a) {
  $('agreement-heading').textContent = `再开发监管协议 ${a.agreement_no}（${a.parcel_code}）`;
  const as = a.assessment;
  $('agreement-body').replaceChildren(
    $('agreement-message') || el('p', { class: 'message', id: 'agreement-message', role: 'status', hidden: true }),
    factList([
      ['宗地', el('a', { href: `/work/parcels/${encodeURIComponent(a.parcel_code)}`, text: a.parcel_code })],
      ['企业', `${a.enterprise.name}（${a.enterprise.credit_code}）`], ['签订日期', a.signed_on], ['核查日期', a.check_date],
      ['约定目标（均为下限）', targetsText(a)], ['亩均税收核查年度', a.tax_year ? `${a.tax_year} 年` : null],
      ['退出条款', a.exit_terms], ['状态', a.status_label], ['依据', a.basis],
    ]),
    table([
      { label: '优惠类别', value: (r) => r.kind_label }, { label: '金额', num: true, value: (r) => wan(r.amount_wan) },
      { label: '给予日期', value: (r) => r.granted_on }, { label: '文号', value: (r) => r.document_no || '—' },
      { label: '说明', value: (r) => r.note || '—' },
    ], a.rewards, { caption: `已给予的优惠（合计 ${wan(a.rewards_total_wan)}）`, empty: '未登记优惠' }),
    as ? el('div', { class: 'assessment', id: 'assessment' }, [
      el('h3', { class: 'sub-heading', text: `到期核查（${as.assessed_on}，${as.met ? '已达标' : '未达标'}）` }),
      el('ul', null, as.findings.map((f) => el('li', null, [el('span', { class: `tag ${f.met ? 'tag-ok' : 'tag-error'}`, text: f.met ? '达标' : '未达标' }), ` ${f.reason}`]))),
    ]) : el('p', { class: 'note', text: `尚未核查（核查日期 ${a.check_date}）` }),
    a.clawbacks.length ? table([
      { label: '优惠类别', value: (c) => c.kind_label }, { label: '给予金额', num: true, value: (c) => wan(c.granted_wan) },
      { label: '应追缴', num: true, value: (c) => wan(c.amount_wan) },
      { label: '状态', value: (c) => el('span', { class: `tag ${c.status === 'pending' ? 'tag-warn' : 'tag-ok'}`, text: c.status_label }) },
      { label: '追缴结果', value: (c) => (c.status === 'pending'
        ? (maySettle() ? settleForm(c) : '—')
        : `${c.settled_on || ''} ${c.recovered_wan != null ? '实际追缴 ' + wan(c.recovered_wan) : ''} ${c.note || ''}`.trim()) },
    ], a.clawbacks, { caption: `追缴清单（待追缴 ${wan(a.clawback_pending_wan)}）` }) : null,
  );
  $('agreement-detail').hidden = false;
}

function showAgreement(id) {
  return showDetail($('agreement-detail'), `/api/redevelopment/agreements/${id}`, renderAgreement, $('message'));
}

async function openAgreement(id) {
  state.agreement = String(id);
  writeUrl();
  say($('agreement-message'), '');
  await showAgreement(id);
  focusPanel($('agreement-detail'));
}

// ---- page ------------------------------------------------------------------------------

function exportExcel() {
  return exportFromButton($('export'), $('message'), `/api/oversight/export.xlsx${query({ as_of: state.as_of, zone: state.zone })}`,
    '挂牌督办台账.xlsx', () => '已导出挂牌督办台账（Excel）');
}

async function main() {
  user = await renderShell({ active: 'oversight', requireLogin: true });
  readUrl();
  $('as_of').value = state.as_of;
  try {
    const scope = await api('/api/workbench/scope');
    scope.zones.forEach((z) => $('zone').append(el('option', { value: z.code, text: z.name })));
    zoneCodes = Object.fromEntries(scope.zones.map((z) => [z.code, z.name]));
    $('zone-field').hidden = scope.zones.length <= 1;
  } catch (err) {
    say($('message'), err.message, 'error');
  }
  if (!zoneCodes[state.zone]) state.zone = '';
  for (const k of ['zone', 'level', 'status']) {
    $(k).value = state[k];
    $(k).addEventListener('change', () => {
      state[k] = $(k).value;
      loadCases();
    });
  }
  $('as_of').addEventListener('change', () => {
    if (!$('as_of').value) return;
    state.as_of = $('as_of').value;
    reloadAll();
  });
  if (mayOpen()) {
    $('open-case').hidden = false;
    $('case-form-panel').replaceChildren(openCaseForm());
    $('open-case').addEventListener('click', () => {
      const open = $('case-form-panel').hidden;
      $('case-form-panel').hidden = !open;
      $('open-case').setAttribute('aria-expanded', String(open));
      if (open) $('o-code').focus();
    });
  }
  $('close-case').addEventListener('click', () => {
    state.case = '';
    $('case-detail').hidden = true;
    writeUrl();
  });
  $('close-agreement').addEventListener('click', () => {
    state.agreement = '';
    $('agreement-detail').hidden = true;
    writeUrl();
  });
  $('filters').addEventListener('submit', (ev) => ev.preventDefault());
  $('export').addEventListener('click', exportExcel);
  await Promise.all([loadZones(), loadCases(), loadAgreements()]);
}

main();
