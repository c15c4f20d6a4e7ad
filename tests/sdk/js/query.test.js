// Query surface through the JS SDK: list filters with autoPagingToArray, search,
// aggregate and update (files-api.md §5.5–§5.9, §6; sdk-wire.md §4).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { makeClient, newProject, rejection, startServer } from './server.js';

const UNKNOWN_ID = 9_007_199_254_740_000;

const point = (x, y) => ({ type: 'Feature', geometry: { type: 'Point', coordinates: [x, y] } });
const BOX_AB = [[[9, 58], [12, 58], [12, 61], [9, 61], [9, 58]]];

// key -> file info. Content is uploaded for the keys in UPLOADED.
const CORPUS = {
  A: {
    name: 'pump-report.pdf', externalId: 'q-A', directory: '/plant/area1', mimeType: 'application/pdf',
    metadata: { site: 'oslo', kind: 'report' }, assetIds: [1, 2], dataSetId: 100,
    labels: [{ externalId: 'PUMP' }, { externalId: 'VERIFIED' }], geoLocation: point(10, 59),
    source: 'sap', sourceCreatedTime: new Date(1_000_000), sourceModifiedTime: new Date(2_000_000),
  },
  B: {
    name: 'pump-spec.txt', externalId: 'q-B', directory: '/plant/area1/sub', mimeType: 'text/plain',
    metadata: { site: 'oslo', kind: 'spec' }, assetIds: [2, 3], dataSetId: 100,
    labels: [{ externalId: 'PUMP' }], geoLocation: point(11, 60),
    source: 'sap', sourceCreatedTime: new Date(2_000_000),
  },
  C: {
    name: 'valve.txt', externalId: 'q-C', directory: '/plant/area2', mimeType: 'text/plain',
    metadata: { site: 'bergen' }, assetIds: [4], dataSetId: 200, labels: [{ externalId: 'VALVE' }],
    geoLocation: point(5, 60), source: 'manual', sourceCreatedTime: new Date(3_000_000),
  },
  D: { name: 'Doc-D.csv', externalId: 'Q-D', directory: '/other', mimeType: 'text/csv', metadata: { site: 'OSLO' } },
  E: { name: 'field notes' },
  F: {
    name: 'main pump', externalId: 'q-F', directory: '/plantation', metadata: { kind: 'report' },
    assetIds: [5], labels: [{ externalId: 'VERIFIED' }],
  },
};
const UPLOADED = new Set(['A', 'C', 'D']);

describe('query surface', { timeout: 90_000 }, () => {
  let server;
  let client;
  const ids = {}; // key -> id
  const keyOf = new Map(); // id -> key

  before(async () => {
    server = await startServer();
    client = await makeClient(server.baseUrl, newProject());
    for (const [k, info] of Object.entries(CORPUS)) {
      const f = UPLOADED.has(k)
        ? await client.files.upload(info, `content of ${k}`, false, true)
        : await client.files.upload(info);
      ids[k] = f.id;
      keyOf.set(f.id, k);
    }
    // padding so that filtered listings need several pages
    for (let start = 0; start < 30; start += 10) {
      const batch = [];
      for (let i = start; i < start + 10; i++) {
        batch.push(client.files.upload({ name: `pad-${i}`, directory: '/pad', metadata: { pad: 'yes' } }));
      }
      for (const f of await Promise.all(batch)) keyOf.set(f.id, `pad`);
    }
  });
  after(async () => {
    if (server) await server.stop();
  });

  /** result files -> sorted corpus keys ('pad' for padding files); fails on duplicates */
  function keys(files) {
    const seen = files.map((f) => f.id);
    assert.equal(new Set(seen).size, seen.length, `duplicate ids in ${JSON.stringify(seen)}`);
    return seen.map((id) => {
      assert.ok(keyOf.has(id), `unexpected id ${id}`);
      return keyOf.get(id);
    }).sort();
  }

  const listAll = (filter, limit) =>
    client.files.list({ filter, ...(limit ? { limit } : {}) }).autoPagingToArray({ limit: Infinity });

  test('list with filters, auto-paged with small pages', async () => {
    const cases = [
      [{ directoryPrefix: '/plant' }, ['A', 'B', 'C', 'F']],
      [{ directoryPrefix: '/plant/area1' }, ['A', 'B']],
      [{ mimeType: 'text/plain' }, ['B', 'C']],
      [{ name: 'valve.txt' }, ['C']],
      [{ metadata: { site: 'oslo' } }, ['A', 'B']],
      [{ metadata: { kind: 'report', site: 'oslo' } }, ['A']],
      [{ assetIds: [2, 5] }, ['A', 'B', 'F']],
      [{ dataSetIds: [{ id: 100 }] }, ['A', 'B']],
      [{ source: 'sap' }, ['A', 'B']],
      [{ externalIdPrefix: 'q-' }, ['A', 'B', 'C', 'F']],
      [{ uploaded: true }, ['A', 'C', 'D']],
      [{ labels: { containsAny: [{ externalId: 'PUMP' }, { externalId: 'VALVE' }] } }, ['A', 'B', 'C']],
      [{ labels: { containsAll: [{ externalId: 'PUMP' }, { externalId: 'VERIFIED' }] } }, ['A']],
      // Date objects become epoch ms on the wire
      [{ sourceCreatedTime: { min: new Date(1_500_000), max: new Date(3_000_000) } }, ['B', 'C']],
      [{ sourceModifiedTime: { min: new Date(0) } }, ['A']],
      [{ uploadedTime: { min: new Date(0) } }, ['A', 'C', 'D']],
      [{ geoLocation: { relation: 'within', shape: { type: 'Polygon', coordinates: BOX_AB } } }, ['A', 'B']],
      [{ geoLocation: { relation: 'disjoint', shape: { type: 'Polygon', coordinates: BOX_AB } } }, ['C']],
      [{ directoryPrefix: '/plant', mimeType: 'text/plain', uploaded: false }, ['B']],
    ];
    for (const [filter, want] of cases) {
      const got = await listAll(filter, 1);
      assert.deepEqual(keys(got), want, `filter ${JSON.stringify(filter)}`);
    }
    const pads = await listAll({ metadata: { pad: 'yes' } }, 7);
    assert.equal(pads.length, 30);
    assert.deepEqual(new Set(keys(pads)), new Set(['pad']));
    // no limit in the body: server default page size, SDK follows the cursor
    const all = await listAll({ createdTime: { min: new Date(0) } });
    assert.equal(all.length, 36);
    assert.equal(new Set(all.map((f) => f.id)).size, 36);
  });

  test('list with a filter returns Date fields and the filtered items per page', async () => {
    const page = await client.files.list({ filter: { externalIdPrefix: 'q-' }, limit: 3 });
    assert.equal(page.items.length, 3);
    assert.equal(typeof page.nextCursor, 'string');
    const rest = await page.next();
    assert.equal(rest.items.length, 1);
    assert.ok(!rest.nextCursor, 'no nextCursor on the last page');
    const all = [...page.items, ...rest.items];
    assert.deepEqual(keys(all), ['A', 'B', 'C', 'F']);
    const a = all.find((f) => f.id === ids.A);
    assert.ok(a.sourceCreatedTime instanceof Date);
    assert.equal(a.sourceCreatedTime.getTime(), 1_000_000);
    assert.ok(a.uploadedTime instanceof Date);
  });

  test('search by name ranks exact > prefix > whole word > typo', async () => {
    // pump-report.pdf / pump-spec.txt are prefix matches, "main pump" a whole-word match
    const res = await client.files.search({ search: { name: 'pump' } });
    const got = keys(res);
    assert.deepEqual(got.slice().sort(), ['A', 'B', 'F']);
    assert.equal(keyOf.get(res[2].id), 'F', 'the whole-word match ranks below the prefix matches');

    const exact = await client.files.search({ search: { name: 'main pump' } });
    assert.equal(keyOf.get(exact[0].id), 'F', 'exact name first');

    const typo = await client.files.search({ search: { name: 'fjeld' } }); // one edit from "field"
    assert.deepEqual(keys(typo), ['E']);
  });

  test('search with a filter and without a name', async () => {
    const res = await client.files.search({ search: { name: 'pump' }, filter: { uploaded: false }, limit: 10 });
    assert.deepEqual(res.map((f) => keyOf.get(f.id)), ['B', 'F']);
    const limited = await client.files.search({ search: { name: 'pump' }, limit: 1 });
    assert.equal(limited.length, 1);
    assert.ok(['A', 'B'].includes(keyOf.get(limited[0].id)));

    const noName = await client.files.search({ filter: { directoryPrefix: '/plant/area1' } });
    assert.deepEqual(keys(noName), ['A', 'B']);
    const pads = await client.files.search({ filter: { metadata: { pad: 'yes' } }, limit: 1000 });
    assert.equal(pads.length, 30);
    assert.ok(pads[0].createdTime instanceof Date);
  });

  test('aggregate({filter}) counts', async () => {
    assert.deepEqual(await client.files.aggregate({ filter: { uploaded: true } }), [{ count: 3 }]);
    assert.deepEqual(await client.files.aggregate({ filter: {} }), [{ count: 36 }]);
    assert.deepEqual(await client.files.aggregate({}), [{ count: 36 }]);
    assert.deepEqual(
      await client.files.aggregate({ filter: { labels: { containsAny: [{ externalId: 'VERIFIED' }] } } }),
      [{ count: 2 }],
    );
    assert.deepEqual(await client.files.aggregate({ filter: { metadata: { pad: 'yes' } } }), [{ count: 30 }]);
    assert.deepEqual(await client.files.aggregate({ filter: { name: 'no such name' } }), [{ count: 0 }]);
  });
});

describe('update', { timeout: 60_000 }, () => {
  let server;
  before(async () => {
    server = await startServer();
  });
  after(async () => {
    if (server) await server.stop();
  });

  async function seed(client) {
    const f = await client.files.upload({
      name: 'u.txt', externalId: 'u1', directory: '/d1', source: 's1', mimeType: 'text/plain',
      metadata: { a: '1', b: '2' }, assetIds: [1, 2], dataSetId: 10,
      labels: [{ externalId: 'L0' }, { externalId: 'L1' }], geoLocation: point(1, 2),
      sourceCreatedTime: new Date(100), sourceModifiedTime: new Date(200),
    });
    const [got] = await client.files.retrieve([{ id: f.id }]);
    return got;
  }
  const labelSet = (f) => (f.labels ?? []).map((l) => l.externalId).sort();

  test('set, setNull and add/remove on metadata, assetIds and labels; read back', async () => {
    const client = await makeClient(server.baseUrl, newProject());
    const orig = await seed(client);
    await new Promise((r) => setTimeout(r, 5));
    const [res] = await client.files.update([
      {
        id: orig.id,
        update: {
          metadata: { add: { b: '20', c: '3' }, remove: ['a'] },
          assetIds: { add: [3], remove: [1] },
          labels: { add: [{ externalId: 'L2' }], remove: [{ externalId: 'L0' }] },
          source: { setNull: true },
          mimeType: { set: 'text/csv' },
          directory: { setNull: true },
          sourceCreatedTime: { set: new Date(1_700_000_000_000) },
          sourceModifiedTime: { setNull: true },
          dataSetId: { set: 11 },
          geoLocation: { set: point(3, 4) },
          externalId: { set: 'u1-new' },
        },
      },
    ]);
    const [got] = await client.files.retrieve([{ id: orig.id }]);
    for (const f of [res, got]) {
      assert.equal(f.id, orig.id);
      assert.equal(f.name, 'u.txt');
      assert.equal(f.externalId, 'u1-new');
      assert.deepEqual(f.metadata, { b: '20', c: '3' });
      assert.deepEqual([...f.assetIds].sort(), [2, 3]);
      assert.deepEqual(labelSet(f), ['L1', 'L2']);
      assert.equal(f.source, undefined);
      assert.equal(f.directory, undefined);
      assert.equal(f.mimeType, 'text/csv');
      assert.ok(f.sourceCreatedTime instanceof Date);
      assert.equal(f.sourceCreatedTime.getTime(), 1_700_000_000_000);
      assert.equal(f.sourceModifiedTime, undefined);
      assert.equal(f.dataSetId, 11);
      assert.deepEqual(f.geoLocation.geometry, { type: 'Point', coordinates: [3, 4] });
      assert.equal(f.createdTime.getTime(), orig.createdTime.getTime());
      assert.ok(f.lastUpdatedTime.getTime() > orig.lastUpdatedTime.getTime(), 'lastUpdatedTime moves');
    }

    // set replaces the collections; by externalId
    const [res2] = await client.files.update([
      {
        externalId: 'u1-new',
        update: {
          metadata: { set: { only: 'this' } },
          assetIds: { set: [9] },
          labels: { set: [{ externalId: 'S' }] },
          geoLocation: { setNull: true },
          dataSetId: { setNull: true },
        },
      },
    ]);
    const [got2] = await client.files.retrieve([{ externalId: 'u1-new' }]);
    for (const f of [res2, got2]) {
      assert.deepEqual(f.metadata, { only: 'this' });
      assert.deepEqual(f.assetIds, [9]);
      assert.deepEqual(labelSet(f), ['S']);
      assert.equal(f.geoLocation, undefined);
      assert.equal(f.dataSetId, undefined);
      assert.equal(f.mimeType, 'text/csv', 'untouched fields stay');
    }

    // empty sets clear
    const [res3] = await client.files.update([
      { id: orig.id, update: { metadata: { set: {} }, assetIds: { set: [] }, labels: { set: [] }, externalId: { setNull: true } } },
    ]);
    assert.ok(!res3.metadata || Object.keys(res3.metadata).length === 0);
    assert.ok(!res3.assetIds || res3.assetIds.length === 0);
    assert.ok(!res3.labels || res3.labels.length === 0);
    assert.equal(res3.externalId, undefined);

    // the list filters see the update
    const [again] = await client.files.update([{ id: orig.id, update: { metadata: { add: { state: 'new' } } } }]);
    const found = await client.files
      .list({ filter: { metadata: { state: 'new' }, lastUpdatedTime: { min: again.lastUpdatedTime } } })
      .autoPagingToArray({ limit: Infinity });
    assert.deepEqual(found.map((f) => f.id), [orig.id]);
  });

  test('several items come back in request order', async () => {
    const client = await makeClient(server.baseUrl, newProject());
    const a = await client.files.upload({ name: 'a', externalId: 'a', metadata: { k: 'a' } });
    const b = await client.files.upload({ name: 'b', externalId: 'b' });
    const res = await client.files.update([
      { externalId: 'b', update: { source: { set: 'sb' } } },
      { id: a.id, update: { metadata: { add: { k2: 'v' } } } },
    ]);
    assert.deepEqual(res.map((f) => f.id), [b.id, a.id]);
    assert.equal(res[0].source, 'sb');
    assert.deepEqual(res[1].metadata, { k: 'a', k2: 'v' });
  });

  test('externalId clash rejects with 409 duplicated; unknown id with 400 missing', async () => {
    const client = await makeClient(server.baseUrl, newProject());
    const orig = await seed(client);
    await client.files.upload({ name: 'other', externalId: 'taken' });
    const err = await rejection(
      client.files.update([{ id: orig.id, update: { externalId: { set: 'taken' }, source: { set: 'x' } } }]),
    );
    assert.equal(err.status, 409, `expected 409, got ${err.status}: ${err.message}`);
    assert.deepEqual(err.duplicated, [{ externalId: 'taken' }]);
    const [unchanged] = await client.files.retrieve([{ id: orig.id }]);
    assert.equal(unchanged.externalId, 'u1');
    assert.equal(unchanged.source, 's1');

    const errM = await rejection(
      client.files.update([
        { id: orig.id, update: { source: { set: 'y' } } },
        { id: UNKNOWN_ID, update: { source: { set: 'y' } } },
      ]),
    );
    assert.equal(errM.status, 400);
    assert.deepEqual(errM.missing, [{ id: UNKNOWN_ID }]);
    const errX = await rejection(client.files.update([{ externalId: 'nope', update: { source: { set: 'y' } } }]));
    assert.equal(errX.status, 400);
    assert.deepEqual(errX.missing, [{ externalId: 'nope' }]);
  });
});
