// The file table: fixed-height rows (skeleton rows while a page loads, so nothing shifts), arrow keys move
// between rows, Enter or a click opens a row.

import { h, bytes, time, fileSize } from './dom.js';

const SKELETON_ROWS = 8;
const COLUMNS = 8;

export function showSkeleton(tbody) {
  tbody.replaceChildren(...Array.from({ length: SKELETON_ROWS }, () => h('tr', { class: 'skeleton', 'aria-hidden': 'true' },
    Array.from({ length: COLUMNS }, () => h('td')))));
}

/** Renders `files`; `open(file)` is called on Enter or click. */
export function showRows(tbody, files, { open, dataSetName }) {
  tbody.replaceChildren(...files.map((f) => {
    const tr = h('tr', { tabindex: '0', 'data-id': String(f.id), 'aria-selected': 'false' },
      h('td', { title: f.directory ? `${f.directory}/${f.name}` : f.name }, f.name),
      h('td', {}, bytes(fileSize(f))),
      h('td', {}, f.mimeType || '—'),
      h('td', {}, f.uploaded ? 'yes' : 'no'),
      h('td', {}, time(f.createdTime)),
      h('td', {}, time(f.lastUpdatedTime)),
      h('td', {}, f.dataSetId ? dataSetName(f.dataSetId) : '—'),
      h('td', {}, (f.labels || []).map((l) => h('span', { class: 'chip' }, l.externalId))));
    tr.addEventListener('click', () => open(f, tr));
    tr.addEventListener('keydown', (e) => {
      if (e.key === 'Enter') { e.preventDefault(); open(f, tr); }
      if (e.key === 'ArrowDown' && tr.nextElementSibling) { e.preventDefault(); tr.nextElementSibling.focus(); }
      if (e.key === 'ArrowUp' && tr.previousElementSibling) { e.preventDefault(); tr.previousElementSibling.focus(); }
    });
    return tr;
  }));
}

export function select(tbody, tr) {
  for (const r of tbody.querySelectorAll('tr[aria-selected=true]')) r.setAttribute('aria-selected', 'false');
  if (tr) tr.setAttribute('aria-selected', 'true');
}
