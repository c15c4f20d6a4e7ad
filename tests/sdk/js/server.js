// Test helper: starts the cabinet binary on a random loopback port with a fresh
// data directory, builds official-SDK clients against it, and stops it again.
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { CogniteClient } from '@cognite/sdk';
import { acquire, newProject, release, suiteToken } from './suite-access.js';

export { newProject, suiteToken };

const HERE = dirname(fileURLToPath(import.meta.url));
// tests/sdk/js -> repo root
export const REPO_ROOT = resolve(HERE, '..', '..', '..');
export const CABINET_BIN =
  process.env.CABINET_BIN || join(REPO_ROOT, 'target', 'debug', 'cabinet');

// CABINET_SERVE_ARGS (words separated by white space) adds arguments to every server, e.g. `--content
// s3://…` to run the suite with content on S3 (scripts/with-seaweedfs sets it), as in the Python suite.
const SERVE_ARGS = (process.env.CABINET_SERVE_ARGS || '').split(/\s+/).filter((w) => w !== '');

const READY_RE = /^cabinet listening on (http:\/\/127\.0\.0\.1:(\d+))$/;
const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 15_000;

function tail(path, max = 4000) {
  try {
    const text = readFileSync(path, 'utf8');
    return text.length > max ? '…' + text.slice(-max) : text;
  } catch {
    return '(no stderr captured)';
  }
}

/**
 * Start `cabinet serve --listen 127.0.0.1:0 --data-dir <fresh tmpdir>`.
 * Resolves once the single readiness line appeared on stdout. The server's stderr
 * goes to <tmpdir>/stderr.log; the tmpdir is removed after a clean stop unless
 * CABINET_TEST_KEEP is set, and kept (its path is in the error) otherwise.
 * @param {{args?: string[], dataDir?: string}} [opts] extra arguments for `cabinet serve` (e.g.
 *   `--config FILE`); a data directory of the caller's to start on (kept after `stop`), e.g. to restart
 *   a server on the same data with another configuration
 * @returns {Promise<{baseUrl: string, port: number, dataDir: string, tmpDir: string,
 *   stderrPath: string, stdoutLines: string[], stop: () => Promise<number|null>}>}
 */
export async function startServer({ args = [], dataDir: ownDataDir } = {}) {
  if (!existsSync(CABINET_BIN)) {
    throw new Error(
      `cabinet binary not found at ${CABINET_BIN}; build it (cargo build) or set CABINET_BIN`,
    );
  }
  const tmpDir = mkdtempSync(join(tmpdir(), 'cabinet-js-'));
  const dataDir = ownDataDir ?? join(tmpDir, 'data');
  const stderrPath = join(tmpDir, 'stderr.log');
  const stderrFile = createWriteStream(stderrPath);

  // A server given its own configuration keeps it; the others get the suite's (oidc mode).
  const ownConfig = args.includes('--config');
  const accessArgs = ownConfig ? [] : await acquire(tmpDir);
  const child = spawn(
    CABINET_BIN,
    ['serve', '--listen', '127.0.0.1:0', '--data-dir', dataDir, ...accessArgs, ...args, ...SERVE_ARGS],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child.stderr.pipe(stderrFile);

  const exited = new Promise((res) => {
    child.once('exit', (code, signal) => res({ code, signal }));
  });
  let exitInfo = null;
  exited.then((info) => {
    exitInfo = info;
  });

  const stdoutLines = [];
  const rl = createInterface({ input: child.stdout });
  const ready = new Promise((res, rej) => {
    rl.on('line', (line) => {
      stdoutLines.push(line);
      const m = READY_RE.exec(line);
      if (m) res({ baseUrl: m[1], port: Number(m[2]) });
    });
    child.once('error', rej);
    exited.then(({ code, signal }) =>
      rej(
        new Error(
          `cabinet exited before it was ready (code ${code}, signal ${signal}); ` +
            `stdout: ${JSON.stringify(stdoutLines)}; stderr:\n${tail(stderrPath)}`,
        ),
      ),
    );
  });
  let timer;
  const timeout = new Promise((_, rej) => {
    timer = setTimeout(
      () =>
        rej(
          new Error(
            `cabinet did not print its readiness line within ${START_TIMEOUT_MS} ms; ` +
              `stdout so far: ${JSON.stringify(stdoutLines)}; stderr:\n${tail(stderrPath)}`,
          ),
        ),
      START_TIMEOUT_MS,
    );
  });
  let addr;
  try {
    addr = await Promise.race([ready, timeout]);
  } catch (e) {
    child.kill('SIGKILL');
    if (!ownConfig) await release();
    throw e;
  } finally {
    clearTimeout(timer);
  }

  let released = ownConfig;
  async function stop() {
    if (!released) {
      released = true;
      await release();
    }
    if (exitInfo === null) child.kill('SIGTERM');
    let t;
    const info = await Promise.race([
      exited,
      new Promise((res) => {
        t = setTimeout(() => res(null), STOP_TIMEOUT_MS);
      }),
    ]);
    clearTimeout(t);
    if (info === null) {
      child.kill('SIGKILL');
      await exited;
      throw new Error(
        `cabinet did not exit within ${STOP_TIMEOUT_MS} ms of SIGTERM; stderr (${stderrPath}):\n${tail(stderrPath)}`,
      );
    }
    await new Promise((res) => stderrFile.end(res));
    if (info.code !== 0) {
      throw new Error(
        `cabinet exited with code ${info.code} (signal ${info.signal}) after SIGTERM, expected 0; ` +
          `stderr (${stderrPath}):\n${tail(stderrPath)}`,
      );
    }
    // Clean up after a clean stop; keep everything for diagnosis otherwise
    // (or always, with CABINET_TEST_KEEP=1).
    if (!process.env.CABINET_TEST_KEEP) rmSync(tmpDir, { recursive: true, force: true });
    return info.code;
  }

  return { ...addr, dataDir, tmpDir, stderrPath, stdoutLines, stop };
}


/**
 * Build an official SDK client as a user would.
 * @param {string} baseUrl
 * @param {string} project
 * @param {{authenticate?: boolean, tokenProvider?: () => Promise<string>}} [opts]
 */
export async function makeClient(baseUrl, project, opts = {}) {
  const { authenticate = true, tokenProvider = suiteToken } = opts;
  const client = new CogniteClient({
    appId: 'cabinet-tests',
    project,
    baseUrl,
    oidcTokenProvider: tokenProvider,
  });
  if (authenticate) await client.authenticate();
  return client;
}

/** Fetch a URL with no credentials and return {res, body: Buffer}. */
export async function fetchBytes(url, init = {}) {
  const res = await fetch(url, init);
  const body = Buffer.from(await res.arrayBuffer());
  return { res, body };
}

/** Download a file's content via getDownloadUrls + plain fetch (no token). */
export async function downloadContent(client, identifier) {
  const items = await client.files.getDownloadUrls([identifier]);
  if (!Array.isArray(items) || items.length !== 1) {
    throw new Error(`getDownloadUrls returned ${JSON.stringify(items)}`);
  }
  const { res, body } = await fetchBytes(items[0].downloadUrl);
  if (!res.ok) {
    throw new Error(
      `GET ${items[0].downloadUrl} -> ${res.status}: ${body.toString('utf8').slice(0, 500)}`,
    );
  }
  return body;
}

/** Run `fn` and return the error it rejects with (fails if it resolves). */
export async function rejection(promise) {
  try {
    const v = await promise;
    throw Object.assign(new Error(`expected a rejection, got ${JSON.stringify(v)}`), {
      __notRejected: true,
    });
  } catch (e) {
    if (e && e.__notRejected) throw e;
    return e;
  }
}

/** Deterministic pseudo-random bytes (so a corrupted byte is noticed). */
export function patternBytes(n, seed = 1) {
  const buf = Buffer.allocUnsafe(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    buf[i] = x & 0xff;
  }
  return buf;
}
