// Data sets, label definitions and files filtered by data set externalId through the JS SDK:
// client.datasets (create, retrieve, list with filters, update, aggregate), client.labels (create, list
// with filters, delete) and client.files.list with dataSetIds by externalId, against a brute force over
// what was created.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { makeClient, newProject, rejection, startServer } from './server.js';

describe('data sets and labels', { timeout: 90_000 }, () => {
  let server;
  let client;
  before(async () => {
    server = await startServer();
    client = await makeClient(server.baseUrl, newProject());
  });
  after(async () => {
    if (server) await server.stop();
  });

  test('datasets: create, retrieve, list, aggregate, update', async () => {
    const created = [];
    for (let start = 0; start < 12; start += 6) {
      const batch = [];
      for (let i = start; i < start + 6; i++) {
        batch.push({
          externalId: `js-ds-${i}`,
          name: `set ${i}`,
          metadata: { parity: i % 2 ? 'odd' : 'even' },
          writeProtected: i % 4 === 0,
        });
      }
      created.push(...(await client.datasets.create(batch)));
    }
    assert.equal(new Set(created.map((d) => d.id)).size, 12);
    assert.ok(created[0].createdTime instanceof Date);
    const got = await client.datasets.retrieve([{ externalId: 'js-ds-3' }, { id: created[0].id }]);
    assert.deepEqual(got.map((d) => d.externalId), ['js-ds-3', 'js-ds-0']);
    const err = await rejection(client.datasets.retrieve([{ externalId: 'nope' }]));
    assert.equal(err.status, 400);
    const ignored = await client.datasets.retrieve([{ externalId: 'nope' }], { ignoreUnknownIds: true });
    assert.deepEqual(ignored, []);
    const dup = await rejection(client.datasets.create([{ externalId: 'js-ds-1' }]));
    assert.equal(dup.status, 409);

    const cases = [
      [{}, () => true],
      [{ metadata: { parity: 'odd' } }, (d) => d.metadata.parity === 'odd'],
      [{ writeProtected: true }, (d) => d.writeProtected],
      [{ externalIdPrefix: 'js-ds-1' }, (d) => d.externalId.startsWith('js-ds-1')],
    ];
    for (const [filter, keep] of cases) {
      const expected = created.filter(keep).map((d) => d.externalId).sort();
      const listed = await client.datasets.list({ filter, limit: 5 }).autoPagingToArray({ limit: Infinity });
      assert.deepEqual(listed.map((d) => d.externalId).sort(), expected, JSON.stringify(filter));
      const [agg] = await client.datasets.aggregate({ filter });
      assert.equal(agg.count, expected.length, JSON.stringify(filter));
    }

    const [updated] = await client.datasets.update([
      {
        externalId: 'js-ds-2',
        update: {
          name: { set: 'renamed' },
          metadata: { add: { k: 'v' }, remove: ['parity'] },
          writeProtected: { set: true },
        },
      },
    ]);
    assert.equal(updated.name, 'renamed');
    assert.deepEqual(updated.metadata, { k: 'v' });
    assert.equal(updated.writeProtected, true);
  });

  test('labels: create, list with filters, delete', async () => {
    const [a, b] = await client.datasets.create([{ externalId: 'js-lab-a' }, { externalId: 'js-lab-b' }]);
    const defs = [];
    for (let i = 0; i < 10; i++) {
      const def = { externalId: `JS-L${i}`, name: i % 2 ? 'Valve' : 'Pump' };
      if (i % 3 === 0) def.dataSetId = a.id;
      if (i % 3 === 1) def.dataSetId = b.id;
      defs.push(def);
    }
    const created = await client.labels.create(defs);
    assert.deepEqual(created.map((l) => l.externalId), defs.map((d) => d.externalId));
    const dup = await rejection(client.labels.create([{ externalId: 'JS-L1', name: 'x' }]));
    assert.equal(dup.status, 409);
    const cases = [
      [{}, () => true],
      [{ name: 'Pump' }, (l) => l.name === 'Pump'],
      [{ externalIdPrefix: 'JS-L1' }, (l) => l.externalId.startsWith('JS-L1')],
      [{ dataSetIds: [{ externalId: 'js-lab-b' }] }, (l) => l.dataSetId === b.id],
      [{ dataSetIds: [{ id: a.id }] }, (l) => l.dataSetId === a.id],
    ];
    for (const [filter, keep] of cases) {
      const expected = created.filter(keep).map((l) => l.externalId).sort();
      const listed = await client.labels.list({ filter, limit: 3 }).autoPagingToArray({ limit: Infinity });
      assert.deepEqual(listed.map((l) => l.externalId).sort(), expected, JSON.stringify(filter));
    }
    await client.labels.delete([{ externalId: 'JS-L0' }, { externalId: 'JS-L1' }]);
    const left = await client.labels.list().autoPagingToArray({ limit: Infinity });
    assert.deepEqual(left.map((l) => l.externalId).sort(), created.slice(2).map((l) => l.externalId).sort());
  });

  test('files: list by data set externalId', async () => {
    const sets = await client.datasets.create([{ externalId: 'js-files-0' }, { externalId: 'js-files-1' }]);
    const files = [];
    for (let i = 0; i < 9; i++) {
      const meta = { name: `f${i}`, externalId: `js-file-${i}` };
      if (i % 3 < 2) meta.dataSetId = sets[i % 3].id;
      files.push(await client.files.upload(meta));
    }
    const extOf = new Map(sets.map((d) => [d.id, d.externalId]));
    for (const wanted of [['js-files-0'], ['js-files-0', 'js-files-1']]) {
      const expected = files.filter((f) => wanted.includes(extOf.get(f.dataSetId))).map((f) => f.externalId).sort();
      const listed = await client.files
        .list({ filter: { dataSetIds: wanted.map((externalId) => ({ externalId })) } })
        .autoPagingToArray({ limit: Infinity });
      assert.deepEqual(listed.map((f) => f.externalId).sort(), expected, wanted.join(','));
    }
    const err = await rejection(client.files.list({ filter: { dataSetIds: [{ externalId: 'no-such' }] } }).autoPagingToArray());
    assert.equal(err.status, 400);
  });
});
