// retrieve, getDownloadUrls, delete and duplicate-externalId errors through the JS SDK.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  downloadContent,
  fetchBytes,
  makeClient,
  newProject,
  rejection,
  startServer,
} from './server.js';

const UNKNOWN_ID = 1234567890123;

describe('retrieve, download links, delete, duplicates', { timeout: 60_000 }, () => {
  let server;
  before(async () => {
    server = await startServer();
  });
  after(async () => {
    if (server) await server.stop();
  });

  async function seed(client) {
    const a = await client.files.upload(
      { name: 'a.txt', externalId: 'ext-a', mimeType: 'text/plain' },
      'content of a',
      false,
      true,
    );
    const b = await client.files.upload(
      { name: 'b.txt', externalId: 'ext-b', mimeType: 'text/plain' },
      'content of b, a bit longer',
      false,
      true,
    );
    const c = await client.files.upload({ name: 'c.txt' }, 'c', false, true);
    for (const f of [a, b, c]) assert.notEqual(f.id, UNKNOWN_ID);
    assert.equal(new Set([a.id, b.id, c.id]).size, 3, 'ids must be distinct');
    return { a, b, c };
  }

  test('retrieve([{id},{externalId}]) returns items in request order', async () => {
    const client = await makeClient(server.baseUrl, newProject());
    const { a, b, c } = await seed(client);

    const got = await client.files.retrieve([{ id: c.id }, { externalId: 'ext-a' }, { id: b.id }]);
    assert.deepEqual(
      got.map((f) => f.id),
      [c.id, a.id, b.id],
    );
    assert.equal(got[1].externalId, 'ext-a');
    assert.equal(got[1].name, 'a.txt');
    assert.equal(got[1].mimeType, 'text/plain');
    assert.equal(got[0].name, 'c.txt');
    assert.equal(got[0].externalId ?? undefined, undefined);
    for (const f of got) {
      assert.equal(f.uploaded, true);
      assert.ok(f.createdTime instanceof Date && !Number.isNaN(f.createdTime.getTime()));
      assert.ok(f.lastUpdatedTime instanceof Date && !Number.isNaN(f.lastUpdatedTime.getTime()));
    }

    const got2 = await client.files.retrieve([{ externalId: 'ext-b' }, { id: a.id }]);
    assert.deepEqual(
      got2.map((f) => f.id),
      [b.id, a.id],
    );
  });

  test('retrieve with an unknown id rejects with 400 and missing', async () => {
    const client = await makeClient(server.baseUrl, newProject());
    const { a } = await seed(client);

    const err = await rejection(client.files.retrieve([{ id: a.id }, { id: UNKNOWN_ID }]));
    assert.equal(err.status, 400, `expected status 400, got ${err.status}: ${err.message}`);
    assert.ok(Array.isArray(err.missing), `missing should be an array: ${err.message}`);
    assert.deepEqual(err.missing, [{ id: UNKNOWN_ID }]);
    assert.ok(err.requestId, 'error responses carry x-request-id');

    const errX = await rejection(client.files.retrieve([{ externalId: 'no-such-file' }]));
    assert.equal(errX.status, 400);
    assert.deepEqual(errX.missing, [{ externalId: 'no-such-file' }]);

    const got = await client.files.retrieve(
      [{ id: UNKNOWN_ID }, { id: a.id }, { externalId: 'no-such-file' }],
      { ignoreUnknownIds: true },
    );
    assert.deepEqual(
      got.map((f) => f.id),
      [a.id],
    );
    const none = await client.files.retrieve([{ id: UNKNOWN_ID }], { ignoreUnknownIds: true });
    assert.deepEqual(none, []);
  });

  test('getDownloadUrls echoes the identifier form and URLs serve the content', async () => {
    const client = await makeClient(server.baseUrl, newProject());
    const { a } = await seed(client);

    const items = await client.files.getDownloadUrls([{ id: a.id }, { externalId: 'ext-b' }]);
    assert.equal(items.length, 2);

    assert.equal(items[0].id, a.id);
    assert.ok(!('externalId' in items[0]), `id item must not carry externalId: ${JSON.stringify(items[0])}`);
    assert.ok(!('instanceId' in items[0]));
    assert.equal(items[1].externalId, 'ext-b');
    assert.ok(!('id' in items[1]), `externalId item must not carry id: ${JSON.stringify(items[1])}`);
    assert.ok(!('instanceId' in items[1]));

    const expected = [Buffer.from('content of a'), Buffer.from('content of b, a bit longer')];
    for (let i = 0; i < 2; i++) {
      const url = items[i].downloadUrl;
      assert.equal(typeof url, 'string');
      assert.match(url, /^https?:\/\//, 'downloadUrl must be absolute');
      // no Authorization, no SDK headers
      const { res, body } = await fetchBytes(url);
      assert.equal(res.status, 200, `GET ${url} -> ${res.status}`);
      assert.equal(body.length, expected[i].length);
      assert.ok(body.equals(expected[i]));
      const cl = res.headers.get('content-length');
      if (cl !== null) assert.equal(Number(cl), expected[i].length);
    }
  });

  test('delete([{id}]) then retrieve fails with missing; old download URL is dead', async () => {
    const client = await makeClient(server.baseUrl, newProject());
    const { a, b } = await seed(client);
    const [link] = await client.files.getDownloadUrls([{ id: a.id }]);
    {
      const { res } = await fetchBytes(link.downloadUrl);
      assert.equal(res.status, 200, 'download link works before delete');
    }

    const res = await client.files.delete([{ id: a.id }]);
    assert.ok(res !== null && typeof res === 'object');

    const err = await rejection(client.files.retrieve([{ id: a.id }]));
    assert.equal(err.status, 400);
    assert.deepEqual(err.missing, [{ id: a.id }]);

    const errX = await rejection(client.files.retrieve([{ externalId: 'ext-a' }]));
    assert.equal(errX.status, 400);
    assert.deepEqual(errX.missing, [{ externalId: 'ext-a' }]);

    const { res: dead, body } = await fetchBytes(link.downloadUrl);
    assert.ok(
      dead.status >= 400,
      `old download URL still answers ${dead.status} after delete`,
    );
    assert.ok(!body.equals(Buffer.from('content of a')), 'old download URL still serves content');

    // other files untouched
    const [stillB] = await client.files.retrieve([{ id: b.id }]);
    assert.equal(stillB.externalId, 'ext-b');
    assert.equal(
      (await downloadContent(client, { externalId: 'ext-b' })).toString('utf8'),
      'content of b, a bit longer',
    );

    // deleting an unknown file reports it as missing
    const errD = await rejection(client.files.delete([{ id: a.id }]));
    assert.equal(errD.status, 400);
    assert.deepEqual(errD.missing, [{ id: a.id }]);

    // delete by externalId
    await client.files.delete([{ externalId: 'ext-b' }]);
    const left = await client.files.list().autoPagingToArray({ limit: Infinity });
    assert.equal(left.length, 1);
    assert.equal(left[0].name, 'c.txt');
  });

  test('creating the same externalId twice without overwrite rejects with 409 duplicated', async () => {
    const client = await makeClient(server.baseUrl, newProject());
    const first = await client.files.upload({ name: 'one.txt', externalId: 'dup-x' });
    const err = await rejection(client.files.upload({ name: 'two.txt', externalId: 'dup-x' }));
    assert.equal(err.status, 409, `expected 409, got ${err.status}: ${err.message}`);
    assert.deepEqual(err.duplicated, [{ externalId: 'dup-x' }]);
    assert.ok(err.requestId, 'error responses carry x-request-id');
    assert.equal(typeof err.errorMessage, 'string');
    assert.ok(err.errorMessage.length > 0, 'error.message should be set');

    // same with content: nothing is created, the original is untouched
    const err2 = await rejection(
      client.files.upload({ name: 'three.txt', externalId: 'dup-x' }, 'data', false, true),
    );
    assert.equal(err2.status, 409);
    const all = await client.files.list().autoPagingToArray({ limit: Infinity });
    assert.equal(all.length, 1);
    assert.equal(all[0].id, first.id);
    assert.equal(all[0].name, 'one.txt');
  });

  test('projects are isolated', async () => {
    const p1 = await makeClient(server.baseUrl, newProject());
    const p2 = await makeClient(server.baseUrl, newProject());
    const f = await p1.files.upload({ name: 'iso.txt', externalId: 'iso' }, 'iso', false, true);
    const err = await rejection(p2.files.retrieve([{ externalId: 'iso' }]));
    assert.equal(err.status, 400);
    assert.deepEqual(err.missing, [{ externalId: 'iso' }]);
    const list2 = await p2.files.list().autoPagingToArray({ limit: Infinity });
    assert.deepEqual(list2, []);
    // the same externalId is free in another project
    const g = await p2.files.upload({ name: 'iso.txt', externalId: 'iso' }, 'other', false, true);
    assert.equal((await downloadContent(p1, { id: f.id })).toString('utf8'), 'iso');
    assert.equal((await downloadContent(p2, { id: g.id })).toString('utf8'), 'other');
  });
});
