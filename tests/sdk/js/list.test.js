// Listing and cursor pagination through the JS SDK.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { makeClient, newProject, startServer } from './server.js';

const N = 150;

describe('list and pagination', { timeout: 90_000 }, () => {
  let server;
  let client;
  let created; // Map id -> externalId
  before(async () => {
    server = await startServer();
    client = await makeClient(server.baseUrl, newProject());
    created = new Map();
    // create N files (metadata only), 10 at a time
    for (let start = 0; start < N; start += 10) {
      const batch = [];
      for (let i = start; i < Math.min(N, start + 10); i++) {
        const xid = `list-${String(i).padStart(4, '0')}`;
        batch.push(
          client.files
            .upload({
              name: `${xid}.txt`,
              externalId: xid,
              mimeType: i % 2 ? 'text/plain' : 'text/csv',
              directory: i < 30 ? '/first' : '/rest',
            })
            .then((f) => created.set(f.id, xid)),
        );
      }
      await Promise.all(batch);
    }
    assert.equal(created.size, N, 'every create returned a distinct id');
  });
  after(async () => {
    if (server) await server.stop();
  });

  function assertSameSet(files, label) {
    const ids = files.map((f) => f.id);
    assert.equal(ids.length, N, `${label}: expected ${N} files, got ${ids.length}`);
    assert.equal(new Set(ids).size, N, `${label}: duplicates in the listing`);
    for (const f of files) {
      assert.ok(created.has(f.id), `${label}: unexpected id ${f.id}`);
      assert.equal(f.externalId, created.get(f.id));
      assert.equal(f.name, `${created.get(f.id)}.txt`);
      assert.ok(f.createdTime instanceof Date && !Number.isNaN(f.createdTime.getTime()));
    }
  }

  test('autoPagingToArray({limit: Infinity}) returns every file exactly once', async () => {
    const all = await client.files.list().autoPagingToArray({ limit: Infinity });
    assertSameSet(all, 'autoPagingToArray');
  });

  test('for await iteration returns every file exactly once', async () => {
    const all = [];
    for await (const f of client.files.list()) all.push(f);
    assertSameSet(all, 'for await');
  });

  test('list({limit: 2}) returns 2 items and a nextCursor; next() continues', async () => {
    const page = await client.files.list({ limit: 2 });
    assert.equal(page.items.length, 2);
    assert.equal(typeof page.nextCursor, 'string');
    assert.ok(page.nextCursor.length > 0, 'nextCursor must be a non-empty string');
    assert.equal(typeof page.next, 'function');
    const page2 = await page.next();
    assert.equal(page2.items.length, 2);
    const ids = [...page.items, ...page2.items].map((f) => f.id);
    assert.equal(new Set(ids).size, 4, 'second page must not repeat the first');
    for (const id of ids) assert.ok(created.has(id));
  });

  test('list({limit: 5000}) is answered (a limit above 1000 means 1000), not refused', async () => {
    const page = await client.files.list({ limit: 5000 });
    assert.equal(page.items.length, N);
    for (const f of page.items) assert.ok(created.has(f.id));
  });

  test('walking pages of 7 by cursor covers everything once, then stops', async () => {
    const seen = [];
    let cursor;
    let pages = 0;
    do {
      const page = await client.files.list({ limit: 7, ...(cursor ? { cursor } : {}) });
      assert.ok(page.items.length <= 7);
      seen.push(...page.items);
      cursor = page.nextCursor;
      pages++;
      assert.ok(pages <= N, 'pagination does not terminate');
    } while (cursor);
    assertSameSet(seen, 'limit 7');
  });

  test('autoPagingToArray({limit: n}) stops at n; default is 25', async () => {
    const some = await client.files.list().autoPagingToArray({ limit: 120 });
    assert.equal(some.length, 120);
    assert.equal(new Set(some.map((f) => f.id)).size, 120);
    for (const f of some) assert.ok(created.has(f.id));

    // the SDK's client-side default limit is 25
    const dflt = await client.files.list().autoPagingToArray();
    assert.equal(dflt.length, 25);
  });

  test('list with a filter, auto-paged', async () => {
    const csv = await client.files
      .list({ filter: { mimeType: 'text/csv' } })
      .autoPagingToArray({ limit: Infinity });
    assert.equal(csv.length, N / 2);
    assert.equal(new Set(csv.map((f) => f.id)).size, N / 2);
    for (const f of csv) assert.equal(f.mimeType, 'text/csv');

    const first = await client.files
      .list({ filter: { directoryPrefix: '/first' } })
      .autoPagingToArray({ limit: Infinity });
    assert.equal(first.length, 30);
    for (const f of first) assert.equal(f.directory, '/first');
  });
});
