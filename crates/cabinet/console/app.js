// The console's state and wiring: sign-in, project, directory tree, search, filters, paging, uploads and
// the detail panel. Everything it shows comes from the API for the signed-in token.

import { h } from './dom.js';
import { Api } from './api.js';
import * as auth from './auth.js';
import { showRows, showSkeleton, select } from './table.js';
import { showDetail } from './detail.js';
import { uploadAll } from './upload.js';

const $ = (id) => document.getElementById(id);
const RECENT = 'cabinet.console.projects';
/** How many files the directory tree reads (pages of 1000) before it stops. */
const TREE_SCAN_LIMIT = 5000;

const state = {
  config: { mode: 'open', signIn: [] },
  api: null,
  directory: null,
  search: '',
  filter: {},
  cursors: [null],
  page: 0,
  dataSets: new Map(),
  files: [],
  selected: null,
  namesReady: Promise.resolve(),
};

const dataSetName = (id) => state.dataSets.get(id) || String(id);
const showError = (e) => { $('error').textContent = e ? e.message : ''; };

function recentProjects() {
  try { return JSON.parse(localStorage.getItem(RECENT) || '[]'); } catch { return []; }
}

function remember(project) {
  const list = [project, ...recentProjects().filter((p) => p !== project)].slice(0, 10);
  localStorage.setItem(RECENT, JSON.stringify(list));
}

async function fillProjectList() {
  const names = new Set(recentProjects());
  for (const p of state.config.signIn) names.add(p.name);
  if (state.config.mode !== 'access' || auth.token()) {
    // The projects the API lists: in open mode those that hold files, with access control the caller's.
    try {
      const listed = await new Api('-', () => auth.token() || 'console').projects();
      for (const p of listed.items || []) names.add(p.projectUrlName);
    } catch { /* a server without the listing: the recent projects (and token/inspect's) remain */ }
  }
  if (state.config.mode === 'access' && auth.token()) {
    // The projects this token is valid for, as the API itself reports them.
    try {
      const who = await new Api('-', auth.token).inspect();
      for (const p of who.projects || []) names.add(p.projectUrlName);
      $('who').replaceChildren(`Signed in as ${who.subject} `, h('button', { type: 'button', id: 'sign-out', onclick: () => { auth.signOut(); location.assign('/console/'); } }, 'Sign out'));
    } catch { /* the token is shown as invalid when a project opens */ }
  }
  $('project-list').replaceChildren(...[...names].map((n) => h('option', { value: n })));
}

function showSignIn(message) {
  $('main').hidden = true;
  $('signin').hidden = false;
  $('signin-error').textContent = message || '';
  $('signin-idps').replaceChildren(...state.config.signIn.map((idp) => h('button', {
    type: 'button', onclick: () => auth.startSignIn(idp).catch((e) => { $('signin-error').textContent = e.message; }),
  }, `Sign in to ${idp.name}`)));
}

function currentFilter() {
  const f = { ...state.filter };
  if (state.directory) f.directoryPrefix = state.directory;
  return f;
}

async function loadPage() {
  showError(null);
  const tbody = $('rows');
  showSkeleton(tbody);
  $('empty').hidden = true;
  try {
    let items;
    let next = null;
    if (state.search) {
      items = (await state.api.search(state.search, currentFilter())).items;
    } else {
      const r = await state.api.list(currentFilter(), state.cursors[state.page]);
      items = r.items;
      next = r.nextCursor || null;
      state.cursors[state.page + 1] = next;
    }
    state.files = items;
    // Data set names label the rows: wait for them (they load alongside the first page).
    await state.namesReady;
    showRows(tbody, items, { open: openFile, dataSetName });
    $('empty').hidden = items.length > 0;
    $('prev').disabled = state.search !== '' || state.page === 0;
    $('next').disabled = state.search !== '' || !next;
    $('page-info').textContent = state.search ? `${items.length} matches` : `Page ${state.page + 1}`;
    const where = state.directory ? `in ${state.directory}` : 'in all directories';
    $('crumbs').textContent = `${state.api.project} ${where}${state.search ? `, search “${state.search}”` : ''}`;
  } catch (e) {
    tbody.replaceChildren();
    if (e.status === 401) { showSignIn('The token was refused; sign in again.'); return; }
    showError(e);
  }
}

function resetPaging() { state.cursors = [null]; state.page = 0; }

/** The directory tree, built from the `directory` of up to TREE_SCAN_LIMIT files. */
async function loadTree() {
  const dirs = new Set();
  let cursor = null;
  let seen = 0;
  try {
    do {
      const r = await state.api.list({}, cursor, 1000);
      for (const f of r.items) if (f.directory) dirs.add(f.directory);
      seen += r.items.length;
      cursor = r.nextCursor;
    } while (cursor && seen < TREE_SCAN_LIMIT);
  } catch { return; }
  const root = new Map();
  for (const d of [...dirs].sort()) {
    let node = root;
    let path = '';
    for (const part of d.split('/').filter(Boolean)) {
      path += `/${part}`;
      if (!node.has(part)) node.set(part, { path: d.startsWith('/') ? path : path.slice(1), children: new Map() });
      node = node.get(part).children;
    }
  }
  const item = (label, path, children) => {
    const li = h('li', { role: 'none' });
    const a = h('span', {
      role: 'treeitem', tabindex: '0', 'aria-selected': String(state.directory === path), 'data-path': path ?? '',
    }, label);
    const choose = () => { state.directory = path; resetPaging(); loadTree(); loadPage(); };
    a.addEventListener('click', choose);
    a.addEventListener('keydown', (e) => { if (e.key === 'Enter') choose(); });
    li.append(a);
    if (children && children.size) {
      li.append(h('ul', { role: 'group' }, [...children].map(([name, n]) => item(name, n.path, n.children))));
    }
    return li;
  };
  $('tree').replaceChildren(item('All files', null, root));
}

async function loadNames() {
  try {
    const r = await state.api.dataSets();
    state.dataSets = new Map(r.items.map((d) => [d.id, d.name || d.externalId || String(d.id)]));
    const sel = document.querySelector('#filters [name=dataSetId]');
    sel.replaceChildren(h('option', { value: '' }, 'any'), ...r.items.map((d) => h('option', { value: String(d.id) }, dataSetName(d.id))));
  } catch { /* no data sets visible */ }
  try {
    const r = await state.api.labels();
    const sel = document.querySelector('#filters [name=label]');
    sel.replaceChildren(h('option', { value: '' }, 'any'), ...r.items.map((l) => h('option', { value: l.externalId }, l.name || l.externalId)));
  } catch { /* no labels visible */ }
}

function closeDetail() {
  $('detail').hidden = true;
  $('main').classList.add('no-detail');
  const back = state.selected && document.querySelector(`#rows tr[data-id="${state.selected}"]`);
  state.selected = null;
  select($('rows'), null);
  if (back) back.focus();
}

function openFile(file, tr) {
  state.selected = file.id;
  select($('rows'), tr);
  $('main').classList.remove('no-detail');
  showDetail($('detail'), file, {
    api: state.api,
    dataSetName,
    close: closeDetail,
    onChanged: (f) => { loadTree(); loadPage().then(() => { const row = document.querySelector(`#rows tr[data-id="${f.id}"]`); openFile(f, row); }); },
    onDeleted: () => { closeDetail(); loadPage(); loadTree(); },
  });
}

function openProject(name) {
  const project = name.trim();
  if (!project) return;
  remember(project);
  history.replaceState(null, '', `/console/?project=${encodeURIComponent(project)}`);
  $('project-input').value = project;
  state.api = new Api(project, () => auth.token() || 'console');
  state.directory = null;
  state.search = '';
  state.filter = {};
  resetPaging();
  $('signin').hidden = true;
  $('main').hidden = false;
  $('main').classList.add('no-detail');
  $('detail').hidden = true;
  document.title = `${project} · cabinet console`;
  state.namesReady = loadNames();
  loadTree();
  loadPage();
}

function readFilters(form) {
  const d = new FormData(form);
  const f = {};
  if (d.get('metaKey')) f.metadata = { [d.get('metaKey')]: d.get('metaValue') || '' };
  if (d.get('mimeType')) f.mimeType = d.get('mimeType');
  if (d.get('dataSetId')) f.dataSetIds = [{ id: Number(d.get('dataSetId')) }];
  if (d.get('label')) f.labels = { containsAny: [{ externalId: d.get('label') }] };
  if (d.get('uploaded')) f.uploaded = d.get('uploaded') === 'true';
  return f;
}

function wire() {
  $('project-form').addEventListener('submit', (e) => { e.preventDefault(); openProject($('project-input').value); });
  $('token-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    auth.setToken($('token-input').value);
    $('token-input').value = '';
    await fillProjectList();
    const project = new URLSearchParams(location.search).get('project') || $('project-input').value;
    if (project) openProject(project);
    else { $('signin').hidden = true; $('project-input').focus(); }
  });
  $('search-form').addEventListener('submit', (e) => { e.preventDefault(); state.search = $('search-input').value.trim(); resetPaging(); loadPage(); });
  $('filters-toggle').addEventListener('click', () => {
    const f = $('filters');
    f.hidden = !f.hidden;
    $('filters-toggle').setAttribute('aria-expanded', String(!f.hidden));
  });
  $('filters').addEventListener('submit', (e) => { e.preventDefault(); state.filter = readFilters(e.target); resetPaging(); loadPage(); });
  $('filters').addEventListener('reset', () => { state.filter = {}; resetPaging(); loadPage(); });
  $('prev').addEventListener('click', () => { state.page = Math.max(0, state.page - 1); loadPage(); });
  $('next').addEventListener('click', () => { state.page += 1; loadPage(); });
  const upload = (files) => {
    if (!state.api || !files.length) return;
    uploadAll(state.api, files, state.directory, $('uploads'), () => { loadPage(); loadTree(); });
  };
  $('file-input').addEventListener('change', (e) => { upload(e.target.files); e.target.value = ''; });
  document.querySelector('.upload-button').addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); $('file-input').click(); } });
  const drop = $('drop');
  drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('dragging'); });
  drop.addEventListener('dragleave', () => drop.classList.remove('dragging'));
  drop.addEventListener('drop', (e) => { e.preventDefault(); drop.classList.remove('dragging'); upload(e.dataTransfer.files); });
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && !$('detail').hidden && !$('confirm').open) closeDetail();
  });
}

async function start() {
  wire();
  try {
    const res = await fetch('/console/config.json');
    state.config = await res.json();
  } catch { /* open mode assumed */ }
  let project = new URLSearchParams(location.search).get('project');
  try {
    const signedInTo = await auth.finishSignIn();
    if (signedInTo) project = project || signedInTo;
  } catch (e) {
    showSignIn(e.message);
    return;
  }
  await fillProjectList();
  if (state.config.mode === 'access' && !auth.token()) {
    if (project) $('project-input').value = project;
    showSignIn();
    return;
  }
  if (project) openProject(project);
  else $('project-input').focus();
}

start();
