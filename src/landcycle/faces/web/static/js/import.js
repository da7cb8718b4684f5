/*
 * 标图入库 (/work/import): upload a GIS file → dry run (POST /api/imports/dry-run, nothing
 * written) → the report as a table of problems naming the source row and field, with its Excel
 * version (…/dry-run?format=xlsx) → "确认导入" (POST /api/imports, all or nothing) → the batch
 * in the list of recent batches (GET /api/imports), each with its report and an undo button
 * (POST /api/imports/{id}/undo after a confirm dialog). Uploads are multipart forms whose
 * fields are the API's options (ImportOptions in faces/routes_imports.py).
 */
import { $, api, el, renderShell, date, num, say, table } from './common.js';

let meta = { labels: {} };
let checked = null;  // {form: FormData, report} of the last dry run
const label = (f) => (meta.labels && meta.labels[f]) || f;

/** The upload as the API wants it: the file plus the options the user filled in. */
function uploadForm() {
  const form = $('import-form');
  const data = new FormData();
  const file = form.elements.namedItem('file').files[0];
  data.append('file', file, file.name);
  for (const input of form.querySelectorAll('input[name], select[name], textarea[name]')) {
    if (input.name === 'file') continue;
    if (input.type === 'checkbox') {
      if (input.checked) data.append(input.name, 'true');
    } else if (input.value.trim() !== '') {
      data.append(input.name, input.value.trim());
    }
  }
  return data;
}

function severityTag(sev) {
  return el('span', { class: `tag ${sev === 'error' ? 'tag-error' : 'tag-warn'}`, text: sev === 'error' ? '错误' : '警告' });
}

function renderReport(rep) {
  const s = rep.summary || {};
  const src = rep.source || {};
  const box = $('report');
  const stats = el('ul', { class: 'report-stats' }, [
    el('li', { class: s.errors ? 'stat stat-error' : 'stat stat-ok' }, [el('strong', { text: String(s.errors || 0) }), ' 个错误']),
    el('li', { class: s.warnings ? 'stat stat-warn' : 'stat' }, [el('strong', { text: String(s.warnings || 0) }), ' 个警告']),
    el('li', { class: 'stat' }, [el('strong', { text: String(s.to_create || 0) }), ' 宗将新建']),
    el('li', { class: 'stat' }, [el('strong', { text: String(s.to_update || 0) }), ' 宗将更新']),
    s.owners_created ? el('li', { class: 'stat' }, [el('strong', { text: String(s.owners_created) }), ' 家权利人将登记']) : null,
  ]);
  const problems = rep.rows || [];
  const columns = [
    { label: '来源位置', value: (r) => r.source_id || '—' },
    { label: '宗地代码', value: (r) => r.record || '—' },
    { label: '字段', value: (r) => label(r.field) },
    { label: '问题', value: (r) => r.message },
    { label: '级别', value: (r) => severityTag(r.severity) },
  ];
  const grid = table(columns, problems, { caption: '问题清单', empty: '没有发现问题' });
  grid.id = 'report-problems';
  grid.querySelectorAll('tbody tr').forEach((tr, i) => {
    if (problems[i]) tr.classList.add(problems[i].severity === 'error' ? 'row-error' : 'row-warn');
  });
  const mapped = Object.entries(rep.column_map || {});
  box.replaceChildren(
    el('p', { class: 'report-source' }, [`文件 ${src.path || '—'}（${src.format || '—'}，坐标系 ${src.source_crs || '—'}，`,
      `${num(src.feature_count, 0)} 个要素）`]),
    stats,
    (rep.notes || []).length ? el('ul', { class: 'report-notes' }, rep.notes.map((n) => el('li', { text: n }))) : null,
    el('div', { class: 'table-wrap' }, [grid]),
    mapped.length ? el('details', { class: 'column-map' }, [
      el('summary', { text: `字段对照（${mapped.length} 个字段已识别${(rep.unmapped_columns || []).length ? `，${rep.unmapped_columns.length} 个未使用` : ''}）` }),
      table([{ label: '文件中的字段', value: ([k]) => k }, { label: '平台字段', value: ([, v]) => label(v) }], mapped),
      (rep.unmapped_columns || []).length ? el('p', { class: 'muted', text: `未使用的字段：${rep.unmapped_columns.join('、')}` }) : null,
    ]) : null,
  );
  $('report-panel').hidden = false;
}

async function dryRun(event) {
  event.preventDefault();
  const message = $('import-message');
  const fileInput = $('imp-file');
  if (!fileInput.files.length) {
    say(message, '请先选择要导入的文件。', 'error');
    fileInput.focus();
    return;
  }
  const button = $('dry-run');
  button.disabled = true;
  say(message, '正在上传并检查文件……', 'info');
  say($('confirm-message'), '');
  checked = null;
  try {
    const data = uploadForm();
    const rep = await api('/api/imports/dry-run', { method: 'POST', form: data });
    checked = { form: data, report: rep };
    renderReport(rep);
    const errors = (rep.summary && rep.summary.errors) || 0;
    $('confirm-import').disabled = errors > 0 || !(rep.summary.to_create || rep.summary.to_update);
    $('confirm-note').textContent = errors > 0
      ? '报告中有错误：请修正文件后重新试导入，无错误才能确认导入。'
      : `确认后将整批写入 ${rep.summary.to_create || 0} 宗新宗地${rep.summary.to_update ? `、更新 ${rep.summary.to_update} 宗` : ''}。`;
    say(message, errors ? `试导入完成：发现 ${errors} 个错误，未写入任何数据。` : '试导入完成：没有错误，可以确认导入。',
      errors ? 'warn' : 'ok');
  } catch (err) {
    $('report-panel').hidden = true;
    const problems = (err.problems || []).map((p) => p.message);
    say(message, problems.length ? `无法试导入：${problems.join('；')}` : err.message, 'error');
  } finally {
    button.disabled = false;
  }
}

async function downloadExcel() {
  if (!checked) return;
  const button = $('download-report');
  button.disabled = true;
  try {
    const res = await api('/api/imports/dry-run?format=xlsx', { method: 'POST', form: checked.form, raw: true });
    const blob = await res.blob();
    const url = URL.createObjectURL(blob);
    const a = el('a', { href: url, download: '试导入报告.xlsx', hidden: true });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
  } catch (err) {
    say($('confirm-message'), `报告下载失败：${err.message}`, 'error');
  } finally {
    button.disabled = false;
  }
}

async function confirmImport() {
  if (!checked) return;
  const button = $('confirm-import');
  const message = $('confirm-message');
  button.disabled = true;
  say(message, '正在导入……', 'info');
  try {
    const batch = await api('/api/imports', { method: 'POST', form: checked.form });
    const codes = batch.created_codes || [];
    say(message, `已导入批次 ${batch.id}：新建 ${batch.created} 宗、更新 ${batch.updated} 宗。`, 'ok');
    message.append(' ', ...codes.slice(0, 5).flatMap((c) => [el('a', { href: `/work/parcels/${encodeURIComponent(c)}`, text: c }), ' ']));
    checked = null;
    $('confirm-note').textContent = '该文件已导入；如需再次导入请重新试导入。';
    await loadBatches();
  } catch (err) {
    if (err.body && err.body.report) renderReport(err.body.report);
    say(message, err.message, 'error');
    button.disabled = false;
  }
}

// ---- batches ---------------------------------------------------------------------------

async function loadBatches() {
  const box = $('batches');
  try {
    const page = await api('/api/imports?limit=20');
    const columns = [
      { label: '批次号', num: true, value: (b) => String(b.id) },
      { label: '导入时间', value: (b) => date(b.at) },
      { label: '操作人', value: (b) => b.actor },
      { label: '文件', value: (b) => b.source_path },
      { label: '格式', value: (b) => `${b.format}${b.source_crs ? ` · ${b.source_crs}` : ''}` },
      { label: '新建', num: true, value: (b) => String(b.created) },
      { label: '更新', num: true, value: (b) => String(b.updated) },
      { label: '警告', num: true, value: (b) => String(b.warnings) },
      { label: '状态', value: (b) => (b.undone_at
        ? el('span', { class: 'tag', text: `已于 ${date(b.undone_at)} 由 ${b.undone_by} 撤销` })
        : el('span', { class: 'tag tag-ok', text: '已入库' })) },
      { label: '操作', value: (b) => el('div', { class: 'btn-row' }, [
        el('a', { class: 'btn btn-small btn-secondary', href: `/api/imports/${b.id}/report?format=xlsx`,
          download: `导入批次${b.id}报告.xlsx`, text: '下载报告', 'aria-label': `下载批次 ${b.id} 的报告` }),
        b.undone_at ? null : el('button', { type: 'button', class: 'btn btn-small btn-danger', text: '撤销',
          'aria-label': `撤销批次 ${b.id}`, onclick: () => askUndo(b) }),
      ]) },
    ];
    const grid = table(columns, page.items, { caption: `共 ${page.total} 个批次（本辖区）`, empty: '暂无导入批次' });
    grid.id = 'batch-table';
    page.items.forEach((b, i) => { grid.tBodies[0].rows[i].dataset.batch = String(b.id); });
    box.replaceChildren(grid);
  } catch (err) {
    if (err.status === 401 || err.status === 403) {
      // Only officials import: say so instead of offering a form the API would refuse.
      $('import-form').hidden = true;
      say($('import-message'), '');
      const note = el('p', { class: 'message', dataset: { kind: 'warn' }, text: '本账号无权导入宗地（标图入库由市、县（市、区）和产业集聚区的管理人员办理）。' });
      $('import-form').before(note);
      box.replaceChildren();
      return;
    }
    say($('batches-message'), `批次列表暂时无法读取：${err.message}`, 'error');
  }
}

function askUndo(b) {
  const dialog = $('undo-dialog');
  $('undo-title').textContent = `撤销导入批次 ${b.id}？`;
  $('undo-text').textContent = `将删除该批次新建的 ${b.created} 宗宗地${b.updated ? `，并把它更新过的 ${b.updated} 宗恢复原状` : ''}（文件 ${b.source_path}）。`
    + '若这些宗地导入后又被修改过，撤销会被拒绝，不改变任何数据。';
  dialog.returnValue = '';
  dialog.onclose = async () => {
    if (dialog.returnValue !== 'undo') return;
    const message = $('batches-message');
    try {
      const done = await api(`/api/imports/${b.id}/undo`, { method: 'POST' });
      say(message, `已撤销批次 ${b.id}：删除 ${done.deleted.length} 宗${done.restored.length ? `，恢复 ${done.restored.length} 宗` : ''}。`, 'ok');
    } catch (err) {
      say(message, `撤销失败：${err.message}`, 'error');
    }
    await loadBatches();
  };
  dialog.showModal();
}

async function main() {
  await renderShell({ active: 'import', requireLogin: true });
  $('import-form').addEventListener('submit', dryRun);
  $('download-report').addEventListener('click', downloadExcel);
  $('confirm-import').addEventListener('click', confirmImport);
  $('imp-file').addEventListener('change', () => {
    const f = $('imp-file').files[0];
    $('imp-file-name').textContent = f ? `${f.name}（${num(f.size / 1024, 1)} KB）` : '未选择文件';
    checked = null;
    $('report-panel').hidden = true;
    say($('import-message'), '');
  });
  try {
    const m = await api('/api/meta/fields');
    meta = { labels: Object.fromEntries(m.labels.map((x) => [x.field, x.label])) };
  } catch (err) {
    meta = { labels: {} };
  }
  await loadBatches();
}

main();
