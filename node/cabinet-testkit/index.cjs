'use strict';
// cabinet-testkit: starts a cabinet server (a fresh data directory, a free loopback port) and hands out an
// @cognite/sdk CogniteClient pointed at it, plus helpers for the server's fault injection admin API.
// CommonJS source with an ESM wrapper (index.mjs), like @cognite/sdk itself, so Jest (CJS by default),
// Vitest and node:test import it alike.

const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const readline = require('node:readline');

const READY_RE = /^cabinet listening on (http:\/\/127\.0\.0\.1:(\d+))$/;
const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 15_000;

function isExecutable(file) {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/** Directories that may be a cabinet repository: this package's own (../..), then cwd and its parents. */
function repoRoots() {
  const roots = [path.resolve(__dirname, '..', '..')];
  let dir = process.cwd();
  for (;;) {
    roots.push(dir);
    const up = path.dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return [...new Set(roots)].filter((d) =>
    fs.existsSync(path.join(d, 'crates', 'cabinet', 'Cargo.toml')),
  );
}

/**
 * The cabinet binary: CABINET_BIN; else a repository's target/{release,debug}/cabinet (target is
 * CARGO_TARGET_DIR when set); else `cabinet` on PATH; else `cargo build --bin cabinet` in the repository
 * (announced on stderr). Throws when there is none of these.
 * @param {{build?: boolean, log?: (msg: string) => void}} [opts]
 */
function findCabinet({ build = true, log = (m) => process.stderr.write(m + '\n') } = {}) {
  if (process.env.CABINET_BIN) return process.env.CABINET_BIN;
  const roots = repoRoots();
  for (const root of roots) {
    const target = process.env.CARGO_TARGET_DIR || path.join(root, 'target');
    for (const profile of ['release', 'debug']) {
      const file = path.join(target, profile, 'cabinet');
      if (isExecutable(file)) return file;
    }
  }
  for (const dir of (process.env.PATH || '').split(path.delimiter)) {
    if (dir && isExecutable(path.join(dir, 'cabinet'))) return path.join(dir, 'cabinet');
  }
  if (build && roots.length > 0) {
    const root = roots[0];
    log(`cabinet-testkit: no cabinet binary found; building it: cargo build --bin cabinet (in ${root})`);
    const r = spawnSync('cargo', ['build', '--bin', 'cabinet'], { cwd: root, stdio: 'inherit' });
    const target = process.env.CARGO_TARGET_DIR || path.join(root, 'target');
    const file = path.join(target, 'debug', 'cabinet');
    if (r.status === 0 && isExecutable(file)) return file;
    throw new Error(`cabinet-testkit: cargo build --bin cabinet failed in ${root}`);
  }
  throw new Error(
    'cabinet-testkit: no cabinet binary: set CABINET_BIN, put cabinet on PATH, or run inside the repository',
  );
}

const CAMEL = { latency_ms: 'latencyMs', retry_after: 'retryAfter' };

/**
 * The fault injection admin API of a server (`/_cabinet/faults`).
 * arm(item | [items], {seed}?) adds faults (a seed makes `probability` repeatable), list() returns the
 * armed ones, reset() removes them all, and with(item, fn) arms, runs `await fn()` and resets whatever
 * happens.
 * An item: {route: 'files/list', method: 'POST', status: 429, times: 3} (also probability, latencyMs,
 * fault: 'reset' | 'truncate', retryAfter seconds).
 */
function faultsFor(baseUrl, token) {
  async function call(method, p, body) {
    const headers = {};
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (token) headers.authorization = `Bearer ${token}`;
    const res = await fetch(baseUrl + p, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${p} -> ${res.status}: ${text.slice(0, 500)}`);
    return text.trim() ? JSON.parse(text) : null;
  }
  const norm = (item) =>
    Object.fromEntries(
      Object.entries(item)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => [CAMEL[k] || k, v]),
    );
  const faults = {
    arm: (items, { seed } = {}) =>
      call('POST', '/_cabinet/faults', {
        items: (Array.isArray(items) ? items : [items]).map(norm),
        ...(seed === undefined ? {} : { seed }),
      }),
    list: async () => ((await call('GET', '/_cabinet/faults')) || {}).items || [],
    reset: () => call('POST', '/_cabinet/faults/reset', {}),
    async with(items, fn, opts) {
      await faults.arm(items, opts);
      try {
        return await fn();
      } finally {
        await faults.reset();
      }
    },
  };
  return faults;
}

/**
 * A CogniteClient of `project` at `baseUrl`, as an application builds it; any token works in open mode.
 * @param {{baseUrl: string, project: string, token?: string, tokenProvider?: () => Promise<string>,
 *   CogniteClient?: Function}} o
 */
async function makeClient({ baseUrl, project, token, tokenProvider, CogniteClient }) {
  // The ESM entry passes the ESM build's class, so `client instanceof CogniteClient` holds for ESM users
  // too (@cognite/sdk ships two builds, whose classes differ).
  const Client = CogniteClient || require('@cognite/sdk').CogniteClient;
  const client = new Client({
    appId: 'cabinet-testkit',
    project,
    baseUrl,
    oidcTokenProvider: tokenProvider || (async () => token || 'cabinet-testkit'),
  });
  await client.authenticate();
  return client;
}

function tail(file, max = 4000) {
  try {
    const text = fs.readFileSync(file, 'utf8');
    return text.length > max ? '…' + text.slice(-max) : text;
  } catch {
    return '(no log)';
  }
}

/**
 * Start `cabinet serve` on 127.0.0.1 (a free port unless `port`) with a new data directory.
 * @param {{project?: string, port?: number, keep?: boolean, config?: string, args?: string[],
 *   token?: string, tokenProvider?: () => Promise<string>, bin?: string}} [options]
 *   keep: leave the data directory after stop(); config: a cabinet configuration file (access control:
 *   then give token or tokenProvider); args: more `cabinet serve` arguments.
 * @returns {Promise<{baseUrl: string, port: number, project: string, dataDir: string, logPath: string,
 *   client: import('@cognite/sdk').CogniteClient, faults: ReturnType<typeof faultsFor>,
 *   stop: () => Promise<number|null>}>}
 */
async function startCabinet(options = {}) {
  const { project = 'cabinet-test', port = 0, keep = false, config, args = [], token, tokenProvider } =
    options;
  const bin = options.bin || findCabinet();
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cabinet-testkit-'));
  const dataDir = path.join(workDir, 'data');
  const logPath = path.join(workDir, 'cabinet.log');
  const log = fs.openSync(logPath, 'a');
  const env = { ...process.env, NO_COLOR: '1' };
  delete env.CABINET_CONFIG; // the options say which server this is, not the caller's environment
  const child = spawn(
    bin,
    [
      'serve',
      '--listen',
      `127.0.0.1:${port}`,
      '--data-dir',
      dataDir,
      ...(config ? ['--config', config] : []),
      ...args,
    ],
    { stdio: ['ignore', 'pipe', log], env },
  );
  fs.closeSync(log);
  const exited = new Promise((res) => child.once('exit', (code, signal) => res({ code, signal })));
  let exitInfo = null;
  exited.then((i) => {
    exitInfo = i;
  });
  const rl = readline.createInterface({ input: child.stdout });
  let timer;
  let addr;
  try {
    addr = await new Promise((res, rej) => {
      rl.once('line', (line) => {
        const m = READY_RE.exec(line);
        if (m) res({ baseUrl: m[1], port: Number(m[2]) });
        else rej(new Error(`cabinet printed ${JSON.stringify(line)} instead of its ready line`));
      });
      child.once('error', rej);
      exited.then(({ code }) => rej(new Error(`cabinet exited (code ${code}) before it was ready`)));
      timer = setTimeout(() => rej(new Error(`cabinet not ready within ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS);
    });
  } catch (e) {
    child.kill('SIGKILL');
    await exited;
    const msg = `${e.message}; log:\n${tail(logPath)}`;
    fs.rmSync(workDir, { recursive: true, force: true });
    throw new Error(msg);
  } finally {
    clearTimeout(timer);
  }
  // Later stdout lines (there should be none) are read and dropped so the pipe never fills.
  rl.on('line', () => {});

  let stopped = null;
  function stop() {
    stopped ??= (async () => {
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
      }
      const code = info === null ? null : info.code;
      if (!keep) fs.rmSync(workDir, { recursive: true, force: true });
      return code;
    })();
    return stopped;
  }

  let client;
  try {
    client = await makeClient({
      baseUrl: addr.baseUrl,
      project,
      token,
      tokenProvider,
      CogniteClient: options.CogniteClient,
    });
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    ...addr,
    project,
    dataDir,
    logPath,
    client,
    faults: faultsFor(addr.baseUrl, token),
    stop,
  };
}

// globalSetup support: one server for a whole Jest or Vitest run, found by the test files through the
// environment (test workers are other processes; they inherit the variables set here).
// The server is kept on globalThis: a runner may load the setup and teardown modules in separate module
// registries of the same process.
const GLOBAL_KEY = Symbol.for('cabinet-testkit.globalServer');

/** Starts one server and sets CABINET_BASE_URL and CABINET_PROJECT for the test workers. */
async function globalSetup(options = {}) {
  const server = await startCabinet(options);
  globalThis[GLOBAL_KEY] = server;
  process.env.CABINET_BASE_URL = server.baseUrl;
  process.env.CABINET_PROJECT = server.project;
  if (options.token) process.env.CABINET_TOKEN = options.token;
  return globalTeardown;
}

/** Stops the server globalSetup started. */
async function globalTeardown() {
  const server = globalThis[GLOBAL_KEY];
  globalThis[GLOBAL_KEY] = null;
  if (server) await server.stop();
}

/** In a test file under globalSetup: {baseUrl, project, client, faults} of the run's server. */
async function connectCabinet({ CogniteClient } = {}) {
  const baseUrl = process.env.CABINET_BASE_URL;
  const project = process.env.CABINET_PROJECT;
  if (!baseUrl || !project) {
    throw new Error('cabinet-testkit: CABINET_BASE_URL is not set: is globalSetup configured?');
  }
  const token = process.env.CABINET_TOKEN;
  return {
    baseUrl,
    project,
    client: await makeClient({ baseUrl, project, token, CogniteClient }),
    faults: faultsFor(baseUrl, token),
  };
}

module.exports = {
  startCabinet,
  findCabinet,
  faultsFor,
  makeClient,
  globalSetup,
  globalTeardown,
  connectCabinet,
};
