/*
 * landcycle web face — what every page shares: talking to the API, building DOM safely,
 * the page header (navigation, who is signed in), number/date formats, and showing the
 * API's validation problems next to the form fields they name.
 *
 * Plain ES modules, no bundler: each page loads `/static/js/<page>.js` as a module and
 * imports from here. API data is never parsed as HTML: text goes in through el()/textContent.
 *
 * Signing in: the API sets an HttpOnly session cookie and a readable `landcycle_csrf`
 * cookie; every unsafe request echoes the latter in `X-CSRF-Token` (double submit).
 */

export const SQM_PER_MU = 10000 / 15;

/** document.getElementById */
export function $(id) {
  return document.getElementById(id);
}

/**
 * Create an element. `attrs`: `class`, `text`, `on<event>` (a function), `dataset` (object),
 * `hidden`/`disabled`/`checked`/`selected` (booleans) or any attribute.
 * `children`: nodes or strings (inserted as text); null/undefined/false are skipped.
 */
export function el(tag, attrs, children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null || v === false) continue;
    if (k === 'class') node.className = v;
    else if (k === 'text') node.textContent = v;
    else if (k === 'dataset') Object.assign(node.dataset, v);
    else if (k.startsWith('on') && typeof v === 'function') node.addEventListener(k.slice(2), v);
    else if (v === true) node.setAttribute(k, '');
    else node.setAttribute(k, String(v));
  }
  for (const c of [].concat(children ?? [])) {
    if (c == null || c === false) continue;
    node.append(c instanceof Node ? c : String(c));
  }
  return node;
}

/** An error answered by the API: HTTP status plus the body's code, message, problems, current. */
export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `请求失败（HTTP ${status}）`);
    this.status = status;
    this.code = body && body.code;
    this.problems = (body && body.problems) || [];
    this.current = body && body.current;
    this.body = body;
  }
}

function cookie(name) {
  const hit = document.cookie.split('; ').find((c) => c.startsWith(name + '='));
  return hit ? decodeURIComponent(hit.slice(name.length + 1)) : '';
}

/**
 * Call the API. `opts.method` (GET), `opts.body` (object → JSON) or `opts.form` (FormData),
 * `opts.version` (→ If-Match for optimistic locking), `opts.raw` (return the Response).
 * Resolves to the parsed JSON; rejects with ApiError carrying the API's Chinese message.
 */
export async function api(path, opts = {}) {
  const method = (opts.method || 'GET').toUpperCase();
  const headers = { Accept: 'application/json, application/geo+json', ...(opts.headers || {}) };
  let body;
  if (opts.form) body = opts.form;
  else if (opts.body !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(opts.body);
  }
  if (!['GET', 'HEAD', 'OPTIONS'].includes(method)) {
    const csrf = cookie('landcycle_csrf');
    if (csrf) headers['X-CSRF-Token'] = csrf;
  }
  if (opts.version != null) headers['If-Match'] = `"${opts.version}"`;
  let res;
  try {
    res = await fetch(path, { method, headers, body, credentials: 'same-origin', signal: opts.signal });
  } catch (err) {
    if (err.name === 'AbortError') throw err;
    throw new ApiError(0, { code: 'network', message: '无法连接服务器，请检查网络后重试' });
  }
  if (opts.raw && res.ok) return res;
  const type = res.headers.get('Content-Type') || '';
  const data = type.includes('json') ? await res.json().catch(() => null) : null;
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}

/** Query string from an object, skipping empty values. */
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v == null || v === '') continue;
    if (Array.isArray(v)) v.forEach((x) => q.append(k, x));
    else q.append(k, v);
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

let mePromise = null;

/** Who is calling (`/api/auth/me`); role "public" when not signed in. Cached per page. */
export function currentUser() {
  if (!mePromise) {
    mePromise = api('/api/auth/me').catch((err) => {
      if (err.status === 401) return { role: 'public', role_label: '社会公众' };
      throw err;
    });
  }
  return mePromise;
}

/** True when `user` is signed in (any role but the public). */
export function signedIn(user) {
  return !!user && user.role !== 'public';
}

/** Send the visitor to the sign-in page, coming back here afterwards. */
export function goToLogin() {
  const next = location.pathname + location.search + location.hash;
  location.assign(`/login?next=${encodeURIComponent(next)}`);
}

// Navigation: public entries for everyone, workbench entries once signed in. The daily pages
// are top-level; the 百园增效 office pages sit under one disclosure menu (a group: `items`).
const PUBLIC_NAV = [
  { href: '/', label: '云上看地', key: 'portal' },
];
const WORK_NAV = [
  { href: '/work', label: '驾驶舱', key: 'dashboard' },
  { href: '/work/map', label: '宗地地图', key: 'map' },
  { href: '/work/ledgers', label: '宗地台账', key: 'ledgers' },
  { href: '/work/warnings', label: '预警', key: 'warnings' },
  { href: '/work/import', label: '标图入库', key: 'import' },
  {
    label: '百园增效', key: 'office', items: [
      { href: '/work/plans', label: '计划任务', key: 'plans' },
      { href: '/work/kaoping', label: '考评', key: 'kaoping' },
      { href: '/work/quota', label: '增存挂钩', key: 'quota' },
      { href: '/work/disposal', label: '处置台账', key: 'disposal' },
      { href: '/work/oversight', label: '挂牌督办', key: 'oversight' },
      { href: '/work/supply-lists', label: '供地清单', key: 'supply-lists' },
      { href: '/work/bulletins', label: '季度通报', key: 'bulletins' },
    ],
  },
];

function navLink(item, active) {
  return el('a', { href: item.href, 'aria-current': item.key === active ? 'page' : null, text: item.label });
}

/**
 * A disclosure menu of the header (button with aria-expanded + a list of links): opens on click,
 * Enter/Space or ArrowDown (then focuses the first link); closes on Escape (focus back on the
 * button), on a click outside and when focus leaves it.
 */
function navMenu(group, active) {
  const listId = `nav-menu-${group.key}`;
  const current = group.items.find((i) => i.key === active);
  const button = el('button', {
    type: 'button', class: `nav-menu-button${current ? ' is-current' : ''}`, 'aria-expanded': 'false',
    'aria-controls': listId,
  }, [group.label, current ? el('span', { class: 'nav-menu-current', text: ` · ${current.label}` }) : null]);
  const list = el('ul', { class: 'nav-menu-list', id: listId, hidden: true },
    group.items.map((i) => el('li', null, [navLink(i, active)])));
  const li = el('li', { class: 'nav-menu' }, [button, list]);
  const setOpen = (open) => {
    button.setAttribute('aria-expanded', String(open));
    list.hidden = !open;
    li.classList.toggle('is-open', open);
  };
  button.addEventListener('click', () => setOpen(list.hidden));
  button.addEventListener('keydown', (ev) => {
    if (ev.key === 'ArrowDown') {
      ev.preventDefault();
      setOpen(true);
      list.querySelector('a').focus();
    }
  });
  li.addEventListener('keydown', (ev) => {
    if (ev.key === 'Escape' && !list.hidden) {
      setOpen(false);
      button.focus();
    } else if ((ev.key === 'ArrowDown' || ev.key === 'ArrowUp') && ev.target.closest('.nav-menu-list')) {
      ev.preventDefault();
      const links = [...list.querySelectorAll('a')];
      const i = links.indexOf(ev.target);
      links[(i + (ev.key === 'ArrowDown' ? 1 : links.length - 1)) % links.length].focus();
    }
  });
  li.addEventListener('focusout', (ev) => {
    if (ev.relatedTarget && !li.contains(ev.relatedTarget)) setOpen(false);
  });
  document.addEventListener('click', (ev) => {
    if (!li.contains(ev.target)) setOpen(false);
  });
  return li;
}

/**
 * Fill `<header id="app-header">` with the platform title, navigation and the sign-in state.
 * `active`: the nav key of this page. `requireLogin`: send anonymous visitors to /login.
 * Resolves to the current user (never resolves when redirecting).
 */
export async function renderShell({ active = '', requireLogin = false } = {}) {
  const header = $('app-header');
  let user;
  try {
    user = await currentUser();
  } catch (err) {
    user = { role: 'public', role_label: '社会公众' };
  }
  if (requireLogin && !signedIn(user)) {
    goToLogin();
    return new Promise(() => {});
  }
  if (!header) return user;
  const items = signedIn(user) ? [...PUBLIC_NAV, ...WORK_NAV] : PUBLIC_NAV;
  const nav = el('nav', { class: 'app-nav', 'aria-label': '主导航' }, [
    el('ul', null, items.map((item) => (item.items ? navMenu(item, active) : el('li', null, [navLink(item, active)])))),
  ]);
  const who = signedIn(user)
    ? el('div', { class: 'app-user' }, [
      el('span', { class: 'app-user-who' }, [
        el('span', { class: 'app-user-name', text: `${user.display_name || user.username}` }),
        el('span', { class: 'app-user-role', text: `${user.role_label}${user.jurisdiction_name ? ' · ' + user.jurisdiction_name : ''}` }),
      ]),
      el('button', { type: 'button', class: 'btn btn-link', id: 'logout', text: '退出', onclick: logout }),
    ])
    : el('div', { class: 'app-user' }, [
      // The public pages look the same signed in: signing in from them leads to the workbench.
      el('a', { class: 'btn btn-small', href: `/login?next=${encodeURIComponent(location.pathname.startsWith('/work') ? location.pathname : '/work')}`, text: '登录' }),
    ]);
  header.replaceChildren(
    el('div', { class: 'app-brand' }, [
      el('a', { href: signedIn(user) ? '/work' : '/', class: 'app-title' }, '许昌市产业集聚区土地全生命周期管理平台'),
      el('span', { class: 'app-subtitle', text: signedIn(user) ? '云上管地' : '云上看地 · 年度可供土地清单' }),
    ]),
    nav,
    who,
  );
  return user;
}

async function logout() {
  try {
    await api('/api/auth/logout', { method: 'POST' });
  } finally {
    location.assign('/');
  }
}

// ---- formats ---------------------------------------------------------------------------

const NUM = new Intl.NumberFormat('zh-CN', { maximumFractionDigits: 2 });

/** A number with up to `digits` decimals in Chinese grouping, or "—" when missing. */
export function num(v, digits = 2) {
  if (v == null || v === '' || !isFinite(v)) return '—';
  return digits === 2 ? NUM.format(v) : new Intl.NumberFormat('zh-CN', { maximumFractionDigits: digits }).format(v);
}

const FIXED2 = new Intl.NumberFormat('zh-CN', { minimumFractionDigits: 2, maximumFractionDigits: 2 });

/** An area in 亩 for a table column: always two decimals, so the column lines up (547.70). */
export function muCell(v) {
  return v == null || v === '' || !isFinite(v) ? '—' : FIXED2.format(v);
}

/** 亩 from a value in 亩 (e.g. "12.35 亩"). */
export function mu(v) {
  return v == null ? '—' : `${num(v)} 亩`;
}

/** 万元 (e.g. "120 万元"). */
export function wan(v) {
  return v == null ? '—' : `${num(v)} 万元`;
}

/** A ratio 0–1 as a percentage. */
export function pct(v, digits = 1) {
  return v == null || !isFinite(v) ? '—' : `${(v * 100).toFixed(digits)}%`;
}

/** ISO date/time → "2026-11-25" (dates) or "2026-11-25 19:30" (times, local). */
export function date(v) {
  if (!v) return '—';
  if (/^\d{4}-\d{2}-\d{2}$/.test(v)) return v;
  const d = new Date(v);
  if (isNaN(d)) return String(v);
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
}

/** "是"/"否" for booleans, "—" for missing. */
export function yesNo(v) {
  return v == null ? '—' : v ? '是' : '否';
}

// ---- messages and forms ----------------------------------------------------------------

/** Show a message in a live region (`role=status`/`alert` element); empty text hides it. */
export function say(node, text, kind = 'info') {
  if (!node) return;
  node.textContent = text || '';
  node.hidden = !text;
  node.dataset.kind = kind;
}

/**
 * Put the API's validation problems next to the form controls they name (`name` = field),
 * mark those controls aria-invalid, and return the problems no control matched (to show in
 * the form's summary). Clears earlier marks first.
 */
export function showProblems(form, problems) {
  clearProblems(form);
  const unmatched = [];
  for (const p of problems || []) {
    const field = String(p.field || '').split('.').pop();
    const control = field && form.querySelector(`[name="${CSS.escape(field)}"]`);
    if (!control) {
      unmatched.push(p);
      continue;
    }
    control.setAttribute('aria-invalid', 'true');
    const id = `${control.id || field}-problem`;
    const msg = el('p', { class: 'field-problem', id, role: 'alert', text: p.message });
    control.setAttribute('aria-describedby', id);
    control.insertAdjacentElement('afterend', msg);
  }
  const first = form.querySelector('[aria-invalid="true"]');
  if (first) first.focus();
  return unmatched;
}

/** Remove what showProblems() added. */
export function clearProblems(form) {
  form.querySelectorAll('.field-problem').forEach((n) => n.remove());
  form.querySelectorAll('[aria-invalid]').forEach((n) => {
    n.removeAttribute('aria-invalid');
    n.removeAttribute('aria-describedby');
  });
}

/** `<dl>` of [label, value] pairs; values may be nodes or text. */
export function factList(pairs, cls = 'facts') {
  const dl = el('dl', { class: cls });
  for (const [label, value] of pairs) {
    dl.append(el('dt', { text: label }), el('dd', null, [value == null || value === '' ? '—' : value]));
  }
  return dl;
}

/** A table from column specs `[{label, value: row => text|node, num?: bool}]`. */
export function table(columns, rows, { caption, empty = '暂无数据' } = {}) {
  const t = el('table', { class: 'data-table' });
  if (caption) t.append(el('caption', { text: caption }));
  t.append(el('thead', null, [el('tr', null, columns.map((c) => el('th', { scope: 'col', class: c.num ? 'num' : null, text: c.label })))]));
  const tbody = el('tbody');
  if (!rows.length) tbody.append(el('tr', null, [el('td', { colspan: columns.length, class: 'empty', text: empty })]));
  for (const r of rows) {
    tbody.append(el('tr', null, columns.map((c) => el('td', { class: c.num ? 'num' : null }, [c.value(r) ?? '—']))));
  }
  t.append(tbody);
  return t;
}

/** The last path segment of the URL, decoded (the record key of /land/{code} etc.). */
export function pathKey() {
  const parts = location.pathname.split('/').filter(Boolean);
  return decodeURIComponent(parts[parts.length - 1] || '');
}

/**
 * Wire the page's 上一页/下一页 buttons (ids `prev`, `next`) to `state.offset`/`state.limit`;
 * `reload()` fetches the page. Call `updatePager(state, total)` after each load.
 */
export function wirePager(state, reload) {
  $('prev').addEventListener('click', () => {
    state.offset = Math.max(0, state.offset - state.limit);
    reload();
  });
  $('next').addEventListener('click', () => {
    state.offset += state.limit;
    reload();
  });
}

/** Enable/disable the pager buttons for a page at `state.offset` of `total` records. */
export function updatePager(state, total) {
  $('prev').disabled = state.offset <= 0;
  $('next').disabled = state.offset + state.limit >= total;
}

// ---- downloads and dates -----------------------------------------------------------------

/** The file name of a download from its Content-Disposition (RFC 5987 ``filename*`` first). */
function downloadName(res, fallback) {
  const cd = res.headers.get('Content-Disposition') || '';
  const star = /filename\*=UTF-8''([^;]+)/i.exec(cd);
  if (star) return decodeURIComponent(star[1]);
  const plain = /filename="?([^";]+)"?/i.exec(cd);
  return plain ? plain[1] : fallback;
}

/** Fetch a file from the API and hand it to the browser as a download, under the server's
 * (Chinese) file name from Content-Disposition (RFC 5987 ``filename*`` first) or `fallback`.
 * Errors (401/403/422/503) reject with the API's Chinese message instead of becoming a broken
 * file. Resolves to `{ name, response }` (the response for headers such as X-Export-Count). */
export async function download(path, fallback) {
  const response = await api(path, { raw: true });
  const name = downloadName(response, fallback);
  const url = URL.createObjectURL(await response.blob());
  const a = el('a', { href: url, download: name, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
  return { name, response };
}

/** A record's detail panel: GET `path` and `render` it; a refusal goes to `messageEl` in Chinese
 * and hides `panel`. */
export async function showDetail(panel, path, render, messageEl) {
  try {
    render(await api(path));
  } catch (err) {
    say(messageEl, err.message, 'error');
    panel.hidden = true;
  }
}

/** Bring a detail panel into view and give it the focus (keyboard users land on it). */
export function focusPanel(panel) {
  panel.scrollIntoView({ block: 'start' });
  panel.focus({ preventScroll: true });
}

/** The 导出 button's click: `btn` disabled and saying 正在导出… while `path` downloads; then
 * `done({ name, response })`'s text (or the API's refusal) in `messageEl`. */
export async function exportFromButton(btn, messageEl, path, fallback, done = () => '已导出 Excel') {
  const label = btn.textContent;
  btn.disabled = true;
  btn.textContent = '正在导出…';
  say(messageEl, '');
  try {
    say(messageEl, done(await download(path, fallback)), 'ok');
  } catch (err) {
    say(messageEl, `导出失败：${err.message}`, 'error');
  } finally {
    btn.disabled = false;
    btn.textContent = label;
  }
}

/** Fill a year `<select>`: next year down to 2021 (the 百园增效 action's first year), plus
 * `selected` if it lies outside that range. */
export function fillYearOptions(select, selected) {
  const years = [];
  for (let y = new Date().getFullYear() + 1; y >= 2021; y -= 1) years.push(String(y));
  if (selected && !years.includes(String(selected))) years.push(String(selected));
  select.replaceChildren(...years.map((y) => el('option', { value: y, text: `${y} 年` })));
}

/** Today in the browser's time zone as "YYYY-MM-DD". */
export function todayIso() {
  const d = new Date();
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
}

/** A progress bar (0–1) with a goal mark: `role=img` with the figures as its name. */
export function rateBar(rate, goal, label) {
  const w = rate == null ? 0 : Math.max(0, Math.min(1, rate));
  return el('div', { class: 'rate-bar', role: 'img', 'aria-label': label }, [
    el('span', { class: `rate-fill${rate != null && rate >= goal ? ' met' : ''}`, style: `width:${(w * 100).toFixed(1)}%` }),
    el('span', { class: 'rate-goal', style: `left:${(goal * 100).toFixed(1)}%` }),
  ]);
}
