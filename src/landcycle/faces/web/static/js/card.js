/*
 * 一宗一卡 (/work/parcels/{code}): one parcel's card — small map, facts, enterprises with their
 * 亩均 figures and A/B/C class, contract and 履约监管协议 with deadlines, acceptance results,
 * the latest verdicts (reasons, clauses) and the whole 一地一档 history; a print view (A4).
 *
 * Reads: GET /api/parcels/{code} (the card, as the caller's role may see it, with
 * `permissions`), /api/verdicts/parcels/{code}, /api/evaluations + …/results (亩均 figures and
 * class), /api/meta/fields (field labels and choice lists). What the API refuses (401/403/404)
 * is shown as "not available to this account", never guessed.
 *
 * Edits (only offered when `permissions` says the API would accept them): PATCH the parcel,
 * its contract, agreement, development record and an occupancy's end date, each with the
 * version it was read at (If-Match). 422 problems appear next to their fields; a 409 shows
 * "该记录已被他人修改" with both versions side by side and lets the user redo the edit on
 * the current version, keeping (and marking) what they had changed.
 *
 * 生命周期 (issue 7): GET /api/parcels/{code}/transitions — the state, the next steps with
 * whether each is possible now and why not (clause), the steps taken. Accounts that may edit the
 * parcel get a form per possible step (reason, one row per required document) that POSTs the
 * step with the card's version; 409 uses the same conflict view as the edit forms.
 */
import {
  $, api, el, renderShell, num, mu, wan, pct, date, yesNo, say, showProblems, clearProblems,
  factList, table, pathKey, query,
} from './common.js';
import { createMap, showFeature, addParcelTiles, highlightParcel } from './mapkit.js';

const code = pathKey();
const enc = encodeURIComponent;
const RULE_NAMES = { R1: '亩均效益', R2: '企业分类综合评价', R3: '闲置土地认定', R4: '低效用地认定' };
//: Labels of the verdicts' figures (the rules' own keys; anything else is shown by its key).
const FIGURE_LABELS = {
  land_area_mu: '用地面积(亩)', tax_total_wan: '税收合计(万元)', tax_per_mu_wan: '亩均税收(万元/亩)',
  output_per_mu_wan: '亩均产值(万元/亩)', tenants: '入园企业数', standard_factory: '标准厂房',
  as_of: '认定日期', idle_since: '闲置起算日', idle_full_years: '闲置满年数', idle_fee_wan: '闲置费(万元)',
  categories: '低效类别', years_without_profit: '连续亏损年数', owner_class: '权利人评价类别',
  below_contract_indicators: '未达约定的指标', unchecked_indicators: '未核查的指标',
};

let meta = { labels: {}, choices: {} };
let user = null;
let card = null;
let map = null;
let mapFailed = false;

const label = (field) => meta.labels[field] || field;

/** The Chinese label of a coded value of `field` (as in the API's *_label fields). */
function choiceLabel(field, value) {
  const hit = (meta.choices[field] || []).find((c) => c.value === value);
  return hit ? hit.label : value;
}

function today() {
  const d = new Date();
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
}

/** Whole days from ISO date a to ISO date b (b − a). */
function daysBetween(a, b) {
  return Math.round((Date.parse(`${b}T00:00:00Z`) - Date.parse(`${a}T00:00:00Z`)) / 86400000);
}

function tag(text, kind) {
  return el('span', { class: `tag${kind ? ` tag-${kind}` : ''}`, text });
}

function panel(id, title, children, actions) {
  return el('section', { class: 'panel card-section', id, 'aria-labelledby': `${id}-h` }, [
    el('div', { class: 'section-head' }, [
      el('h2', { id: `${id}-h`, text: title }),
      actions && actions.length ? el('div', { class: 'btn-row no-print' }, actions) : null,
    ]),
    ...[].concat(children),
  ]);
}

function editButton(text, onclick) {
  return el('button', { type: 'button', class: 'btn btn-small btn-secondary edit-button', text, onclick });
}

// ---- loading -------------------------------------------------------------------------

async function loadMeta() {
  try {
    const m = await api('/api/meta/fields');
    meta = { labels: Object.fromEntries(m.labels.map((x) => [x.field, x.label])), choices: m.choices };
  } catch (err) {
    meta = { labels: {}, choices: {} };  // labels fall back to the field names; the card still shows
  }
}

/** The latest verdicts of the parcel, or {unavailable: message}. */
async function loadVerdicts() {
  try {
    return await api(`/api/verdicts/parcels/${enc(code)}`);
  } catch (err) {
    if (err.status === 401 || err.status === 403) return { unavailable: '本账号无权查看评价判定。' };
    if (err.status === 404) return { unavailable: '尚无该宗地的评价结果（或本账号无权查看）。' };
    return { unavailable: `评价判定暂时无法读取：${err.message}` };
  }
}

/**
 * The enterprises' results in the latest evaluation run, by credit code. Only enterprises whose
 * credit code the card shows can be looked up — the same rule that lets the caller see figures.
 */
async function loadResults(c) {
  const codes = c.occupancies.map((o) => o.credit_code).filter(Boolean);
  if (!c.occupancies.length) return { status: 'none' };
  if (!codes.length) return { status: 'hidden', message: '本账号无权查看用地企业的亩均数据和评价类别。' };
  try {
    const runs = await api(`/api/evaluations${query({ sort: '-year,-id', limit: 1 })}`);
    const run = runs.items && runs.items[0];
    if (!run) return { status: 'hidden', message: '尚未开展亩均效益评价。' };
    const byCode = {};
    let offset = 0;
    for (let i = 0; i < 20; i += 1) {  // a county has a few hundred enterprises at most
      const page = await api(`/api/evaluations/${run.id}/results${query({
        county: c.parcel.county_code, limit: 1000, offset })}`);
      for (const r of page.items) if (codes.includes(r.credit_code)) byCode[r.credit_code] = r;
      offset += page.items.length;
      if (!page.items.length || offset >= page.total || codes.every((cc) => byCode[cc])) break;
    }
    return { status: 'ok', run, byCode };
  } catch (err) {
    if (err.status === 401 || err.status === 403) {
      return { status: 'hidden', message: '本账号无权查看用地企业的亩均数据和评价类别。' };
    }
    return { status: 'hidden', message: `评价结果暂时无法读取：${err.message}` };
  }
}

async function load() {
  const body = $('card-body');
  body.setAttribute('aria-busy', 'true');
  let c;
  try {
    c = await api(`/api/parcels/${enc(code)}`);
  } catch (err) {
    const text = err.status === 404 ? `未找到宗地 ${code}，或该宗地不在您的辖区内。` : err.message;
    body.replaceChildren(el('p', { class: 'message', dataset: { kind: 'error' }, role: 'alert', text }));
    body.removeAttribute('aria-busy');
    return;
  }
  const [verdicts, results, life] = await Promise.all([loadVerdicts(), loadResults(c), loadLifecycle()]);
  card = c;
  render(c, verdicts, results, life);
  body.removeAttribute('aria-busy');
}

// ---- rendering -----------------------------------------------------------------------

function render(c, verdicts, results, life) {
  const p = c.parcel;
  document.title = `一宗一卡 ${p.code} · 许昌市产业集聚区土地全生命周期管理平台`;
  $('card-title').textContent = `一宗一卡 · ${p.code}`;
  $('card-subtitle').replaceChildren(
    p.location || '（无坐落）', ' · ', p.zone_name || p.county_name, ' · ',
    tag(p.state_label, ['idle', 'inefficient', 'disposing'].includes(p.state) ? 'error' : null),
    p.is_synthetic ? tag('演示数据', 'warn') : null,
  );
  $('print-meta').textContent = `打印时间：${date(new Date().toISOString())} · 打印人：${user.display_name || user.username}`
    + `（${user.role_label}${user.jurisdiction_name ? ' · ' + user.jurisdiction_name : ''}） · 记录版本：第 ${p.version} 版`;
  // The print view shows a still picture of the map (a WebGL canvas does not reflow to paper).
  const mapBox = $('card-map-box') || el('div', { class: 'card-map', id: 'card-map-box' }, [
    el('div', { class: 'card-map-canvas', id: 'card-map', role: 'img', 'aria-label': `宗地 ${p.code} 的位置图` }),
    el('img', { class: 'card-map-print', id: 'card-map-print', alt: `宗地 ${p.code} 的位置图`, hidden: true }),
  ]);
  const sections = [
    el('div', { class: 'card-top' }, [
      panel('sec-map', '宗地位置', [mapBox, el('p', { class: 'muted small', id: 'map-note' },
        `面积 ${mu(p.area_mu)}（${num(p.area_m2)} 平方米，高斯-克吕格 EPSG:${p.gk_epsg} 计算）`)]),
      factsSection(c),
    ]),
    enterprisesSection(c, results),
    el('div', { class: 'grid-2' }, [contractSection(c), agreementSection(c)]),
    developmentSection(c),
    lifecycleSection(c, life),
    verdictsSection(verdicts),
    historySection(c),
  ];
  $('card-body').replaceChildren(...sections.filter(Boolean));
  drawMap(c);
}

async function drawMap(c) {
  const feature = { type: 'Feature', geometry: c.geometry, properties: { code: c.parcel.code } };
  if (mapFailed) return;
  try {
    if (!map) {
      map = await createMap('card-map', { expose: 'landcycleCardMap', controls: true });
      map.on('idle', () => {
        const img = $('card-map-print');
        try {
          img.src = map.getCanvas().toDataURL('image/png');
          img.hidden = false;
        } catch (err) {
          img.hidden = true;  // no picture: the print view simply has no map
        }
      });
      try {
        await addParcelTiles(map, { layer: 'parcels', styleBy: 'state' });
        highlightParcel(map, c.parcel.code);
      } catch (err) {
        console.warn('neighbouring parcels unavailable', err);
      }
    }
    showFeature(map, feature, { padding: 50, maxZoom: 16 });
    map.resize();
  } catch (err) {
    mapFailed = true;
    $('card-map').replaceChildren(el('p', { class: 'map-fallback', text: err.message || '地图无法显示。' }));
  }
}

function factsSection(c) {
  const p = c.parcel;
  const range = (a, b) => (a == null && b == null ? '—' : `${a == null ? '—' : num(a)} ～ ${b == null ? '—' : num(b)}`);
  const facts = factList([
    [label('code'), p.code],
    [label('location'), p.location],
    [label('county_id'), p.county_name],
    [label('zone_id'), p.zone_name || '（不在产业集聚区内）'],
    ['面积', `${mu(p.area_mu)}（${num(p.area_m2)} 平方米）`],
    [label('land_use'), p.land_use_label],
    [label('state'), p.state_label],
    [label('inefficiency_categories'), (p.inefficiency_labels || []).join('、') || '—'],
    [label('land_source'), p.land_source_label],
    [label('supply_method'), p.supply_method_label],
    [label('supply_date'), date(p.supply_date)],
    [label('term_years'), p.term_years == null ? '—' : `${p.term_years} 年`],
    [label('price_wan'), wan(p.price_wan)],
    ['容积率', range(p.plot_ratio_min, p.plot_ratio_max)],
    [label('building_density_min'), num(p.building_density_min)],
    [label('green_ratio_max'), num(p.green_ratio_max)],
    [label('height_limit_m'), p.height_limit_m == null ? '—' : `${num(p.height_limit_m)} 米`],
    [label('is_standard_land'), yesNo(p.is_standard_land)],
    [label('is_standard_factory'), yesNo(p.is_standard_factory)],
    ['记录版本', `第 ${p.version} 版`],
  ], 'facts facts-2col');
  const slot = el('div', { class: 'editor-slot no-print' });
  const actions = c.permissions && c.permissions.edit_parcel
    ? [editButton('编辑宗地信息', () => openEditor(slot, PARCEL_EDITOR, p))] : [];
  return panel('sec-facts', '基本信息', [facts, slot], actions);
}

function enterprisesSection(c, results) {
  const showCodes = c.occupancies.some((o) => o.credit_code);
  const canEdit = c.permissions && c.permissions.edit_records;
  const slot = el('div', { class: 'editor-slot no-print' });
  const result = (o) => (results.status === 'ok' && o.credit_code ? results.byCode[o.credit_code] : null);
  const columns = [
    { label: '企业名称', value: (o) => o.enterprise_name },
    showCodes ? { label: label('credit_code'), value: (o) => o.credit_code || '—' } : null,
    { label: label('role'), value: (o) => o.role_label },
    { label: '用地面积', num: true, value: (o) => mu(o.area_mu) },
    { label: '用地期限', value: (o) => `${date(o.start_date)} 至 ${o.end_date ? date(o.end_date) : '今'}` },
    { label: '亩均税收(万元/亩)', num: true, value: (o) => (result(o) ? num(result(o).tax_per_mu_wan) : '—') },
    { label: '亩均产值(万元/亩)', num: true, value: (o) => (result(o) ? num(result(o).output_per_mu_wan) : '—') },
    { label: '评价类别', value: (o) => classCell(result(o)) },
    canEdit ? { label: '操作', value: (o) => el('button', {
      type: 'button', class: 'btn btn-small btn-secondary no-print edit-button',
      text: o.end_date ? '修改终止日期' : '结束用地关系',
      'aria-label': `${o.end_date ? '修改终止日期' : '结束用地关系'}：${o.enterprise_name}`,
      onclick: () => openEditor(slot, OCCUPANCY_EDITOR, o),
    }) } : null,
  ].filter(Boolean);
  let note;
  if (results.status === 'ok') {
    note = `亩均数据和评价类别取自 ${results.run.year} 年度评价（截至 ${results.run.as_of}${results.run.published ? '，已公示' : '，未公示'}）。`;
  } else if (results.status === 'hidden') {
    note = results.message;
  }
  const grid = table(columns, c.occupancies, { empty: '该宗地暂无用地企业' });
  if (canEdit) grid.classList.add('has-actions');  // the print view drops the buttons' column
  return panel('sec-enterprises', '用地企业', [
    el('div', { class: 'table-wrap' }, [grid]),
    note ? el('p', { class: 'muted small', text: note }) : null,
    slot,
  ]);
}

function classCell(r) {
  if (!r) return '—';
  if (r.status === 'not_evaluated') {
    return el('span', null, [tag(r.status_label), r.not_evaluated_reason ? ` ${r.not_evaluated_reason}` : '']);
  }
  const k = r.result_class;
  const kind = { A: 'ok', B: 'warn', C: 'error' }[k];
  return el('span', null, [tag(k ? `${k}类` : (r.status_label || '—'), kind), r.score != null ? ` ${num(r.score)} 分` : '']);
}

/** An agreed date with its state: done (on time / late), overdue, due soon or not yet due. */
function deadline(agreed, actual, doneWord) {
  if (!agreed) return '—';
  if (actual) {
    const late = daysBetween(agreed, actual);
    return el('span', { class: 'deadline' }, [agreed, ' ', late > 0
      ? tag(`${actual} ${doneWord}，晚 ${late} 天`, 'warn') : tag(`${actual} ${doneWord}`, 'ok')]);
  }
  const left = daysBetween(today(), agreed);
  if (left < 0) return el('span', { class: 'deadline overdue' }, [agreed, ' ', tag(`已逾期 ${-left} 天`, 'error')]);
  if (left <= 90) return el('span', { class: 'deadline' }, [agreed, ' ', tag(`${left} 天后到期`, 'warn')]);
  return el('span', { class: 'deadline' }, [agreed, ' ', tag('未到期')]);
}

/** The actual dates matching the agreed start / completion / production dates. */
function actuals(dev) {
  if (!dev) return {};
  return {
    start: dev.actual_start_date,
    completion: dev.completion_result === 'passed' ? dev.completion_date : null,
    production: dev.production_result === 'passed' ? dev.production_date : null,
  };
}

function missing(c, what) {
  const text = c.permissions && c.permissions.edit_records ? `暂无${what}记录。` : `暂无${what}记录，或本账号无权查看。`;
  return el('p', { class: 'muted', text });
}

function contractSection(c) {
  const k = c.contract;
  if (!k) return panel('sec-contract', '供地合同', missing(c, '供地合同'));
  const act = actuals(c.development);
  const slot = el('div', { class: 'editor-slot no-print' });
  const actions = c.permissions && c.permissions.edit_records
    ? [editButton('编辑合同', () => openEditor(slot, CONTRACT_EDITOR, k))] : [];
  return panel('sec-contract', '供地合同', [factList([
    [label('contract_no'), k.contract_no],
    [label('supply_method'), k.supply_method_label],
    [label('signed_date'), date(k.signed_date)],
    [label('term_years'), k.term_years == null ? '—' : `${k.term_years} 年`],
    [label('price_wan'), wan(k.price_wan)],
    [label('agreed_start_date'), deadline(k.agreed_start_date, act.start, '动工')],
    [label('agreed_completion_date'), deadline(k.agreed_completion_date, act.completion, '竣工验收')],
    [label('forbids_split'), yesNo(k.forbids_split)],
    ['记录版本', `第 ${k.version} 版`],
  ]), slot], actions);
}

function agreementSection(c) {
  const a = c.agreement;
  if (!a) return panel('sec-agreement', '履约监管协议', missing(c, '履约监管协议'));
  const act = actuals(c.development);
  const slot = el('div', { class: 'editor-slot no-print' });
  const actions = c.permissions && c.permissions.edit_records
    ? [editButton('编辑协议', () => openEditor(slot, AGREEMENT_EDITOR, a))] : [];
  const n = (f, unit = '') => (a[f] == null ? '—' : `${num(a[f], 3)}${unit}`);
  return panel('sec-agreement', '履约监管协议', [factList([
    [label('signed_date'), date(a.signed_date)],
    [label('agreed_start_date'), deadline(a.agreed_start_date, act.start, '动工')],
    [label('agreed_completion_date'), deadline(a.agreed_completion_date, act.completion, '竣工验收')],
    [label('agreed_production_date'), deadline(a.agreed_production_date, act.production, '达产验收')],
    [label('investment_intensity_wan_per_mu'), n('investment_intensity_wan_per_mu')],
    [label('total_investment_wan'), n('total_investment_wan')],
    [label('plot_ratio'), n('plot_ratio')],
    [label('building_density'), n('building_density')],
    [label('building_coverage'), n('building_coverage')],
    [label('green_ratio'), n('green_ratio')],
    [label('office_living_ratio'), n('office_living_ratio')],
    [label('tax_per_mu_wan'), n('tax_per_mu_wan')],
    [label('output_per_mu_wan'), n('output_per_mu_wan')],
    [label('performance_guarantee_wan'), n('performance_guarantee_wan')],
    ['记录版本', `第 ${a.version} 版`],
  ]), slot], actions);
}

function resultTag(value, labelText) {
  if (!value) return '—';
  return tag(labelText || choiceLabel('completion_result', value), { passed: 'ok', failed: 'error' }[value]);
}

function developmentSection(c) {
  const d = c.development;
  if (!d) return panel('sec-development', '开发建设与验收', missing(c, '开发建设'));
  const slot = el('div', { class: 'editor-slot no-print' });
  const actions = c.permissions && c.permissions.edit_records
    ? [editButton('编辑开发建设情况', () => openEditor(slot, DEVELOPMENT_EDITOR, d))] : [];
  const m2 = (f) => (d[f] == null ? '—' : `${num(d[f])} 平方米`);
  const invest = d.investment_done_wan == null ? '—'
    : `${wan(d.investment_done_wan)}${d.investment_total_wan ? `（占计划总投资 ${pct(d.investment_done_wan / d.investment_total_wan)}）` : ''}`;
  return panel('sec-development', '开发建设与验收', [
    el('div', { class: 'acceptance' }, [
      el('div', { class: 'acceptance-item' }, [el('span', { class: 'muted', text: '竣工验收' }),
        resultTag(d.completion_result, d.completion_result_label), ` ${date(d.completion_date)}`]),
      el('div', { class: 'acceptance-item' }, [el('span', { class: 'muted', text: '达产验收' }),
        resultTag(d.production_result, d.production_result_label), ` ${date(d.production_date)}`]),
    ]),
    factList([
      [label('actual_start_date'), date(d.actual_start_date)],
      [label('stopped_since'), d.stopped_since ? tag(`自 ${d.stopped_since} 停工`, 'error') : '—'],
      [label('developed_area_m2'), m2('developed_area_m2')],
      [label('investment_done_wan'), invest],
      [label('investment_total_wan'), wan(d.investment_total_wan)],
      [label('floor_area_m2'), m2('floor_area_m2')],
      [label('footprint_m2'), m2('footprint_m2')],
      [label('coverage_area_m2'), m2('coverage_area_m2')],
      [label('green_area_m2'), m2('green_area_m2')],
      [label('office_living_area_m2'), m2('office_living_area_m2')],
      ['记录版本', `第 ${d.version} 版`],
    ], 'facts facts-2col'),
    slot,
  ], actions);
}

function figureValue(v) {
  if (v == null) return '—';
  if (typeof v === 'boolean') return yesNo(v);
  if (typeof v === 'number') return num(v, 4);
  if (Array.isArray(v)) return v.length ? v.map((x) => choiceLabel('inefficiency_categories', x)).join('、') : '无';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

function verdictsSection(v) {
  if (v.unavailable) return panel('sec-verdicts', '评价判定', el('p', { class: 'muted', text: v.unavailable }));
  const run = v.run || {};
  const items = (v.verdicts || []).map((x) => {
    const figures = Object.entries(x.figures || {}).filter(([k, val]) => typeof val !== 'object' || Array.isArray(val) || val === null);
    return el('article', { class: 'verdict' }, [
      el('h3', null, [`${x.rule_id} ${RULE_NAMES[x.rule_id] || x.rule}：`, tag(x.outcome_label || x.outcome,
        ['idle', 'inefficient', 'reclaim', 'fee'].some((w) => String(x.outcome).includes(w)) && !String(x.outcome).startsWith('not_') ? 'error' : null)]),
      el('p', { class: 'verdict-label', text: '理由' }),
      el('ul', { class: 'reasons' }, (x.reasons || []).map((r) => el('li', { text: r }))),
      figures.length ? el('details', { class: 'verdict-figures' }, [
        el('summary', { text: '计算所用数据' }),
        factList(figures.map(([k, val]) => [FIGURE_LABELS[k] || label(k), figureValue(val)])),
      ]) : null,
      el('p', { class: 'verdict-label', text: '依据' }),
      el('ul', { class: 'citations' }, (x.citation || []).map((ci) => el('li', null, [
        el('span', { class: 'citation-source', text: ci.source }), '：', el('q', { text: ci.text })]))),
    ]);
  });
  return panel('sec-verdicts', '评价判定', [
    el('p', { class: 'muted small', text: `${run.year} 年度评价（截至 ${run.as_of}，规则库 ${run.rulebook_version}，结果第 ${v.result_version} 版）` }),
    items.length ? el('div', { class: 'verdicts' }, items) : el('p', { class: 'muted', text: '暂无判定。' }),
  ]);
}

/** A value of the archive shown the way the card shows it. */
function shown(field, value) {
  if (value == null || value === '') return '（空）';
  if (field === 'geometry') return '（图形）';
  if (typeof value === 'boolean') return yesNo(value);
  if (Array.isArray(value)) return value.length ? value.map((x) => choiceLabel(field, x)).join('、') : '（无）';
  if (typeof value === 'object') return JSON.stringify(value);
  if (meta.choices[field]) return choiceLabel(field, value);
  return String(value);
}

function historySection(c) {
  const rows = c.history || [];
  const masked = rows.length && rows.every((h) => h.actor === '—');
  const items = rows.map((h) => {
    const before = h.before || {};
    const after = h.after || {};
    const fields = Object.keys(after).filter((k) => k !== 'version' && k !== 'synthetic');
    let detail = null;
    if (h.action === 'create' && fields.length) {
      detail = el('details', { class: 'history-values' }, [el('summary', { text: '新建时的值' }),
        factList(fields.map((k) => [label(k), shown(k, after[k])]))]);
    } else if (fields.length) {
      detail = el('table', { class: 'data-table history-diff' }, [
        el('thead', null, [el('tr', null, [el('th', { scope: 'col', text: '字段' }),
          el('th', { scope: 'col', text: h.action === 'update' ? '修改前' : '当时的值' }),
          el('th', { scope: 'col', text: h.action === 'update' ? '修改后' : '提交的值（未保存）' })])]),
        el('tbody', null, fields.map((k) => el('tr', null, [el('td', { text: label(k) }),
          el('td', { text: shown(k, before[k]) }), el('td', { text: shown(k, after[k]) })]))),
      ]);
    } else if (h.summary && h.action !== 'create') {
      detail = el('p', { class: 'history-summary', text: h.summary });
    }
    const kind = { conflict: 'warn', denied: 'error', delete: 'error' }[h.action];
    return el('li', { class: `history-item${kind ? ` history-${h.action}` : ''}` }, [
      el('div', { class: 'history-when' }, [el('time', { datetime: h.at, text: date(h.at) })]),
      el('div', { class: 'history-what' }, [
        el('p', { class: 'history-title' }, [tag(h.action_label || h.action, kind), ` ${h.entity_label || h.entity}`,
          el('span', { class: 'history-actor', text: ` · 操作人：${h.actor}` })]),
        h.reason ? el('p', { class: 'muted small', text: `原因：${h.reason}` }) : null,
        detail,
      ]),
    ]);
  });
  return panel('sec-history', `一地一档（共 ${rows.length} 条）`, [
    masked ? el('p', { class: 'muted small', text: '本账号只能看到变更内容摘要，操作人和修改前后的值不予显示。' }) : null,
    rows.length ? el('ol', { class: 'history' }, items) : el('p', { class: 'muted', text: '暂无记录。' }),
  ]);
}

// ---- lifecycle -------------------------------------------------------------------------

/** The parcel's life (GET …/lifecycle: state, deadlines due, next steps, steps taken), or null
 *  when the API refuses this account. */
async function loadLifecycle() {
  try {
    const life = await api(`/api/parcels/${enc(code)}/lifecycle`);
    return { ...life, transitions: life.next_steps };
  } catch (err) {
    if (err.status === 401 || err.status === 403 || err.status === 404) return null;
    return { unavailable: `生命周期暂时无法读取：${err.message}` };
  }
}

/** The steps taken so far: who, when, from → to, reason and documents (printed). */
function pastSteps(history) {
  if (!history.length) return el('p', { class: 'muted', text: '尚无流转记录（数据导入时登记的状态不是流转）。' });
  return el('ol', { class: 'history life-history' }, history.map((h) => el('li', { class: 'history-item' }, [
    el('div', { class: 'history-when' }, [el('time', { datetime: h.at, text: date(h.at) })]),
    el('div', { class: 'history-what' }, [
      el('p', { class: 'history-title' }, [tag(h.name), ` ${h.from_label} → ${h.to_label}`,
        el('span', { class: 'history-actor', text: ` · 办理人：${h.actor}` })]),
      h.reason ? el('p', { class: 'muted small', text: `原因：${h.reason}` }) : null,
      h.documents.length ? el('ul', { class: 'life-docs' }, h.documents.map((d) => el('li', {
        text: d.title ? `${d.kind_label}：${d.title}（${d.number}，${d.date}）` : d.kind_label }))) : null,
    ]),
  ])));
}

/** One next step: name → target, possible or not (reasons with their clauses), its form if possible. */
function nextStep(c, life, t) {
  const slot = el('div', { class: 'editor-slot' });
  return el('article', { class: `life-step${t.possible ? ' is-possible' : ''}`, dataset: { key: t.key } }, [
    el('h4', null, [`${t.name} → ${t.to_label}`, ' ', t.possible ? tag('现在可以办理', 'ok') : tag('暂不能办理', 'error')]),
    el('p', { class: 'muted small', text: `依据：${t.basis} · 办理：${t.role_labels.join('、')}` }),
    t.documents.length ? el('p', { class: 'small', text: `所需文件：${t.documents.map((d) => d.label).join('；')}` }) : null,
    t.reasons.length ? el('ul', { class: 'reasons life-reasons' }, t.reasons.map((r) => el('li', { text: r }))) : null,
    t.possible ? el('div', { class: 'btn-row' }, [el('button', {
      type: 'button', class: 'btn btn-small', text: `办理：${t.name}`,
      onclick: () => openTransition(slot, c, life, t),
    })]) : null,
    slot,
  ]);
}

/** Deadlines not yet met: due day, days left or late, the clause, what follows if missed. */
function dueList(life) {
  if (!life.due || !life.due.length) {
    return el('p', { class: 'muted', text: '当前没有未办结的期限。' });
  }
  return el('table', { class: 'data-table life-due' }, [
    el('thead', null, el('tr', null, ['事项', '期限', '状态', '依据', '逾期后果'].map((h) => el('th', { text: h })))),
    el('tbody', null, life.due.map((d) => el('tr', { class: d.status === 'overdue' ? 'is-overdue' : '',
      dataset: { kind: d.kind } }, [
      el('td', { text: d.label }),
      el('td', null, [el('time', { datetime: d.due, text: d.due })]),
      el('td', null, d.status === 'overdue' ? tag(`逾期 ${-d.days_left} 天`, 'error')
        : tag(d.days_left === 0 ? '今日到期' : `剩 ${d.days_left} 天`, d.days_left <= 7 ? 'warn' : null)),
      el('td', { class: 'small', text: d.basis || '—' }),
      el('td', { class: 'small', text: d.consequence || '—' }),
    ]))),
  ]);
}

function lifecycleSection(c, life) {
  if (!life) return null;  // the API refuses this account: nothing to show
  if (life.unavailable) return panel('sec-lifecycle', '生命周期', el('p', { class: 'muted', text: life.unavailable }));
  const canAct = c.permissions && c.permissions.edit_parcel;
  return panel('sec-lifecycle', '生命周期', [
    el('p', { class: 'life-state' }, ['当前状态：', tag(life.state_label,
      ['idle', 'inefficient', 'disposing'].includes(life.state) ? 'error' : null),
    el('span', { class: 'muted small', text: ` 按 ${life.as_of} 判断 · 规则库 ${life.rulebook_version}` })]),
    life.next_due ? el('p', { class: 'life-next-due' }, ['最近到期：', el('strong', { text: life.next_due.label }),
      `，${life.next_due.due}（剩 ${life.next_due.days_left} 天）`]) : null,
    life.restriction && life.restriction.active ? el('p', { class: 'message', dataset: { kind: 'warn' },
      text: `权利限制：${life.restriction.why}` }) : null,
    el('h3', { text: '期限' }),
    dueList(life),
    canAct ? el('div', { class: 'life-next no-print' }, [
      el('h3', { text: '下一步' }),
      life.transitions.length ? el('div', { class: 'life-steps' }, life.transitions.map((t) => nextStep(c, life, t)))
        : el('p', { class: 'muted', text: '该状态没有后续流转。' }),
    ]) : null,
    el('h3', { text: `流转记录（共 ${life.history.length} 条）` }),
    pastSteps(life.history),
  ]);
}

/** The API's problem field for a document ("documents.0.title" or "documents[0].title") → the input's name. */
function transitionField(field) {
  const m = /^documents(?:\.|\[)(\d+)\]?\.(\w+)$/.exec(String(field || ''));
  return m ? `doc-${m[1]}-${m[2]}` : field;
}

/**
 * The form of one step: a reason and one row (title, 文号, date) per required document kind;
 * POSTs the step with the card's version. 422 problems land next to their inputs, the refusal
 * reasons in the form; 409 is the card's conflict view (showConflict) on the parcel's state.
 */
function openTransition(slot, c, life, t) {
  editorSeq += 1;
  const prefix = `tr${editorSeq}`;
  const state = { base: { ...c.parcel }, version: c.parcel.version };
  const message = el('div', { class: 'message', role: 'alert', hidden: true });
  const conflictBox = el('div', { class: 'conflict', hidden: true });
  const input = (name, text, type = 'text', max) => el('div', { class: 'field' }, [
    el('label', { for: `${prefix}-${name}`, text }),
    el('input', { id: `${prefix}-${name}`, name, type, maxlength: max }),
  ]);
  const form = el('form', { class: 'edit-form', novalidate: true, 'aria-label': `办理：${t.name}` }, [
    el('h3', { class: 'edit-title' }, [`办理：${t.name}（${life.state_label} → ${t.to_label}）`,
      el('span', { class: 'muted small edit-version' })]),
    ...t.documents.map((d, i) => el('fieldset', { class: 'field-multi life-doc' }, [
      el('legend', { text: d.label }),
      el('div', { class: 'form-grid' }, [
        input(`doc-${i}-title`, '文件名称', 'text', 200), input(`doc-${i}-number`, '文号', 'text', 100),
        input(`doc-${i}-date`, '日期', 'date')]),
    ])),
    el('div', { class: 'field field-wide' }, [
      el('label', { for: `${prefix}-reason`, text: '办理原因（记入流转记录和一地一档）' }),
      el('input', { id: `${prefix}-reason`, name: 'reason', type: 'text', maxlength: 2000 }),
    ]),
    message,
    conflictBox,
    el('div', { class: 'btn-row' }, [
      el('button', { type: 'submit', class: 'btn', text: '提交办理' }),
      el('button', { type: 'button', class: 'btn btn-secondary', text: '取消', onclick: () => slot.replaceChildren() }),
    ]),
  ]);
  const showVersion = () => {
    form.querySelector('.edit-version').textContent = `（依据第 ${state.version} 版办理）`;
  };

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearProblems(form);
    say(message, '');
    const value = (name) => form.elements.namedItem(name).value.trim();
    const reason = value('reason');
    const body = {
      transition: t.key,
      documents: t.documents.map((d, i) => ({
        kind: d.kind, title: value(`doc-${i}-title`), number: value(`doc-${i}-number`), date: value(`doc-${i}-date`) || null,
      })),
      ...(reason ? { reason } : {}),
    };
    const submit = form.querySelector('button[type="submit"]');
    submit.disabled = true;
    try {
      const saved = await api(`/api/parcels/${enc(code)}/transitions`, { method: 'POST', body, version: state.version });
      slot.replaceChildren();
      say($('card-message'), `已办理“${t.name}”：${saved.transition.from_label} → ${saved.transition.to_label}`
        + `（现为第 ${saved.version} 版）。`, 'ok');
      await load();
      $('card-message').focus();
    } catch (err) {
      if (err.status === 422) {
        const rest = showProblems(form, err.problems.map((p) => ({ ...p, field: transitionField(p.field) })));
        if (rest.length) {
          message.replaceChildren(el('p', { text: '不能办理，原因：' }),
            el('ul', { class: 'reasons' }, rest.map((p) => el('li', { text: p.message }))));
          message.hidden = false;
          message.dataset.kind = 'error';
        } else {
          say(message, '请按提示补全所附文件。', 'error');
        }
      } else if (err.status === 409 && err.current) {
        const mine = { state: t.to };
        showConflict({
          box: conflictBox, message, fields: [{ name: 'state', type: 'select' }, ...PARCEL_EDITOR.fields], base: state.base,
          version: state.version, mine, err, redoText: '在当前版本上重新提交', discardText: '放弃办理',
          onRedo: (_mine, current) => {
            state.base = current;
            state.version = current.version;
            showVersion();
            conflictBox.hidden = true;
            conflictBox.replaceChildren();
            say(message, `已改为依据他人保存的当前版本（第 ${current.version} 版，状态“${choiceLabel('state', current.state)}”）办理，`
              + '您填写的原因和文件已保留；请核对后再次提交。', 'warn');
            submit.focus();
          },
          onDiscard: async () => {
            slot.replaceChildren();
            say($('card-message'), '已放弃办理，下面显示的是当前版本。', 'info');
            await load();
          },
        });
      } else {
        say(message, err.message, 'error');
      }
    } finally {
      submit.disabled = false;
    }
  });

  showVersion();
  say($('card-message'), '');
  slot.replaceChildren(form);
  const first = form.querySelector('input');
  if (first) first.focus();
}

// ---- editing ---------------------------------------------------------------------------

/*
 * An editor spec: fields [{name, type: text|number|int|date|select|bool|multi, nullable}],
 * `path(record)` — the PATCH endpoint, and `title`.
 */
const NUMBER = (name) => ({ name, type: 'number', nullable: true });
const PARCEL_EDITOR = {
  title: '编辑宗地信息',
  path: (r) => `/api/parcels/${enc(r.code)}`,
  fields: [
    { name: 'location', type: 'text', max: 300, wide: true },
    { name: 'land_use', type: 'text', max: 8 },
    // No 'state': a state changes only by a lifecycle transition (POST /api/parcels/{code}/transitions).
    { name: 'land_source', type: 'select', nullable: true },
    { name: 'supply_method', type: 'select', nullable: true },
    { name: 'supply_date', type: 'date', nullable: true },
    { name: 'term_years', type: 'int', nullable: true },
    NUMBER('price_wan'), NUMBER('plot_ratio_min'), NUMBER('plot_ratio_max'), NUMBER('building_density_min'),
    NUMBER('green_ratio_max'), NUMBER('height_limit_m'),
    { name: 'is_standard_land', type: 'bool' },
    { name: 'is_standard_factory', type: 'bool' },
    { name: 'inefficiency_categories', type: 'multi', wide: true },
  ],
};
const CONTRACT_EDITOR = {
  title: '编辑供地合同',
  path: (r) => `/api/contracts/${r.id}`,
  fields: [
    { name: 'contract_no', type: 'text', max: 60 },
    { name: 'supply_method', type: 'select' },
    { name: 'signed_date', type: 'date' },
    { name: 'term_years', type: 'int' },
    { name: 'price_wan', type: 'number' },
    { name: 'agreed_start_date', type: 'date' },
    { name: 'agreed_completion_date', type: 'date' },
    { name: 'forbids_split', type: 'bool' },
  ],
};
const AGREEMENT_EDITOR = {
  title: '编辑履约监管协议',
  path: (r) => `/api/agreements/${r.id}`,
  fields: [
    { name: 'signed_date', type: 'date' },
    { name: 'agreed_start_date', type: 'date' },
    { name: 'agreed_completion_date', type: 'date' },
    { name: 'agreed_production_date', type: 'date' },
    ...['investment_intensity_wan_per_mu', 'total_investment_wan', 'plot_ratio', 'building_density',
      'building_coverage', 'green_ratio', 'office_living_ratio', 'tax_per_mu_wan', 'output_per_mu_wan',
      'performance_guarantee_wan'].map(NUMBER),
  ],
};
const DEVELOPMENT_EDITOR = {
  title: '编辑开发建设情况',
  path: () => `/api/parcels/${enc(code)}/development`,
  fields: [
    { name: 'actual_start_date', type: 'date', nullable: true },
    { name: 'stopped_since', type: 'date', nullable: true },
    { name: 'completion_result', type: 'select' },
    { name: 'completion_date', type: 'date', nullable: true },
    { name: 'production_result', type: 'select' },
    { name: 'production_date', type: 'date', nullable: true },
    ...['developed_area_m2', 'investment_done_wan', 'investment_total_wan', 'floor_area_m2', 'footprint_m2',
      'coverage_area_m2', 'green_area_m2', 'office_living_area_m2'].map(NUMBER),
  ],
};
const OCCUPANCY_EDITOR = {
  title: '用地关系终止日期',
  path: (r) => `/api/occupancies/${r.id}`,
  describe: (r) => `${r.enterprise_name}（${r.role_label}）`,
  fields: [{ name: 'end_date', type: 'date', nullable: true }],
};

let editorSeq = 0;

/** A record's value of a field in the form's terms (comparable with what the form holds). */
function normal(field, value) {
  if (field.type === 'multi') return [...(value || [])].sort();
  if (field.type === 'bool') return !!value;
  if (value === undefined || value === '') return null;
  return value;
}

function same(a, b) {
  return JSON.stringify(a) === JSON.stringify(b);
}

function display(field, value) {
  if (field.type === 'bool') return yesNo(value);
  if (field.type === 'multi') return value && value.length ? value.map((v) => choiceLabel(field.name, v)).join('、') : '（无）';
  if (value == null || value === '') return '（空）';
  if (field.type === 'select') return choiceLabel(field.name, value);
  if (field.type === 'number' || field.type === 'int') return num(value, 4);
  return String(value);
}

function control(field, id) {
  const name = field.name;
  if (field.type === 'bool') {
    return el('div', { class: 'field field-check' }, [el('label', { for: id }, [
      el('input', { type: 'checkbox', id, name }), ` ${label(name)}`])]);
  }
  if (field.type === 'multi') {
    // The fieldset carries the name so that API problems for the field land after it.
    return el('fieldset', { class: 'field field-multi', name, id }, [
      el('legend', { text: label(name) }),
      el('div', { class: 'checks' }, (meta.choices[name] || []).map((c) => el('label', null, [
        el('input', { type: 'checkbox', value: c.value, dataset: { group: name } }), ` ${c.label}`]))),
    ]);
  }
  let input;
  if (field.type === 'select') {
    input = el('select', { id, name }, [
      field.nullable ? el('option', { value: '', text: '（空）' }) : null,
      ...(meta.choices[name] || []).map((c) => el('option', { value: c.value, text: c.label })),
    ]);
  } else {
    const type = { number: 'number', int: 'number', date: 'date', text: 'text' }[field.type];
    input = el('input', { id, name, type, maxlength: field.max, step: field.type === 'int' ? '1' : field.type === 'number' ? 'any' : null });
  }
  return el('div', { class: `field${field.wide ? ' field-wide' : ''}` }, [el('label', { for: id, text: label(name) }), input]);
}

function setValue(form, field, value) {
  if (field.type === 'multi') {
    const set = new Set(value || []);
    form.querySelectorAll(`input[data-group="${field.name}"]`).forEach((box) => { box.checked = set.has(box.value); });
    return;
  }
  const input = form.elements.namedItem(field.name);
  if (field.type === 'bool') input.checked = !!value;
  else input.value = value == null ? '' : String(value);
}

/** The form's value of a field, or {bad: message} when the input cannot be read. */
function getValue(form, field) {
  if (field.type === 'multi') {
    return [...form.querySelectorAll(`input[data-group="${field.name}"]`)].filter((b) => b.checked).map((b) => b.value).sort();
  }
  const input = form.elements.namedItem(field.name);
  if (field.type === 'bool') return input.checked;
  if (input.validity && input.validity.badInput) return { bad: '请输入有效的数字或日期' };
  const v = input.value;
  if (field.type === 'number' || field.type === 'int') return v.trim() === '' ? null : Number(v);
  if (field.type === 'text') return v;
  return v === '' ? null : v;
}

/**
 * 409, for every form of the card: the user's values beside the current version (the 409
 * body's `current`) for `fields` — those the user changed (`mine`) or someone else did since
 * `base` (read at `version`) — marking fields both sides changed. "Redo" calls
 * `onRedo(mine, current)`, "discard" `onDiscard()`.
 */
function showConflict({ box, message, fields, base, version, mine, err, onRedo, onDiscard,
  redoText = '在当前版本上重做我的修改', discardText = '放弃我的修改' }) {
  const current = err.current;
  const rows = fields.filter((f) => f.name in mine
    || !same(normal(f, current[f.name]), normal(f, base[f.name])));
  box.replaceChildren(
    el('h4', { text: '该记录已被他人修改' }),
    el('p', { text: `${err.message}。下表左侧是您的修改，右侧是他人保存后的当前版本（第 ${current.version} 版）。` }),
    el('div', { class: 'table-wrap' }, [el('table', { class: 'data-table conflict-table' }, [
      el('thead', null, [el('tr', null, [
        el('th', { scope: 'col', text: '字段' }),
        el('th', { scope: 'col', text: `您开始修改时（第 ${version} 版）` }),
        el('th', { scope: 'col', class: 'col-mine', text: '您的版本（未保存）' }),
        el('th', { scope: 'col', class: 'col-current', text: `当前版本（第 ${current.version} 版）` }),
      ])]),
      el('tbody', null, rows.map((f) => {
        const changedByMe = f.name in mine;
        const changedByOther = !same(normal(f, current[f.name]), normal(f, base[f.name]));
        const clash = changedByMe && changedByOther && !same(mine[f.name], normal(f, current[f.name]));
        return el('tr', { class: clash ? 'clash' : null }, [
          el('th', { scope: 'row' }, [label(f.name), clash ? tag('双方都改了', 'error') : null]),
          el('td', { text: display(f, base[f.name]) }),
          el('td', { class: changedByMe ? 'col-mine changed' : 'col-mine', text: changedByMe ? display(f, mine[f.name]) : '（未改）' }),
          el('td', { class: changedByOther ? 'col-current changed' : 'col-current', text: display(f, current[f.name]) }),
        ]);
      })),
    ])]),
    el('div', { class: 'btn-row' }, [
      el('button', { type: 'button', class: 'btn', text: redoText, onclick: () => onRedo(mine, current) }),
      el('button', { type: 'button', class: 'btn btn-secondary', text: discardText, onclick: onDiscard }),
    ]),
  );
  box.hidden = false;
  say(message, '');
  box.querySelector('button').focus();
}

/**
 * Open an edit form for `record` in `slot` (replacing any editor there). Saves only the fields
 * the user changed, against the version the form was filled from.
 */
function openEditor(slot, spec, record) {
  editorSeq += 1;
  const prefix = `ed${editorSeq}`;
  const state = { base: record, version: record.version, mine: new Set() };
  const message = el('div', { class: 'message', role: 'alert', hidden: true });
  const conflictBox = el('div', { class: 'conflict', hidden: true });
  const form = el('form', { class: 'edit-form', novalidate: true, 'aria-label': spec.title }, [
    el('h3', { class: 'edit-title' }, [spec.title, spec.describe ? `：${spec.describe(record)}` : '',
      el('span', { class: 'muted small edit-version' })]),
    el('div', { class: 'form-grid' }, spec.fields.map((f) => control(f, `${prefix}-${f.name}`))),
    el('div', { class: 'field field-wide' }, [
      el('label', { for: `${prefix}-reason`, text: '修改原因（记入一地一档）' }),
      el('input', { id: `${prefix}-reason`, name: 'reason', type: 'text', maxlength: 500 }),
    ]),
    message,
    conflictBox,
    el('div', { class: 'btn-row' }, [
      el('button', { type: 'submit', class: 'btn', text: '保存' }),
      el('button', { type: 'button', class: 'btn btn-secondary', text: '取消', onclick: () => slot.replaceChildren() }),
    ]),
  ]);

  function fill(values) {
    for (const f of spec.fields) setValue(form, f, values[f.name]);
    form.querySelector('.edit-version').textContent = `（依据第 ${state.version} 版修改）`;
  }

  function changes() {
    const out = {};
    const bad = [];
    for (const f of spec.fields) {
      const v = getValue(form, f);
      if (v && typeof v === 'object' && !Array.isArray(v) && v.bad) {
        bad.push({ field: f.name, message: `${label(f.name)}：${v.bad}` });
        continue;
      }
      if (!same(v, normal(f, state.base[f.name]))) out[f.name] = v;
    }
    return { out, bad };
  }

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearProblems(form);
    say(message, '');
    const { out, bad } = changes();
    if (bad.length) {
      showProblems(form, bad);
      return;
    }
    if (!Object.keys(out).length) {
      say(message, '没有修改任何内容。', 'warn');
      return;
    }
    const reason = form.elements.namedItem('reason').value.trim();
    const submit = form.querySelector('button[type="submit"]');
    submit.disabled = true;
    try {
      const saved = await api(spec.path(state.base), {
        method: 'PATCH', body: { ...out, ...(reason ? { reason } : {}) }, version: state.version,
      });
      slot.replaceChildren();
      say($('card-message'), `已保存${spec.title.replace(/^编辑/, '')}（现为第 ${saved.version} 版）。`, 'ok');
      await load();
      $('card-message').focus();  // the form is gone: keyboard users land on the confirmation
    } catch (err) {
      if (err.status === 422) {
        const rest = showProblems(form, err.problems);
        say(message, rest.length ? rest.map((p) => p.message).join('；') : `${err.message}`, 'error');
      } else if (err.status === 409 && err.current) {
        showConflict({
          box: conflictBox, message, fields: spec.fields, base: state.base, version: state.version, mine: out, err,
          onRedo: redo,
          onDiscard: async () => {
            slot.replaceChildren();
            say($('card-message'), '已放弃您的修改，下面显示的是当前版本。', 'info');
            await load();
          },
        });
      } else {
        say(message, err.message, 'error');
      }
    } finally {
      submit.disabled = false;
    }
  });

  function redo(mine, current) {
    state.base = current;
    state.version = current.version;
    fill(current);
    form.querySelectorAll('.mine-note').forEach((n) => n.remove());
    form.querySelectorAll('.is-mine').forEach((n) => n.classList.remove('is-mine'));
    for (const f of spec.fields) {
      if (!(f.name in mine)) continue;
      setValue(form, f, mine[f.name]);
      const box = (form.elements.namedItem(f.name) || form.querySelector(`[name="${f.name}"]`));
      const holder = f.type === 'multi' ? box : box.closest('.field');
      holder.classList.add('is-mine');
      holder.append(el('p', { class: 'mine-note', text: `您的修改；当前版本为：${display(f, current[f.name])}` }));
    }
    conflictBox.hidden = true;
    conflictBox.replaceChildren();
    say(message, `已载入他人保存的当前版本（第 ${current.version} 版），您的修改已保留并以黄色标出；请核对后再次保存。`, 'warn');
    const first = form.querySelector('.is-mine input, .is-mine select');
    if (first) first.focus();
  }

  fill(record);
  say($('card-message'), '');
  slot.replaceChildren(form);
  const first = form.querySelector('input, select');
  if (first) first.focus();
}

// ---- start -----------------------------------------------------------------------------

async function main() {
  user = await renderShell({ active: '', requireLogin: true });
  $('print-card').addEventListener('click', () => window.print());
  await loadMeta();
  await load();
}

main();
