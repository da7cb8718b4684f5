/*
 * 季度通报 (/work/bulletins): the quarter's 通报 as Word or PDF
 * (GET /api/bulletins/{year}/Q{n}.docx|.pdf?as_of=) and the 考评 ranking workbook
 * (GET /api/kaoping/{year}/ranking.xlsx?category=&period=), fetched and handed to the browser as
 * files; "正在生成…" while the server renders (the PDF takes ~3 s), and the API's Chinese message
 * on the page when it refuses (401 not signed in, 403 enterprise, 422 bad year, 503 no CJK font /
 * no LibreOffice on the server). The choices live in the URL.
 */
import { $, download, query, renderShell, say } from './common.js';

const NAMES = { docx: 'Word', pdf: 'PDF', xlsx: 'Excel' };

/** The last finished quarter (or the first quarter of the year in January–March). */
function defaultQuarter() {
  const d = new Date();
  const q = Math.floor(d.getMonth() / 3) + 1;
  return q === 1 ? { year: d.getFullYear() - 1, quarter: 4 } : { year: d.getFullYear(), quarter: q - 1 };
}

function readUrl() {
  const q = new URLSearchParams(location.search);
  const start = defaultQuarter();
  $('year').value = /^\d{4}$/.test(q.get('year') || '') ? q.get('year') : String(start.year);
  $('quarter').value = /^[1-4]$/.test(q.get('quarter') || '') ? q.get('quarter') : String(start.quarter);
  $('as_of').value = /^\d{4}-\d{2}-\d{2}$/.test(q.get('as_of') || '') ? q.get('as_of') : '';
}

function writeUrl() {
  history.replaceState(null, '', location.pathname + query({ year: $('year').value, quarter: $('quarter').value, as_of: $('as_of').value }));
}

/** The year typed, or null after saying what is wrong. */
function year(msg) {
  const y = Number($('year').value);
  if (!Number.isInteger(y) || y < 2000 || y > 2100) {
    say(msg, '年度应为 2000–2100 之间的整数', 'error');
    $('year').setAttribute('aria-invalid', 'true');
    $('year').focus();
    return null;
  }
  $('year').removeAttribute('aria-invalid');
  return y;
}

/** Fetch `path` as a file with the buttons disabled and "正在生成…" shown meanwhile. */
async function fetchFile(path, fallback, kind, msg) {
  const buttons = document.querySelectorAll('#bulletin-form button, #ranking-form button');
  buttons.forEach((b) => { b.disabled = true; });
  say(msg, `正在生成 ${NAMES[kind]} 文件…${kind === 'pdf' ? '（PDF 由 Word 版转换，约需 3 秒）' : ''}`, 'info');
  msg.setAttribute('aria-busy', 'true');
  try {
    const { name } = await download(path, fallback);
    say(msg, `已下载：${name}`, 'ok');
  } catch (err) {
    say(msg, `生成失败：${err.message}`, 'error');
  } finally {
    msg.removeAttribute('aria-busy');
    buttons.forEach((b) => { b.disabled = false; });
  }
}

function bulletin(kind) {
  const msg = $('bulletin-message');
  const y = year(msg);
  if (y == null) return;
  const q = $('quarter').value;
  writeUrl();
  fetchFile(`/api/bulletins/${y}/Q${q}.${kind}${query({ as_of: $('as_of').value })}`,
    `${y}年第${q}季度百园增效工作通报.${kind}`, kind, msg);
}

function ranking() {
  const msg = $('ranking-message');
  const y = year(msg);
  if (y == null) return;
  writeUrl();
  fetchFile(`/api/kaoping/${y}/ranking.xlsx${query({ category: $('r-category').value, period: $('r-period').value })}`,
    `${y}考评排名.xlsx`, 'xlsx', msg);
}

async function main() {
  await renderShell({ active: 'bulletins', requireLogin: true });
  readUrl();
  $('download-docx').addEventListener('click', () => bulletin('docx'));
  $('download-pdf').addEventListener('click', () => bulletin('pdf'));
  $('download-ranking').addEventListener('click', ranking);
  for (const id of ['year', 'quarter', 'as_of']) $(id).addEventListener('change', writeUrl);
  for (const id of ['bulletin-form', 'ranking-form']) $(id).addEventListener('submit', (ev) => ev.preventDefault());
}

main();
