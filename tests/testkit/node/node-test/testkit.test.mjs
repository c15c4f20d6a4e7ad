// cabinet-testkit from node's test runner (ESM): a server per file, the client, the fault helpers.
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { CogniteClient } from '@cognite/sdk';
import { findCabinet, startCabinet } from 'cabinet-testkit';

let cabinet;
before(async () => {
  cabinet = await startCabinet();
});
after(async () => {
  await cabinet?.stop();
});

test('startCabinet gives a fresh server and a CogniteClient on it', async () => {
  assert.match(cabinet.baseUrl, /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.ok(cabinet.client instanceof CogniteClient);
  assert.equal(cabinet.project, 'cabinet-test');
  assert.deepEqual(await cabinet.client.files.list().autoPagingToArray(), []);
  await cabinet.client.files.upload({ externalId: 'n1', name: 'n1.txt' }, 'node test', false, true);
  const [{ downloadUrl }] = await cabinet.client.files.getDownloadUrls([{ externalId: 'n1' }]);
  assert.equal(await (await fetch(downloadUrl)).text(), 'node test');
});

test('faults: arm, list, the SDK retries a 429 twice, reset', async () => {
  await cabinet.faults.arm({ route: 'files/list', method: 'POST', status: 429, times: 2 });
  const armed = await cabinet.faults.list();
  assert.equal(armed.length, 1);
  assert.equal(armed[0].route, 'files/list');
  const files = await cabinet.client.files.list().autoPagingToArray();
  assert.deepEqual(files.map((f) => f.externalId), ['n1']);
  await cabinet.faults.reset();
  assert.deepEqual(await cabinet.faults.list(), []);
});

test('faults.with resets even when the body throws', async () => {
  await assert.rejects(
    cabinet.faults.with({ route: 'files/byids', status: 500, times: 50 }, async () => {
      throw new Error('boom');
    }),
    /boom/,
  );
  assert.deepEqual(await cabinet.faults.list(), []);
});

test('stop() ends the server and removes its data directory; keep leaves it', async () => {
  const a = await startCabinet({ project: 'gone' });
  assert.equal(await a.stop(), 0);
  assert.equal(existsSync(a.dataDir), false);
  await assert.rejects(fetch(a.baseUrl + '/healthz'));

  const b = await startCabinet({ keep: true });
  await b.client.files.upload({ externalId: 'k', name: 'k' }, 'kept', false, true);
  assert.equal(await b.stop(), 0);
  try {
    assert.ok(readdirSync(b.dataDir).length > 0);
  } finally {
    rmSync(join(b.dataDir, '..'), { recursive: true, force: true });
  }
});

test('findCabinet: CABINET_BIN first, then the repository, then PATH', () => {
  const saved = { bin: process.env.CABINET_BIN, path: process.env.PATH, target: process.env.CARGO_TARGET_DIR };
  const dir = mkdtempSync(join(tmpdir(), 'testkit-path-'));
  try {
    process.env.CABINET_BIN = '/some/where/cabinet';
    assert.equal(findCabinet(), '/some/where/cabinet');
    delete process.env.CABINET_BIN;
    // Inside the repository (cwd), target/{release,debug}/cabinet of CARGO_TARGET_DIR.
    const target = mkdtempSync(join(tmpdir(), 'testkit-target-'));
    const debug = join(target, 'debug');
    mkdirSync(debug);
    writeFileSync(join(debug, 'cabinet'), '#!/bin/sh\n');
    chmodSync(join(debug, 'cabinet'), 0o755);
    process.env.CARGO_TARGET_DIR = target;
    assert.equal(findCabinet({ build: false }), join(debug, 'cabinet'));
    rmSync(target, { recursive: true, force: true });
    // Nothing in the repository's targets: PATH.
    process.env.CARGO_TARGET_DIR = join(dir, 'no-target');
    writeFileSync(join(dir, 'cabinet'), '#!/bin/sh\n');
    chmodSync(join(dir, 'cabinet'), 0o755);
    process.env.PATH = dir;
    assert.equal(findCabinet({ build: false }), join(dir, 'cabinet'));
  } finally {
    for (const [k, v] of [['CABINET_BIN', saved.bin], ['PATH', saved.path], ['CARGO_TARGET_DIR', saved.target]]) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    rmSync(dir, { recursive: true, force: true });
  }
});
