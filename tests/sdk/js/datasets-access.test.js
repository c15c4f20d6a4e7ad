// datasetsAcl and labelsAcl through the JS SDK, against a server started with a configuration file: an
// owner (datasetsAcl READ/WRITE/OWNER, labelsAcl READ/WRITE) and a writer (datasetsAcl READ/WRITE, no OWNER,
// no labelsAcl), both with filesAcl on all. Only the owner writes files into a write-protected data set or
// updates it; the writer may not touch label definitions at all.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { makeClient, rejection, startServer } from './server.js';

const PROJECT = 'datasets-access-js';
const OWNER_TOKEN = 'owner-' + randomBytes(16).toString('hex');
const WRITER_TOKEN = 'writer-' + randomBytes(16).toString('hex');
const sha256 = (t) => createHash('sha256').update(t).digest('hex');

const CONFIG = `
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
]

[[project.group]]
name = "writers"
capabilities = [{ datasetsAcl = { actions = ["READ", "WRITE"], scope = { all = {} } } }]

[[project.service_token]]
subject = "owner"
sha256 = "${sha256(OWNER_TOKEN)}"
groups = ["files", "owners"]

[[project.service_token]]
subject = "writer"
sha256 = "${sha256(WRITER_TOKEN)}"
groups = ["files", "writers"]
`;

describe('datasetsAcl and labelsAcl', { timeout: 60_000 }, () => {
  let server;
  let configDir;
  let owner;
  let writer;

  before(async () => {
    configDir = mkdtempSync(join(tmpdir(), 'cabinet-js-datasets-access-'));
    const config = join(configDir, 'cabinet.toml');
    writeFileSync(config, CONFIG);
    server = await startServer({ args: ['--config', config] });
    owner = await makeClient(server.baseUrl, PROJECT, { tokenProvider: async () => OWNER_TOKEN });
    writer = await makeClient(server.baseUrl, PROJECT, { tokenProvider: async () => WRITER_TOKEN });
  });

  after(async () => {
    if (server) await server.stop();
    if (configDir) rmSync(configDir, { recursive: true, force: true });
  });

  test('only an owner writes into a write-protected data set', async () => {
    const [open, locked] = await owner.datasets.create([
      { externalId: 'open' },
      { externalId: 'locked', writeProtected: true },
    ]);
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
});
