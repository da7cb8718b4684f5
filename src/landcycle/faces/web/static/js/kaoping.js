/*
 * 考评 (/work/kaoping): a round (year, period) from GET /api/kaoping/{year}?period= — the
 * scheme (areas, items, points), the year's rhythm, the round's state and the participants the
 * caller may read (the city: all; others: their own unit) — and the rankings from
 * GET /api/kaoping/{year}/ranking (drafts only for the city; 404 before publishing for others).
 * Forms: the caller's own 自评 (POST /api/kaoping/{year}/scores, source=self, with the version
 * read), the office's scores and 发布 for the city admin (source=office; POST …/publish with the
 * round's version). 422 problems land next to the item's input; 409 (someone saved first) shows
 * the API's message and reloads the current version. The year and period live in the URL.
 */
import { $, api, clearProblems, date, el, fillYearOptions, num, query, renderShell, say } from './common.js';

const STATUS_LABEL = { none: '尚未开始', draft: '评分中（未发布）', published: '已发布' };
const state = { year: '', period: 'annual', office: '' };
let user = null;
let round = null;
let loadSeq = 0;

function readUrl() {
  const q = new URLSearchParams(location.search);
  const y = Number(q.get('year'));
  state.year = Number.isInteger(y) && y >= 2000 && y <= 2100 ? String(y) : String(new Date().getFullYear());
  if (q.get('period')) state.period = q.get('period');
  if (q.get('office')) state.office = q.get('office');
}

function writeUrl() {
  history.replaceState(null, '', location.pathname + query({
    year: state.year, period: state.period === 'annual' ? '' : state.period, office: state.office }));
}


/** The areas of the scheme, in order (ranking columns). */
function areas() {
  return round ? round.scheme.areas : [];
}

// ---- rankings --------------------------------------------------------------------------

function rankingTable(category, label, rows) {
  const withAreas = rows.some((r) => r.areas);
  const t = el('table', { class: 'data-table ranking-table', id: `ranking-${category}`, dataset: { category } });
  t.append(el('caption', { text: `${label}（${rows.length} 个单位）` }));
  const heads = [['名次', 'num col-rank'], ['单位', 'col-name'], ['总分', 'num col-total']];
  if (withAreas) {
    for (const a of areas()) heads.push([`${a.label}（${num(a.points)}）`, 'num area']);
    heads.push(['未确认事项', 'num col-unconfirmed'], ['约谈', 'col-interview']);
  }
  t.append(el('thead', null, [el('tr', null, heads.map(([h, c]) => el('th', { scope: 'col', class: c || null, text: h })))]));
  const tbody = el('tbody');
  if (!rows.length) tbody.append(el('tr', null, [el('td', { colspan: heads.length, class: 'empty', text: '暂无考评对象' })]));
  for (const r of rows) {
    const cells = [
      el('td', { class: 'num rank', text: String(r.rank) }),
      el('td', { class: 'name', text: r.name }),
      el('td', { class: 'num total', text: num(r.total) }),
    ];
    if (withAreas) {
      for (const a of areas()) cells.push(el('td', { class: 'num', text: num(r.areas?.[a.code]) }));
      cells.push(el('td', { class: 'num', text: r.unconfirmed_items ? String(r.unconfirmed_items) : '—' }));
      cells.push(el('td', null, [r.interview ? el('span', { class: 'tag tag-error', text: '约谈' }) : '—']));
    }
    tbody.append(el('tr', { dataset: { code: r.code } }, cells));
  }
  t.append(tbody);
  return el('div', { class: 'table-wrap' }, [t]);
}

function renderInterviews(rankings, categories) {
  const rows = [];
  for (const [cat, list] of Object.entries(rankings)) {
    for (const r of list) if (r.interview) rows.push({ ...r, category_label: categories[cat] });
  }
  const visible = Object.values(rankings).some((list) => list.some((r) => 'interview' in r));
  $('interview-panel').hidden = !visible;
  if (!visible) return;
  const t = el('table', { class: 'data-table', id: 'interview-table' });
  t.append(el('thead', null, [el('tr', null, ['类别', '单位', '总分', '名次', '原因'].map((h) => el('th', { scope: 'col', text: h })))]));
  const tbody = el('tbody');
  if (!rows.length) tbody.append(el('tr', null, [el('td', { colspan: 5, class: 'empty', text: '本轮没有需要约谈的单位' })]));
  for (const r of rows) {
    tbody.append(el('tr', { dataset: { code: r.code } }, [
      el('td', { text: r.category_label }), el('td', { text: r.name }), el('td', { class: 'num', text: num(r.total) }),
      el('td', { class: 'num', text: String(r.rank) }), el('td', { text: (r.interview_reasons || []).join('；') }),
    ]));
  }
  t.append(tbody);
  $('interviews').replaceChildren(t);
}

async function loadRankings() {
  try {
    const page = await api(`/api/kaoping/${state.year}/ranking${query({ period: state.period })}`);
    $('rankings').replaceChildren(
      el('p', { class: 'muted', text: `${page.title}：${STATUS_LABEL[page.status] || page.status}${page.status === 'published' ? '' : '（仅市领导小组办公室可见）'}；并列名次按 1、2、2、4 排列。` }),
      ...Object.entries(page.rankings).map(([cat, rows]) => rankingTable(cat, page.categories[cat], rows)),
    );
    renderInterviews(page.rankings, page.categories);
    exportLink(true);
  } catch (err) {
    $('interview-panel').hidden = true;
    exportLink(false);
    const text = err.status === 404 ? '本轮考评结果尚未发布，发布后可查看排名。' : err.message;
    $('rankings').replaceChildren(el('p', { class: 'note', id: 'ranking-note', text }));
  }
}

// ---- score forms -----------------------------------------------------------------------

/**
 * The items of the scheme as a form: max points, the other side's score (office form: the
 * self-assessment), the score input and evidence. `source` = self | office.
 */
function scoreForm(part, source) {
  const closed = round.round && round.round.status === 'published';
  const version = part.versions[source];
  const id = `${source}-form-${part.code}`;
  const msg = el('p', { class: 'message', role: 'alert', hidden: true });
  const t = el('table', { class: 'data-table score-table' });
  const heads = ['方面', '考评事项', '分值'];
  if (source === 'office') heads.push('自评', '自评依据');
  heads.push(source === 'self' ? '自评得分' : '评分', source === 'self' ? '自评依据' : '评分依据');
  if (source === 'self' && part.office_visible) heads.push('办公室评分');
  t.append(el('thead', null, [el('tr', null, heads.map((h) => el('th', { scope: 'col', text: h })))]));
  const tbody = el('tbody');
  const areaLabel = Object.fromEntries(round.scheme.areas.map((a) => [a.code, a.label]));
  part.items.forEach((it, i) => {
    const mine = source === 'self' ? it.self : it.office;
    const evidence = source === 'self' ? it.self_evidence : it.office_evidence;
    const cells = [
      el('td', { class: 'area', text: areaLabel[it.area] || it.area }),
      el('td', { text: it.label }),
      el('td', { class: 'num', text: num(it.points) }),
    ];
    if (source === 'office') {
      cells.push(el('td', { class: 'num', text: num(it.self) }), el('td', { class: 'evidence', text: it.self_evidence || '—' }));
    }
    // the API names a problem "scores[N].score" with N counted from 1 over the items sent
    cells.push(
      el('td', { class: 'score' }, [el('input', {
        type: 'number', min: 0, max: it.points, step: 'any', name: `score-${it.item}`, id: `${id}-${it.item}`,
        value: mine == null ? '' : mine, 'aria-label': `${it.label}（满分 ${num(it.points)}）`, disabled: closed,
        dataset: { item: it.item, index: i },
      })]),
      el('td', { class: 'evidence' }, [el('input', {
        type: 'text', maxlength: 2000, name: `evidence-${it.item}`, value: evidence || '',
        'aria-label': `${it.label}的依据`, disabled: closed,
      })]),
    );
    if (source === 'self' && part.office_visible) cells.push(el('td', { class: 'num', text: num(it.office) }));
    tbody.append(el('tr', { dataset: { item: it.item } }, cells));
  });
  t.append(tbody);
  const totals = source === 'self'
    ? `自评合计 ${num(part.self_total)} 分；当前得分 ${num(part.total)} 分${part.unconfirmed_items ? `（${part.unconfirmed_items} 项未经办公室确认）` : ''}`
    : `当前得分 ${num(part.total)} 分（办公室未评分的事项按自评计，未确认 ${part.unconfirmed_items} 项）`;
  const form = el('form', { class: 'office-form score-form', id, novalidate: true,
    dataset: { participant: part.code, category: part.category, version } }, [
    el('p', { class: 'score-total', text: `${part.name}（${part.category_label}）：${totals}；${source === 'self' ? '自评' : '评分'}已提交 ${version} 次。` }),
    el('div', { class: 'table-wrap' }, [t]),
    el('div', { class: 'field field-block' }, [
      el('label', { for: `${id}-note`, text: '说明' }),
      el('input', { type: 'text', id: `${id}-note`, name: 'note', maxlength: 500, disabled: closed }),
    ]),
    msg,
    closed
      ? el('p', { class: 'note', text: '本轮已发布，不再接受自评和评分。' })
      : el('div', { class: 'btn-row' }, [el('button', { type: 'submit', class: 'btn', text: source === 'self' ? '提交自评' : '提交评分' })]),
  ]);
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    submitScores(form, part, source, msg);
  });
  return form;
}

/** The items with a score typed in (an empty box is not sent: the item keeps its last score). */
function typedScores(form) {
  const scores = [];
  const inputs = [];
  for (const input of form.querySelectorAll('input[data-item]')) {
    if (input.value.trim() === '') continue;
    const item = input.dataset.item;
    const evidence = form.querySelector(`[name="evidence-${CSS.escape(item)}"]`).value.trim();
    scores.push({ item, score: Number(input.value), ...(evidence ? { evidence } : {}) });
    inputs.push(input);
  }
  return { scores, inputs };
}

/** "scores[3].score" → the input of the third item sent. */
function placeProblems(form, problems, inputs) {
  const rest = [];
  clearProblems(form);
  for (const p of problems || []) {
    const m = /^scores\[(\d+)\]/.exec(p.field || '');
    const input = m && inputs[Number(m[1]) - 1];
    if (!input) {
      rest.push(p);
      continue;
    }
    input.setAttribute('aria-invalid', 'true');
    const pid = `${input.id}-problem`;
    input.setAttribute('aria-describedby', pid);
    input.insertAdjacentElement('afterend', el('p', { class: 'field-problem', id: pid, role: 'alert', text: p.message }));
  }
  form.querySelector('[aria-invalid="true"]')?.focus();
  return rest;
}

async function submitScores(form, part, source, msg) {
  say(msg, '');
  const { scores, inputs } = typedScores(form);
  if (!scores.length) {
    say(msg, '请至少填写一个事项的得分', 'error');
    return;
  }
  const note = form.querySelector('[name=note]').value.trim();
  const body = { category: part.category, participant: part.code, source, period: state.period, scores,
    version: Number(form.dataset.version), ...(note ? { note } : {}) };
  try {
    const saved = await api(`/api/kaoping/${state.year}/scores`, { method: 'POST', body });
    await load();
    say($('message'), `已提交${part.name}的${source === 'self' ? '自评' : '评分'}：当前得分 ${num(saved.total)} 分`, 'ok');
  } catch (err) {
    if (err.status === 409) {
      await load();
      say($('message'), `该记录已被他人修改：${err.message}。已载入当前版本，请核对后重新填写提交。`, 'warn');
      return;
    }
    const rest = placeProblems(form, err.problems, inputs);
    say(msg, rest.length ? rest.map((p) => p.message).join('；') : err.message, 'error');
  }
}

function renderSelf() {
  const own = user.role === 'city_admin' ? [] : round.participants;
  $('self-panel').hidden = !own.length;
  $('self-forms').replaceChildren(...own.map((p) => scoreForm(p, 'self')));
}

async function renderOffice() {
  const isCity = user.role === 'city_admin';
  $('office-panel').hidden = !isCity;
  if (!isCity) return;
  const parts = round.participants;
  const select = $('office-participant');
  select.replaceChildren(...Object.entries(round.categories).map(([cat, label]) => el('optgroup', { label },
    parts.filter((p) => p.category === cat).map((p) => el('option', { value: `${p.category}/${p.code}`, text: `${p.name}（${num(p.total)} 分）` })))));
  if (!parts.some((p) => `${p.category}/${p.code}` === state.office)) state.office = parts.length ? `${parts[0].category}/${parts[0].code}` : '';
  select.value = state.office;
  const part = parts.find((p) => `${p.category}/${p.code}` === state.office);
  $('office-form').replaceChildren(part ? scoreForm(part, 'office') : el('p', { class: 'note', text: '暂无考评对象' }));
}

function renderRound() {
  const info = round.round;
  const status = info ? info.status : 'none';
  $('round-state').textContent = `${round.year} 年${round.period_label}考评：${STATUS_LABEL[status] || status}`
    + (info ? `（版本 ${info.version}${info.published_at ? `，${date(info.published_at)} 发布` : ''}）` : '');
  const actions = [];
  if (user.role === 'city_admin' && info && status !== 'published') {
    actions.push(el('button', { type: 'button', class: 'btn', id: 'publish', text: '发布考评结果', onclick: () => publish(info.version) }));
  }
  $('round-actions').replaceChildren(...actions);
}

async function publish(version) {
  if (!confirm(`发布 ${state.year} 年${round.period_label}考评结果？发布后各单位可见排名，不再接受自评和评分。`)) return;
  say($('message'), '');
  try {
    await api(`/api/kaoping/${state.year}/publish`, { method: 'POST', body: { period: state.period, version } });
    await load();
    say($('message'), '考评结果已发布', 'ok');
  } catch (err) {
    if (err.status === 409) {
      await load();
      say($('message'), `该记录已被他人修改：${err.message}。已载入当前状态。`, 'warn');
      return;
    }
    say($('message'), err.message, 'error');
  }
}

function renderRhythm() {
  const t = el('table', { class: 'data-table' });
  t.append(el('thead', null, [el('tr', null, ['日期', '事项', '依据'].map((h) => el('th', { scope: 'col', text: h })))]));
  t.append(el('tbody', null, round.rhythm.map((r) => el('tr', null, [
    el('td', { class: 'due', text: r.date }), el('td', { text: r.label }), el('td', { class: 'muted', text: r.clause }),
  ]))));
  $('rhythm').replaceChildren(t);
}

/** The ranking as an Excel workbook (GET …/ranking.xlsx, same visibility as the ranking). */
function exportLink(shown) {
  $('export').replaceChildren(shown ? el('a', {
    class: 'btn btn-secondary btn-small', id: 'ranking-xlsx', download: true,
    href: `/api/kaoping/${state.year}/ranking.xlsx${query({ period: state.period })}`, text: '下载排名 Excel' }) : '');
}

async function load() {
  $('year').value = state.year;
  $('period').value = state.period;
  writeUrl();
  const seq = ++loadSeq;
  say($('message'), '');
  try {
    const data = await api(`/api/kaoping/${state.year}${query({ period: state.period })}`);
    if (seq !== loadSeq) return;
    round = data;
    renderRound();
    renderRhythm();
    await loadRankings();
    renderSelf();
    await renderOffice();
  } catch (err) {
    if (seq === loadSeq) say($('message'), err.message, 'error');
  }
}

async function main() {
  user = await renderShell({ active: 'kaoping', requireLogin: true });
  readUrl();
  fillYearOptions($('year'), state.year);
  for (const id of ['year', 'period']) {
    $(id).addEventListener('change', () => {
      state[id] = $(id).value;
      load();
    });
  }
  $('office-participant').addEventListener('change', () => {
    state.office = $('office-participant').value;
    writeUrl();
    renderOffice();
  });
  $('filters').addEventListener('submit', (ev) => ev.preventDefault());
  await load();
}

main();
