// datasetsAcl and labelsAcl through the JS SDK, against a server started with a configuration file: an
// owner (datasetsAcl READ/WRITE/OWNER, labelsAcl READ/WRITE), a writer (datasetsAcl READ/WRITE, no OWNER,
// no labelsAcl), both with filesAcl on all, and a reader scoped to one data set (datasetsAcl READ with
// idScope; labelsAcl, filesAcl and assetsAcl READ with datasetScope), as the Python test does. Only the
// owner writes files into a write-protected data set or updates it; the writer may not touch label
// definitions at all; the reader sees only its data set and what is in it.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { clientWith, newToken, sha256, startScopedToNewDataSets } from './access-helpers.js';
import { rejection } from './server.js';

const PROJECT = 'datasets-access-js';
const OWNER_TOKEN = newToken('owner');
const WRITER_TOKEN = newToken('writer');
const READER_TOKEN = newToken('reader');

const config = ([scoped]) => `
[[project]]
name = "${PROJECT}"

[[project.group]]
name = "files"
capabilities = [{ filesAcl = { actions = ["READ", "WRITE"], scope = { all = {} } } }]

[[project.group]]
name = "owners"
capabilities = [
  { datasetsAcl = { actions = ["READ", "WRITE", "OWNER"], scope = { all = {} } } },
  { labelsAcl = { actions = ["READ", "WRITE"], scope = { all = {} } } },
  { assetsAcl = { actions = ["READ", "WRITE"], scope = { all = {} } } },
]

[[project.group]]
name = "writers"
capabilities = [{ datasetsAcl = { actions = ["READ", "WRITE"], scope = { all = {} } } }]

[[project.group]]
name = "readers"
capabilities = [
  { datasetsAcl = { actions = ["READ"], scope = { idScope = { ids = [${scoped}] } } } },
  { labelsAcl = { actions = ["READ"], scope = { datasetScope = { ids = [${scoped}] } } } },
  { filesAcl = { actions = ["READ"], scope = { datasetScope = { ids = [${scoped}] } } } },
  { assetsAcl = { actions = ["READ"], scope = { datasetScope = { ids = [${scoped}] } } } },
]

[[project.service_token]]
subject = "owner"
sha256 = "${sha256(OWNER_TOKEN)}"
groups = ["files", "owners"]

[[project.service_token]]
subject = "writer"
sha256 = "${sha256(WRITER_TOKEN)}"
groups = ["files", "writers"]

[[project.service_token]]
subject = "reader"
sha256 = "${sha256(READER_TOKEN)}"
groups = ["readers"]
`;

describe('datasetsAcl and labelsAcl', { timeout: 60_000 }, () => {
  let running;
  let owner;
  let writer;
  let reader;
  let open;
  let locked;

  before(async () => {
    running = await startScopedToNewDataSets({
      project: PROJECT,
      config,
      token: OWNER_TOKEN,
      dataSets: [{ externalId: 'open' }, { externalId: 'locked', writeProtected: true }],
    });
    [open, locked] = running.dataSets;
    owner = await clientWith(running.server, PROJECT, OWNER_TOKEN);
    writer = await clientWith(running.server, PROJECT, WRITER_TOKEN);
    reader = await clientWith(running.server, PROJECT, READER_TOKEN);
  });

  after(async () => {
    if (running) await running.stop();
  });

  test('only an owner writes into a write-protected data set', async () => {
    assert.equal(locked.writeProtected, true);

    const refused = await rejection(
      writer.files.upload({ name: 'w.txt', externalId: 'w-locked', dataSetId: locked.id }, 'w'),
    );
    assert.equal(refused.status, 403, refused.message);
    const mine = await writer.files.upload(
      { name: 'w.txt', externalId: 'w-open', dataSetId: open.id },
      'w',
      false,
      true,
    );
    assert.equal(mine.dataSetId, open.id);
    const moved = await rejection(
      writer.files.update([{ id: mine.id, update: { dataSetId: { set: locked.id } } }]),
    );
    assert.equal(moved.status, 403, moved.message);

    const theirs = await owner.files.upload(
      { name: 'o.txt', externalId: 'o-locked', dataSetId: locked.id },
      'o',
      false,
      true,
    );
    assert.equal((await rejection(writer.files.delete([{ id: theirs.id }]))).status, 403);
    const [kept] = await owner.files.retrieve([{ id: theirs.id }]);
    assert.equal(kept.dataSetId, locked.id);

    const update = (id, description) => [{ id, update: { description: { set: description } } }];
    assert.equal((await rejection(writer.datasets.update(update(locked.id, 'mine')))).status, 403);
    const [stillTheirs] = await owner.datasets.update(update(locked.id, 'still theirs'));
    assert.equal(stillTheirs.description, 'still theirs');
    const [ok] = await writer.datasets.update(update(open.id, 'ok'));
    assert.equal(ok.description, 'ok');
  });

  test('label definitions need labelsAcl', async () => {
    const [label] = await owner.labels.create([{ externalId: 'pump', name: 'Pump' }]);
    assert.equal(label.externalId, 'pump');
    const listed = await owner.labels.list().autoPagingToArray({ limit: Infinity });
    assert.deepEqual(
      listed.map((l) => l.externalId),
      ['pump'],
    );
    const created = await rejection(writer.labels.create([{ externalId: 'valve', name: 'Valve' }]));
    assert.equal(created.status, 403, created.message);
    const read = await rejection(writer.labels.list().autoPagingToArray({ limit: Infinity }));
    assert.equal(read.status, 403, read.message);
    const removed = await rejection(writer.labels.delete([{ externalId: 'pump' }]));
    assert.equal(removed.status, 403, removed.message);
    await owner.labels.delete([{ externalId: 'pump' }]);
    assert.deepEqual(await owner.labels.list().autoPagingToArray({ limit: Infinity }), []);
  });

  test('an id-scoped reader sees its data set and what is in it only', async () => {
    const listed = await reader.datasets.list().autoPagingToArray({ limit: Infinity });
    assert.deepEqual(
      listed.map((d) => d.id),
      [open.id],
    );
    assert.equal((await reader.datasets.aggregate({})).at(0).count, 1);
    assert.ok((await owner.datasets.aggregate({})).at(0).count >= 2);
    const other = await rejection(reader.datasets.retrieve([{ id: locked.id }]));
    assert.equal(other.status, 403, other.message);
    const created = await rejection(reader.datasets.create([{ externalId: 'nope' }]));
    assert.equal(created.status, 403, created.message);

    await owner.labels.create([
      { externalId: 'in-open', name: 'a', dataSetId: open.id },
      { externalId: 'in-locked', name: 'b', dataSetId: locked.id },
    ]);
    const labels = await reader.labels.list().autoPagingToArray({ limit: Infinity });
    assert.deepEqual(
      labels.map((l) => l.externalId),
      ['in-open'],
    );

    await owner.files.upload({ name: 'r.txt', externalId: 'r-open', dataSetId: open.id }, 'r', false, true);
    await owner.files.upload({ name: 'r.txt', externalId: 'r-locked', dataSetId: locked.id }, 'r', false, true);
    // The writer's test left files in both data sets too.
    const files = await reader.files.list().autoPagingToArray({ limit: Infinity });
    assert.ok(files.some((f) => f.externalId === 'r-open'));
    assert.deepEqual(
      files.filter((f) => f.dataSetId !== open.id),
      [],
    );
    const file = await rejection(reader.files.retrieve([{ externalId: 'r-locked' }]));
    assert.equal(file.status, 403, file.message);

    await owner.assets.create([
      { externalId: 'a-open', name: 'a', dataSetId: open.id },
      { externalId: 'a-locked', name: 'b', dataSetId: locked.id },
    ]);
    const assets = await reader.assets.list().autoPagingToArray({ limit: Infinity });
    assert.deepEqual(
      assets.map((a) => a.externalId),
      ['a-open'],
    );
    const asset = await rejection(reader.assets.retrieve([{ externalId: 'a-locked' }]));
    assert.equal(asset.status, 403, asset.message);
    const write = await rejection(reader.assets.create([{ name: 'x', dataSetId: open.id }]));
    assert.equal(write.status, 403, write.message);
  });
});
