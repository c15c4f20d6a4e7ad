// The scenario in a real browser, open mode: open the console, upload two files by the file
// picker (one large enough for multipart, whose parts go up in parallel) and an image by drag and drop,
// see them in the table, search one by a misspelled name, filter by metadata, preview an image and a text
// file, edit a metadata value, download one and compare the bytes, delete one (after the confirmation);
// keyboard navigation and a phone-width layout. A screenshot of each step goes to $CONSOLE_TEST_OUT.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { OUT, api, launch, shot, startServer, watchErrors } from './harness.js';
import { png, randomContent, sha256 } from './fixtures.js';

const PROJECT = 'console-test';
const LARGE = 12 * 1024 * 1024 + 12345; // over the 8 MiB multipart threshold: two parts of 8 MiB and the rest
const TEXT = 'Quarterly inspection notes\nline two: pump P-101 ok\n';

let server;
let browser;
let page;
let errors;
const requests = [];
const files = {};

const rowOf = (name) => page.locator('#rows tr', { hasText: name });
const listed = async () => page.locator('#rows tr[data-id] td:first-child').allTextContents();

before(async () => {
  server = await startServer();
  browser = await launch();
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, acceptDownloads: true });
  page = await context.newPage();
  errors = watchErrors(page);
  page.on('request', (r) => requests.push({ method: r.method(), url: r.url() }));
  const dir = join(OUT, 'inputs');
  mkdirSync(dir, { recursive: true });
  files.large = { path: join(dir, 'survey-large.bin'), content: randomContent(LARGE) };
  files.text = { path: join(dir, 'inspection-notes.txt'), content: Buffer.from(TEXT) };
  files.image = { path: join(dir, 'pump-photo.png'), content: png(320, 200) };
  for (const f of Object.values(files)) writeFileSync(f.path, f.content);
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test('the console page is served from the binary with its headers', async () => {
  const res = await fetch(`${server.baseUrl}/console`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /^text\/html/);
  const csp = res.headers.get('content-security-policy');
  assert.match(csp, /default-src 'self'/);
  assert.match(csp, /script-src 'self';/);
  const etag = res.headers.get('etag');
  assert.ok(etag);
  const again = await fetch(`${server.baseUrl}/console/`, { headers: { 'If-None-Match': etag } });
  assert.equal(again.status, 304);
  const js = await fetch(`${server.baseUrl}/console/app.js`);
  assert.match(js.headers.get('content-type'), /^text\/javascript/);
  assert.equal((await fetch(`${server.baseUrl}/console/missing.js`)).status, 404);
  assert.deepEqual(await (await fetch(`${server.baseUrl}/console/config.json`)).json(), { mode: 'open', signIn: [] });
});

test('open the console on a project', async () => {
  await page.goto(`${server.baseUrl}/console/?project=${PROJECT}`);
  await page.locator('#empty').waitFor({ state: 'visible' });
  assert.equal(await page.locator('#project-input').inputValue(), PROJECT);
  await shot(page, '01-empty-project');
});

test('upload two files by the file picker, the large one through multipart with parallel parts', async () => {
  await page.setInputFiles('#file-input', [files.large.path, files.text.path]);
  await page.locator('.upload[data-name="survey-large.bin"][data-state="done"]').waitFor({ timeout: 60_000 });
  await page.locator('.upload[data-name="inspection-notes.txt"][data-state="done"]').waitFor();
  await rowOf('survey-large.bin').waitFor();
  await rowOf('inspection-notes.txt').waitFor();
  const init = requests.filter((r) => r.url.includes('/files/initmultipartupload'));
  assert.equal(init.length, 1);
  assert.match(init[0].url, /parts=2\b/);
  // Content PUTs go to cabinet's upload URLs, or with direct transfer to presigned S3 URLs.
  const partPuts = requests.filter((r) => r.method === 'PUT' && !new URL(r.url).pathname.startsWith('/api/'));
  assert.ok(partPuts.length >= 3, `two part PUTs and one single PUT, saw ${partPuts.length}`);
  assert.ok(requests.some((r) => r.url.includes('/files/completemultipartupload')));
  assert.match(await rowOf('survey-large.bin').textContent(), /12\.0 MiB/);
  await shot(page, '02-uploaded');
});

test('an image dropped on the table is uploaded', async () => {
  const bytes = [...files.image.content];
  await page.evaluate((data) => {
    const dt = new DataTransfer();
    dt.items.add(new File([new Uint8Array(data)], 'pump-photo.png', { type: 'image/png' }));
    const target = document.getElementById('drop');
    target.dispatchEvent(new DragEvent('dragover', { dataTransfer: dt, bubbles: true, cancelable: true }));
    target.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
  }, bytes);
  await page.locator('.upload[data-name="pump-photo.png"][data-state="done"]').waitFor();
  await rowOf('pump-photo.png').waitFor();
  assert.equal((await listed()).length, 3);
});

test('search by a misspelled name finds the file', async () => {
  await page.fill('#search-input', 'inspektion');
  await page.press('#search-input', 'Enter');
  await page.waitForFunction(() => document.getElementById('page-info').textContent.includes('matches'));
  assert.deepEqual(await listed(), ['inspection-notes.txt']);
  await shot(page, '03-search-misspelled');
  await page.fill('#search-input', '');
  await page.press('#search-input', 'Enter');
  await page.waitForFunction(() => document.querySelectorAll('#rows tr[data-id]').length === 3);
});

test('filter by metadata', async () => {
  await page.click('#filters-toggle');
  await page.fill('#filters [name=metaKey]', 'cabinet:size');
  await page.fill('#filters [name=metaValue]', String(files.image.content.length));
  await page.click('#filters button[type=submit]');
  await page.waitForFunction(() => document.querySelectorAll('#rows tr[data-id]').length === 1);
  assert.deepEqual(await listed(), ['pump-photo.png']);
  await page.fill('#filters [name=mimeType]', 'text/plain');
  await page.click('#filters button[type=submit]');
  await page.locator('#empty').waitFor({ state: 'visible' });
  await page.click('#filters button[type=reset]');
  await page.waitForFunction(() => document.querySelectorAll('#rows tr[data-id]').length === 3);
  await page.click('#filters-toggle');
});

test('preview an image', async () => {
  await rowOf('pump-photo.png').click();
  await page.click('#preview');
  const img = page.locator('img[data-preview=image]');
  await img.waitFor();
  await page.waitForFunction(() => document.querySelector('img[data-preview=image]').naturalWidth === 320);
  await shot(page, '04-preview-image');
});

test('preview a text file', async () => {
  await rowOf('inspection-notes.txt').click();
  await page.click('#preview');
  const pre = page.locator('pre[data-preview=text]');
  await pre.waitFor();
  assert.equal(await pre.textContent(), TEXT);
});

test('edit a metadata value', async () => {
  const value = page.locator('#detail input[data-kv=value][data-key="cabinet:size"]');
  await value.waitFor();
  await page.click('#detail button:text("Add metadata")');
  await page.locator('#detail .kv input[data-kv=key]').last().fill('status');
  await page.locator('#detail .kv input[data-kv=value]').last().fill('draft');
  await page.click('#save');
  const status = page.locator('#detail input[data-kv=value][data-key=status]');
  await status.waitFor();
  assert.equal(await status.inputValue(), 'draft');
  await status.fill('reviewed');
  await page.click('#save');
  await page.locator('#detail dd', { hasText: 'reviewed' }).waitFor();
  const id = Number(await rowOf('inspection-notes.txt').getAttribute('data-id'));
  const stored = await api(server.baseUrl, 'x', 'POST', `/api/v1/projects/${PROJECT}/files/byids`, { items: [{ id }] });
  assert.equal(stored.items[0].metadata.status, 'reviewed');
  assert.equal(stored.items[0].metadata['cabinet:size'], String(TEXT.length));
  await shot(page, '05-detail-edited');
});

test('the directory tree is built from directory values and filters the table', async () => {
  await rowOf('pump-photo.png').click();
  await page.locator('#detail input[name=directory]').fill('/site/pumps');
  await page.click('#save');
  const pumps = page.locator('#tree [role=treeitem][data-path="/site/pumps"]');
  await pumps.waitFor();
  assert.equal(await page.locator('#tree [role=treeitem][data-path="/site"]').textContent(), 'site');
  await pumps.click();
  await page.waitForFunction(() => document.querySelectorAll('#rows tr[data-id]').length === 1);
  assert.deepEqual(await listed(), ['pump-photo.png']);
  assert.match(await page.locator('#crumbs').textContent(), /in \/site\/pumps/);
  await shot(page, '06-directory-tree');
  await page.click('#tree [role=treeitem]:text("All files")');
  await page.waitForFunction(() => document.querySelectorAll('#rows tr[data-id]').length === 3);
});

test('download a file: the bytes are those uploaded', async () => {
  await rowOf('survey-large.bin').click();
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download')]);
  const saved = join(OUT, 'downloaded-survey-large.bin');
  await download.saveAs(saved);
  const got = readFileSync(saved);
  assert.equal(got.length, LARGE);
  assert.equal(sha256(got), sha256(files.large.content));
});

test('delete a file after the confirmation', async () => {
  await rowOf('inspection-notes.txt').click();
  await page.click('#delete');
  await page.locator('#confirm[open]').waitFor();
  await shot(page, '07-confirm-delete');
  await page.click('#confirm-ok');
  await page.waitForFunction(() => document.querySelectorAll('#rows tr[data-id]').length === 2);
  assert.ok(!(await listed()).includes('inspection-notes.txt'));
  const left = await api(server.baseUrl, 'x', 'POST', `/api/v1/projects/${PROJECT}/files/list`, { limit: 10 });
  assert.deepEqual(left.items.map((f) => f.name).sort(), ['pump-photo.png', 'survey-large.bin']);
});

test('the project picker offers the project that holds files', async () => {
  // A fresh browser context: nothing remembered, so the option comes from GET /api/v1/projects.
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  try {
    const fresh = await context.newPage();
    const pickerErrors = watchErrors(fresh);
    const listing = fresh.waitForResponse((r) => r.url() === `${server.baseUrl}/api/v1/projects`);
    await fresh.goto(`${server.baseUrl}/console/`);
    assert.equal((await listing).status(), 200);
    await fresh.locator(`#project-list option[value="${PROJECT}"]`).waitFor({ state: 'attached' });
    const offered = await fresh.locator('#project-list option').evaluateAll((os) => os.map((o) => o.value));
    assert.deepEqual(offered, [PROJECT]);
    assert.deepEqual(pickerErrors, []);
  } finally {
    await context.close();
  }
});

test('cancel stops an upload under way', async () => {
  // Hold the content PUT so that the cancel comes while it is in flight.
  let held;
  const reached = new Promise((resolve) => { held = resolve; });
  const content = (url) => !url.pathname.startsWith('/api/') && !url.pathname.startsWith('/console');
  await page.route(content, async (route) => {
    if (route.request().method() === 'PUT') {
      held();
      await new Promise((r) => setTimeout(r, 10_000));
    }
    await route.continue().catch(() => {});
  });
  await page.setInputFiles('#file-input', { name: 'cancelled.txt', mimeType: 'text/plain', buffer: Buffer.from('never stored') });
  await reached;
  await page.click('.upload[data-name="cancelled.txt"] button:text("Cancel")');
  await page.locator('.upload[data-name="cancelled.txt"][data-state="cancelled"]').waitFor();
  await page.unroute(content);
  const found = await api(server.baseUrl, 'x', 'POST', `/api/v1/projects/${PROJECT}/files/list`, { filter: { name: 'cancelled.txt' } });
  assert.ok(found.items.every((f) => f.uploaded === false), JSON.stringify(found.items));
});

test('keyboard: arrows move between rows, Enter opens, Escape closes', async () => {
  await page.locator('#rows tr[data-id]').first().focus();
  await page.keyboard.press('ArrowDown');
  const focused = await page.evaluate(() => document.activeElement.getAttribute('data-id'));
  const second = await page.locator('#rows tr[data-id]').nth(1).getAttribute('data-id');
  assert.equal(focused, second);
  await page.keyboard.press('Enter');
  await page.locator('#detail').waitFor({ state: 'visible' });
  await page.keyboard.press('Escape');
  await page.locator('#detail').waitFor({ state: 'hidden' });
});

test('phone width: one column, no horizontal scroll of the page', async () => {
  await page.setViewportSize({ width: 390, height: 800 });
  await page.waitForTimeout(100);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  if (overflow > 0) {
    const wide = await page.evaluate(() => [...document.querySelectorAll('body *')]
      .filter((e) => e.getBoundingClientRect().right > document.documentElement.clientWidth)
      .slice(0, 5).map((e) => `${e.tagName}#${e.id}.${e.className} ${Math.round(e.getBoundingClientRect().right)}`));
    assert.fail(`page scrolls sideways by ${overflow}px: ${wide.join(', ')}`);
  }
  assert.ok(overflow <= 0, `page scrolls sideways by ${overflow}px`);
  await shot(page, '08-phone');
  await page.setViewportSize({ width: 1280, height: 800 });
});

test('no script errors or policy violations on the page', () => {
  assert.deepEqual(errors, []);
});
