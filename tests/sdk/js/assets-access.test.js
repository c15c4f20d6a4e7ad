// assetsAcl with datasetScope through the JS SDK: an owner (assetsAcl READ/WRITE and datasetsAcl on all)
// and a writer whose assetsAcl READ/WRITE is scoped to one data set, as the Python test does. The scoped
// writer reads, creates, updates and deletes only assets of its data set: it cannot move one out of it (or
// into it from outside), and a recursive delete reaching an asset of another data set is refused whole.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { clientWith, newToken, sha256, startScopedToNewDataSets } from './access-helpers.js';
import { rejection } from './server.js';

const PROJECT = 'assets-access-js';
const OWNER_TOKEN = newToken('owner');
const SCOPED_TOKEN = newToken('scoped');

const config = ([scoped]) => `
[[project]]
name = "${PROJECT}"

[[project.group]]
name = "owners"
capabilities = [
  { assetsAcl = { actions = ["READ", "WRITE"], scope = { all = {} } } },
  { datasetsAcl = { actions = ["READ", "WRITE", "OWNER"], scope = { all = {} } } },
]

[[project.group]]
name = "scoped"
capabilities = [{ assetsAcl = { actions = ["READ", "WRITE"], scope = { datasetScope = { ids = [${scoped}] } } } }]

[[project.service_token]]
subject = "owner"
sha256 = "${sha256(OWNER_TOKEN)}"
groups = ["owners"]

[[project.service_token]]
subject = "scoped"
sha256 = "${sha256(SCOPED_TOKEN)}"
groups = ["scoped"]
`;

const status = async (promise) => (await rejection(promise)).status;

describe('assetsAcl with datasetScope', { timeout: 60_000 }, () => {
  let running;
  let owner;
  let scoped;
  let inside;
  let outside;

  before(async () => {
    running = await startScopedToNewDataSets({
      project: PROJECT,
      config,
      token: OWNER_TOKEN,
      dataSets: [{ externalId: 'assets-in' }, { externalId: 'assets-out' }],
    });
    [inside, outside] = running.dataSets.map((d) => d.id);
    owner = await clientWith(running.server, PROJECT, OWNER_TOKEN);
    scoped = await clientWith(running.server, PROJECT, SCOPED_TOKEN);
  });

  after(async () => {
    if (running) await running.stop();
  });

  test('a scoped writer creates and reads only its data set', async () => {
    await scoped.assets.create([
      { externalId: 'c-leaf', name: 'leaf', dataSetId: inside, parentExternalId: 'c-root' },
      { externalId: 'c-root', name: 'root', dataSetId: inside },
    ]);
    assert.equal(await status(scoped.assets.create([{ name: 'x', dataSetId: outside }])), 403);
    assert.equal(await status(scoped.assets.create([{ name: 'x' }])), 403);
    await owner.assets.create([{ externalId: 'c-theirs', name: 'theirs', dataSetId: outside }]);
    const seen = (await scoped.assets.list().autoPagingToArray({ limit: Infinity })).map(
      (a) => a.externalId,
    );
    assert.ok(seen.includes('c-root') && seen.includes('c-leaf'), `${seen}`);
    assert.ok(!seen.includes('c-theirs'), `${seen}`);
    assert.equal(await status(scoped.assets.retrieve([{ externalId: 'c-theirs' }])), 403);
  });

  test('a scoped writer updates only its data set and keeps assets in it', async () => {
    await owner.assets.create([
      { externalId: 'u-in', name: 'in', dataSetId: inside },
      { externalId: 'u-out', name: 'out', dataSetId: outside },
    ]);
    const [renamed] = await scoped.assets.update([
      { externalId: 'u-in', update: { name: { set: 'renamed' } } },
    ]);
    assert.equal(renamed.name, 'renamed');
    for (const change of [
      { externalId: 'u-out', update: { name: { set: 'mine' } } },
      { externalId: 'u-in', update: { dataSetId: { set: outside } } },
      { externalId: 'u-in', update: { dataSetId: { setNull: true } } },
      { externalId: 'u-out', update: { dataSetId: { set: inside } } },
    ]) {
      assert.equal(await status(scoped.assets.update([change])), 403, JSON.stringify(change));
    }
    const kept = await owner.assets.retrieve([{ externalId: 'u-in' }, { externalId: 'u-out' }]);
    assert.deepEqual(
      kept.map((a) => [a.name, a.dataSetId]),
      [
        ['renamed', inside],
        ['out', outside],
      ],
    );
  });

  test('a recursive delete reaching another data set is refused whole', async () => {
    await owner.assets.create([
      { externalId: 'd-root', name: 'root', dataSetId: inside },
      { externalId: 'd-mid', name: 'mid', dataSetId: inside, parentExternalId: 'd-root' },
      { externalId: 'd-other', name: 'other', dataSetId: outside, parentExternalId: 'd-mid' },
      { externalId: 'd-mine', name: 'mine', dataSetId: inside, parentExternalId: 'd-root' },
    ]);
    assert.equal(
      await status(scoped.assets.delete([{ externalId: 'd-root' }], { recursive: true })),
      403,
    );
    assert.equal(await status(scoped.assets.delete([{ externalId: 'd-other' }])), 403);
    const left = (
      await owner.assets
        .list({ filter: { assetSubtreeIds: [{ externalId: 'd-root' }] } })
        .autoPagingToArray({ limit: Infinity })
    )
      .map((a) => a.externalId)
      .sort();
    assert.deepEqual(left, ['d-mid', 'd-mine', 'd-other', 'd-root']);
    await scoped.assets.delete([{ externalId: 'd-mine' }]);
    await owner.assets.delete([{ externalId: 'd-other' }]);
    await scoped.assets.delete([{ externalId: 'd-root' }], { recursive: true });
    const gone = await owner.assets.retrieve([{ externalId: 'd-root' }, { externalId: 'd-mid' }], {
      ignoreUnknownIds: true,
    });
    assert.deepEqual(gone, []);
  });
});
