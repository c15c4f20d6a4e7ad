// Preview of a file's content through its download URL: images, PDF (the browser's own viewer), video
// and audio by URL; text, JSON (pretty-printed) and CSV (as a table) read as text, up to TEXT_LIMIT bytes.

import { h } from './dom.js';

const TEXT_LIMIT = 2 * 1024 * 1024;
const CSV_ROWS = 200;

function kind(file) {
  const t = (file.mimeType || '').toLowerCase();
  const ext = (file.name.split('.').pop() || '').toLowerCase();
  if (t.startsWith('image/') || ['png', 'jpg', 'jpeg', 'gif', 'webp', 'svg'].includes(ext)) return 'image';
  if (t === 'application/pdf' || ext === 'pdf') return 'pdf';
  if (t.startsWith('video/') || ['mp4', 'webm', 'ogv'].includes(ext)) return 'video';
  if (t.startsWith('audio/') || ['mp3', 'wav', 'ogg', 'flac'].includes(ext)) return 'audio';
  if (t.includes('json') || ext === 'json') return 'json';
  if (t === 'text/csv' || ext === 'csv') return 'csv';
  if (t.startsWith('text/') || ['txt', 'md', 'log', 'xml', 'yaml', 'yml', 'toml', 'ini'].includes(ext)) return 'text';
  return null;
}

export function canPreview(file) { return kind(file) !== null && file.uploaded; }

/** Parses CSV with quoted fields ("" escapes a quote). */
export function parseCsv(text) {
  const rows = [];
  let row = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i += 1) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { field += '"'; i += 1; } else if (c === '"') quoted = false; else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') { row.push(field); field = ''; } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i += 1;
      row.push(field); rows.push(row); row = []; field = '';
      if (rows.length >= CSV_ROWS) return rows;
    } else field += c;
  }
  if (field !== '' || row.length) { row.push(field); rows.push(row); }
  return rows;
}

/** Renders the preview of `file` into `box`. */
export async function preview(api, file, box) {
  box.replaceChildren(h('p', {}, 'Loading preview…'));
  const k = kind(file);
  const url = await api.downloadUrl(file.id);
  if (k === 'video' || k === 'audio') {
    box.replaceChildren(h(k, { src: url, controls: true, preload: 'metadata' }));
    return;
  }
  const res = await fetch(url);
  if (!res.ok) throw new Error(`download answered ${res.status}`);
  if (k === 'image' || k === 'pdf') {
    const blob = await res.blob();
    const typed = new Blob([blob], { type: k === 'pdf' ? 'application/pdf' : (file.mimeType || blob.type) });
    const src = URL.createObjectURL(typed);
    box.replaceChildren(k === 'image'
      ? h('img', { src, alt: file.name, 'data-preview': 'image' })
      : h('iframe', { src, title: file.name, 'data-preview': 'pdf' }));
    return;
  }
  const blob = await res.blob();
  const text = await blob.slice(0, TEXT_LIMIT).text();
  if (k === 'json') {
    let shown = text;
    try { shown = JSON.stringify(JSON.parse(text), null, 2); } catch { /* shown as it is */ }
    box.replaceChildren(h('pre', { 'data-preview': 'json' }, shown));
  } else if (k === 'csv') {
    const rows = parseCsv(text);
    const [head, ...body] = rows;
    box.replaceChildren(h('table', { 'data-preview': 'csv' },
      h('thead', {}, h('tr', {}, (head || []).map((c) => h('th', {}, c)))),
      h('tbody', {}, body.map((r) => h('tr', {}, r.map((c) => h('td', {}, c)))))));
  } else {
    box.replaceChildren(h('pre', { 'data-preview': 'text' }, text));
  }
}
