// The detail panel of one file: every field and metadata entry, its assets and labels, editing through
// /files/update, preview, download and delete (after a confirmation).

import { h, bytes, time, fileSize } from './dom.js';
import { preview, canPreview } from './preview.js';

/**
 * Shows `file` in `panel`. `ctx` has: api, dataSetName(id), onChanged(file), onDeleted(id), close().
 */
export async function showDetail(panel, file, ctx) {
  const { api } = ctx;
  const err = h('p', { class: 'error', role: 'alert' });
  const fail = (e) => { err.textContent = e.message; };
  const previewBox = h('div', { class: 'preview', hidden: true });

  const field = (label, value) => [h('dt', {}, label), h('dd', {}, (Array.isArray(value) && !value.length) ? '—' : (value ?? '—'))];
  const assets = h('dd', { 'data-field': 'assets' }, file.assetIds && file.assetIds.length ? file.assetIds.join(', ') : '—');

  const editable = h('form', { class: 'edit', 'aria-label': 'Edit file' });
  const nameIn = h('input', { name: 'name', value: file.name, 'aria-label': 'Name' });
  const dirIn = h('input', { name: 'directory', value: file.directory || '', 'aria-label': 'Directory' });
  const mimeIn = h('input', { name: 'mimeType', value: file.mimeType || '', 'aria-label': 'MIME type' });
  const kvRows = h('div', { class: 'kvs' });
  const addKv = (k = '', v = '') => {
    const row = h('div', { class: 'kv' },
      h('input', { value: k, 'aria-label': 'Metadata key', 'data-kv': 'key' }),
      h('input', { value: v, 'aria-label': `Metadata value${k ? ` of ${k}` : ''}`, 'data-kv': 'value', 'data-key': k }),
      h('button', { type: 'button', 'aria-label': `Remove ${k}`, onclick: () => row.remove() }, '×'));
    kvRows.append(row);
  };
  for (const [k, v] of Object.entries(file.metadata || {})) addKv(k, v);
  const labelsIn = h('input', {
    name: 'labels', value: (file.labels || []).map((l) => l.externalId).join(', '), 'aria-label': 'Labels (external ids, comma-separated)',
  });
  editable.append(
    h('h3', {}, 'Edit'),
    h('label', {}, 'Name ', nameIn), h('br'),
    h('label', {}, 'Directory ', dirIn), h('br'),
    h('label', {}, 'MIME type ', mimeIn),
    h('h4', {}, 'Metadata'), kvRows,
    h('button', { type: 'button', onclick: () => addKv() }, 'Add metadata'),
    h('h4', {}, 'Labels'), labelsIn,
    h('div', { class: 'actions' }, h('button', { type: 'submit', id: 'save' }, 'Save')),
  );
  editable.addEventListener('submit', async (e) => {
    e.preventDefault();
    err.textContent = '';
    const metadata = {};
    for (const row of kvRows.querySelectorAll('.kv')) {
      const [k, v] = row.querySelectorAll('input');
      if (k.value.trim()) metadata[k.value.trim()] = v.value;
    }
    const oldLabels = (file.labels || []).map((l) => l.externalId);
    const newLabels = labelsIn.value.split(',').map((s) => s.trim()).filter(Boolean);
    const update = {
      metadata: { set: metadata },
      labels: {
        add: newLabels.filter((l) => !oldLabels.includes(l)).map((externalId) => ({ externalId })),
        remove: oldLabels.filter((l) => !newLabels.includes(l)).map((externalId) => ({ externalId })),
      },
    };
    if (nameIn.value !== file.name) update.name = { set: nameIn.value };
    if (dirIn.value !== (file.directory || '')) update.directory = dirIn.value ? { set: dirIn.value } : { setNull: true };
    if (mimeIn.value !== (file.mimeType || '')) update.mimeType = mimeIn.value ? { set: mimeIn.value } : { setNull: true };
    if (!update.labels.add.length && !update.labels.remove.length) delete update.labels;
    try {
      const res = await api.update(file.id, update);
      ctx.onChanged(res.items[0]);
    } catch (e2) { fail(e2); }
  });

  const download = async () => {
    try {
      const url = await api.downloadUrl(file.id);
      const a = h('a', { href: url, download: file.name, hidden: true });
      document.body.append(a);
      a.click();
      a.remove();
    } catch (e) { fail(e); }
  };
  const remove = async () => {
    const dialog = document.getElementById('confirm');
    document.getElementById('confirm-text').textContent = `Delete ${file.name}? This cannot be undone.`;
    dialog.returnValue = '';
    dialog.showModal();
    dialog.addEventListener('close', async () => {
      if (dialog.returnValue !== 'ok') return;
      try {
        await api.remove(file.id);
        ctx.onDeleted(file.id);
      } catch (e) { fail(e); }
    }, { once: true });
  };
  const showPreview = async () => {
    previewBox.hidden = false;
    try { await preview(api, file, previewBox); } catch (e) { previewBox.replaceChildren(); fail(e); }
  };

  panel.replaceChildren(
    h('div', { class: 'actions' },
      h('button', { type: 'button', id: 'close-detail', 'aria-label': 'Close details', onclick: ctx.close }, 'Close'),
      canPreview(file) ? h('button', { type: 'button', id: 'preview', onclick: showPreview }, 'Preview') : null,
      file.uploaded ? h('button', { type: 'button', id: 'download', onclick: download }, 'Download') : null,
      h('button', { type: 'button', id: 'delete', onclick: remove }, 'Delete')),
    h('h2', {}, file.name),
    err,
    previewBox,
    h('dl', {},
      field('Id', String(file.id)),
      field('External id', file.externalId),
      field('Directory', file.directory),
      field('Size', bytes(fileSize(file))),
      field('MIME type', file.mimeType),
      field('Source', file.source),
      field('Uploaded', file.uploaded ? time(file.uploadedTime) : 'no'),
      field('Created', time(file.createdTime)),
      field('Updated', time(file.lastUpdatedTime)),
      field('Source created', time(file.sourceCreatedTime)),
      field('Source modified', time(file.sourceModifiedTime)),
      field('Data set', file.dataSetId ? ctx.dataSetName(file.dataSetId) : undefined),
      field('Security categories', (file.securityCategories || []).join(', ') || undefined),
      h('dt', {}, 'Assets'), assets,
      field('Labels', (file.labels || []).map((l) => h('span', { class: 'chip' }, l.externalId))),
      ...Object.entries(file.metadata || {}).flatMap(([k, v]) => field(`metadata ${k}`, v))),
    editable,
  );
  panel.hidden = false;
  panel.focus();
  if (file.assetIds && file.assetIds.length) {
    try {
      const r = await api.assets(file.assetIds.slice(0, 100));
      const names = new Map(r.items.map((a) => [a.id, a.name]));
      assets.textContent = file.assetIds.map((id) => names.get(id) || String(id)).join(', ');
    } catch { /* ids stay shown */ }
  }
}
