// Test harness: a fresh `cabinet serve` on a free loopback port (open mode, or with a configuration
// file), a headless chromium through playwright-core, screenshots, and API calls made as an SDK would.
import { spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { chromium } from 'playwright-core';

export const CABINET_BIN = process.env.CABINET_BIN;
export const OUT = process.env.CONSOLE_TEST_OUT || join(tmpdir(), 'console-test');
// CABINET_SERVE_ARGS (words separated by white space) adds arguments to every server, e.g. PostgreSQL
// metadata and S3 content from scripts/with-postgres and scripts/with-seaweedfs, as in the SDK suites.
const SERVE_ARGS = (process.env.CABINET_SERVE_ARGS || '').split(/\s+/).filter((w) => w !== '');
const READY_RE = /^cabinet listening on (http:\/\/127\.0\.0\.1:\d+)$/;

/** Starts `cabinet serve` on 127.0.0.1:0 with a fresh data directory (or `dataDir`). */
export async function startServer({ config, dataDir } = {}) {
  const tmp = mkdtempSync(join(tmpdir(), 'cabinet-console-'));
  const data = dataDir || join(tmp, 'data');
  const args = ['serve', '--listen', '127.0.0.1:0', '--data-dir', data];
  if (config) {
    const path = join(tmp, 'cabinet.toml');
    writeFileSync(path, config);
    args.push('--config', path);
  }
  args.push(...SERVE_ARGS);
  const child = spawn(CABINET_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const log = join(tmp, 'stderr.log');
  child.stderr.pipe(createWriteStream(log));
  const exited = new Promise((res) => child.once('exit', res));
  const baseUrl = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('cabinet did not start within 30 s')), 30_000);
    createInterface({ input: child.stdout }).on('line', (line) => {
      const m = READY_RE.exec(line.trim());
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
    exited.then((code) => { clearTimeout(timer); reject(new Error(`cabinet exited (${code}): ${readFileSync(log, 'utf8').slice(-2000)}`)); });
  });
  return {
    baseUrl,
    dataDir: data,
    async stop({ keepData = false } = {}) {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(killer);
      if (!keepData) rmSync(tmp, { recursive: true, force: true });
    },
  };
}

/** A JSON API call with a bearer token; throws on a non-2xx answer. */
export async function api(baseUrl, token, method, path, body) {
  const res = await fetch(baseUrl + path, {
    method,
    headers: { Authorization: `Bearer ${token}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

/** Creates a file and uploads `content` to its upload URL, as the SDKs do. */
export async function uploadFile(baseUrl, token, project, spec, content) {
  const created = await api(baseUrl, token, 'POST', `/api/v1/projects/${project}/files`, spec);
  const res = await fetch(created.uploadUrl, { method: 'PUT', body: content });
  if (!res.ok) throw new Error(`upload: ${res.status}`);
  return created;
}

/** Headless Debian chromium; downloads nothing. */
export async function launch() {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  });
  return browser;
}

/** Saves a full-page screenshot as OUT/<name>.png. */
export async function shot(page, name) {
  mkdirSync(OUT, { recursive: true });
  await page.screenshot({ path: join(OUT, `${name}.png`), fullPage: false });
}

/** The page's console errors and CSP violations, to assert that there were none. */
export function watchErrors(page) {
  const errors = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(`console: ${m.text()}`); });
  page.on('response', (r) => { if (r.status() >= 400) errors.push(`response: ${r.status()} ${r.url()}`); });
  return errors;
}
