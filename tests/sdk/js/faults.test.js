// Fault injection (/_cabinet/faults) against @cognite/sdk: which injected statuses its own retries ride
// out, and what a download cut short looks like to a client.
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { makeClient, patternBytes, startServer } from './server.js';

describe('fault injection', { timeout: 120_000 }, () => {
  let server;
  let client;
  let project;
  let configPath;

  async function admin(method, path = '', body) {
    const res = await fetch(`${server.baseUrl}/_cabinet/faults${path}`, {
      method,
      headers: { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = await res.json();
    assert.ok(res.status === 200 || res.status === 201, `${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  }

  async function arm(rule) {
    const { items } = await admin('POST', '', { items: [{ project, ...rule }] });
    return items[0].id;
  }

  async function rule(id) {
    const { items } = await admin('GET');
    return items.find((r) => r.id === id);
  }

  before(async () => {
    // Its own configuration: an open server (whatever the suite's access mode) with a fixed seed.
    configPath = join(process.env.TMPDIR || '/tmp', `cabinet-faults-${process.pid}.toml`);
    writeFileSync(configPath, '[faults]\nseed = 7\n');
    server = await startServer({ args: ['--config', configPath] });
    // An open server takes any project and any token, also when the suite runs with OIDC.
    project = `faults-${process.pid}`;
    client = await makeClient(server.baseUrl, project, { tokenProvider: async () => 'test-token' });
    await client.files.upload({ name: 'a.txt', externalId: 'a' }, 'x', false, true);
  });
  after(async () => {
    if (server) await server.stop();
    if (configPath) rmSync(configPath, { force: true });
  });

  test('a 429 on files/list twice: the SDK retries, the third request succeeds', async () => {
    const id = await arm({ route: 'files/list', method: 'POST', status: 429, times: 2 });
    const { items } = await client.files.list({ limit: 10 });
    assert.deepEqual(items.map((f) => f.externalId), ['a']);
    const seen = await rule(id);
    assert.deepEqual([seen.fired, seen.matched, seen.remaining], [2, 3, 0]);
    await admin('DELETE', `/${id}`);
  });

  test('a 503 on files/list twice: the SDK retries it as well', async () => {
    const id = await arm({ route: 'files/list', method: 'POST', status: 503, times: 2 });
    const { items } = await client.files.list({ limit: 10 });
    assert.deepEqual(items.map((f) => f.externalId), ['a']);
    const seen = await rule(id);
    assert.deepEqual([seen.fired, seen.matched], [2, 3]);
    await admin('DELETE', `/${id}`);
  });

  const direct = process.env.CABINET_CONTENT_TRANSFER === 'direct';
  test('a truncated download: full Content-Length, then the body fails', {
    skip: direct && 'with direct transfer, downloads come from S3 and cabinet cannot cut them',
  }, async () => {
    const content = patternBytes(256 * 1024);
    const file = await client.files.upload({ name: 't.bin', externalId: 't' }, content, false, true);
    const [{ downloadUrl }] = await client.files.getDownloadUrls([{ id: file.id }]);
    const id = await arm({ route: 'files/download', fault: 'truncate', times: 1 });
    const res = await fetch(downloadUrl);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-length'), String(content.length));
    await assert.rejects(res.arrayBuffer(), (e) => {
      // undici: "terminated", caused by the socket closing early.
      assert.match(`${e.message} ${e.cause?.message ?? ''}`, /terminated|closed|other side/i);
      return true;
    });
    assert.equal((await rule(id)).fired, 1);
    const again = Buffer.from(await (await fetch(downloadUrl)).arrayBuffer());
    assert.ok(again.equals(content));
  });
});
