// Assets through the JS SDK (client.assets), and the files filters that name assets, checked against a
// brute force over what was created.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { makeClient, newProject, rejection, startServer } from './server.js';

const N = 200;

/** externalId -> parent externalId: two roots, every other asset under an earlier one. */
function hierarchy() {
  let x = 12345;
  const next = () => {
    x = (x * 1103515245 + 12345) % 2147483648;
    return x;
  };
  const parents = {};
  for (let i = 0; i < N; i++) parents[`a${i}`] = i < 2 ? null : `a${next() % i}`;
  return parents;
}

function subtree(parents, top) {
  const out = new Set([top]);
  let changed = true;
  while (changed) {
    changed = false;
    for (const [a, p] of Object.entries(parents)) {
      if (p !== null && out.has(p) && !out.has(a)) {
        out.add(a);
        changed = true;
      }
    }
  }
  return out;
}

const sorted = (xs) => [...xs].sort();

describe('assets', { timeout: 120_000 }, () => {
  let server;
  let client;
  const parents = hierarchy();
  const byXid = {};
  const links = {};

  before(async () => {
    server = await startServer();
    client = await makeClient(server.baseUrl, newProject());
    // Children first: the server places them whatever the order.
    const items = Object.entries(parents)
      .reverse()
      .map(([externalId, p]) => ({
        externalId,
        name: `asset ${externalId}`,
        ...(p ? { parentExternalId: p } : {}),
      }));
    const created = await client.assets.create(items);
    for (const a of created) byXid[a.externalId] = a;
    const xids = Object.keys(parents);
    for (let j = 0; j < 30; j++) {
      links[`f${j}`] = [xids[(j * 13) % N], xids[(j * 29 + 7) % N]];
      await client.files.upload({
        name: `f${j}`,
        externalId: `f${j}`,
        assetIds: links[`f${j}`].map((a) => byXid[a].id),
      });
    }
  });
  after(async () => {
    if (server) await server.stop();
  });

  test('create places every asset under its parent and root', () => {
    assert.equal(Object.keys(byXid).length, N);
    for (const [a, p] of Object.entries(parents)) {
      if (p === null) assert.equal(byXid[a].rootId, byXid[a].id);
      else assert.equal(byXid[a].parentId, byXid[p].id);
    }
  });

  test('list filters equal brute force', async () => {
    for (const top of ['a0', 'a1', 'a4', 'a17']) {
      const want = sorted(subtree(parents, top));
      const listed = await client.assets
        .list({ filter: { assetSubtreeIds: [{ externalId: top }] }, limit: 50 })
        .autoPagingToArray({ limit: Infinity });
      assert.deepEqual(sorted(listed.map((a) => a.externalId)), want);
      const children = await client.assets
        .list({ filter: { parentIds: [byXid[top].id] } })
        .autoPagingToArray({ limit: Infinity });
      assert.deepEqual(
        sorted(children.map((a) => a.externalId)),
        sorted(Object.keys(parents).filter((a) => parents[a] === top)),
      );
    }
    const roots = await client.assets.list({ filter: { root: true } }).autoPagingToArray();
    assert.deepEqual(sorted(roots.map((a) => a.externalId)), ['a0', 'a1']);
    const inRoot = await client.assets
      .list({ filter: { rootIds: [{ id: byXid.a1.id }] } })
      .autoPagingToArray({ limit: Infinity });
    assert.deepEqual(sorted(inRoot.map((a) => a.externalId)), sorted(subtree(parents, 'a1')));
    const [count] = await client.assets.aggregate({ filter: { assetSubtreeIds: [{ id: byXid.a0.id }] } });
    assert.equal(count.count, subtree(parents, 'a0').size);
    const found = await client.assets.search({ search: { name: 'a42' }, limit: 3 });
    assert.equal(found[0].externalId, 'a42');
  });

  test('files filter by asset subtree, root and externalIds', async () => {
    const brute = (set) =>
      sorted(Object.keys(links).filter((f) => links[f].some((a) => set.has(a))));
    const listFiles = (filter) =>
      client.files.list({ filter }).autoPagingToArray({ limit: Infinity });
    for (const top of ['a0', 'a1', 'a4']) {
      const got = await listFiles({ assetSubtreeIds: [{ id: byXid[top].id }] });
      assert.deepEqual(sorted(got.map((f) => f.externalId)), brute(subtree(parents, top)));
    }
    const got = await listFiles({ rootAssetIds: [{ id: byXid.a0.id }] });
    assert.deepEqual(sorted(got.map((f) => f.externalId)), brute(subtree(parents, 'a0')));
    const some = ['a3', 'a10', 'a77'];
    const byX = await listFiles({ assetExternalIds: some });
    assert.deepEqual(sorted(byX.map((f) => f.externalId)), brute(new Set(some)));
  });

  test('update, retrieve and delete', async () => {
    const leaf = Object.keys(parents).find((a) => !Object.values(parents).includes(a));
    const [updated] = await client.assets.update([
      { externalId: leaf, update: { name: { set: 'renamed' }, metadata: { add: { k: 'v' } } } },
    ]);
    assert.equal(updated.name, 'renamed');
    assert.deepEqual(updated.metadata, { k: 'v' });
    const got = await client.assets.retrieve([{ externalId: leaf }, { id: 9_007_199_254_740_000 }], { ignoreUnknownIds: true });
    assert.deepEqual(got.map((a) => a.externalId), [leaf]);
    const err = await rejection(client.assets.delete([{ externalId: 'a1' }]));
    assert.equal(err.status, 400);
    await client.assets.delete([{ externalId: 'a1' }], { recursive: true });
    const left = await client.assets.list().autoPagingToArray({ limit: Infinity });
    const gone = subtree(parents, 'a1');
    assert.deepEqual(
      sorted(left.map((a) => a.externalId)),
      sorted(Object.keys(parents).filter((a) => !gone.has(a))),
    );
  });
});
