// IAM through the JS SDK against a server started with a configuration file: an admin service token
// lists, creates and deletes groups (client.groups) and security categories (client.securityCategories);
// a created group makes another service token a member at once, and its deletion revokes that.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { makeClient, rejection, startServer } from './server.js';

const PROJECT = 'iam-js';
const ADMIN_TOKEN = 'admin-' + randomBytes(16).toString('hex');
const NEWBIE_TOKEN = 'newbie-' + randomBytes(16).toString('hex');
const sha256 = (t) => createHash('sha256').update(t).digest('hex');

const CONFIG = `
[[project]]
name = "${PROJECT}"

[[project.group]]
name = "admins"
capabilities = [
  { filesAcl = { actions = ["READ", "WRITE"], scope = { all = {} } } },
  { groupsAcl = { actions = ["LIST", "CREATE", "DELETE"], scope = { all = {} } } },
  { securityCategoriesAcl = { actions = ["LIST", "CREATE", "DELETE"], scope = { all = {} } } },
]

[[project.service_token]]
subject = "admin"
sha256 = "${sha256(ADMIN_TOKEN)}"
groups = ["admins"]

[[project.service_token]]
subject = "newbie"
sha256 = "${sha256(NEWBIE_TOKEN)}"
`;

describe('IAM with service tokens', () => {
  let server;
  let configDir;
  let admin;
  let newbie;

  before(async () => {
    configDir = mkdtempSync(join(tmpdir(), 'cabinet-js-iam-'));
    const config = join(configDir, 'cabinet.toml');
    writeFileSync(config, CONFIG);
    server = await startServer({ args: ['--config', config] });
    admin = await makeClient(server.baseUrl, PROJECT, { tokenProvider: async () => ADMIN_TOKEN });
    newbie = await makeClient(server.baseUrl, PROJECT, { tokenProvider: async () => NEWBIE_TOKEN });
  });

  after(async () => {
    if (server) await server.stop();
    if (configDir) rmSync(configDir, { recursive: true, force: true });
  });

  test('groups: list, create, grant, delete, revoke', async () => {
    const before = await admin.groups.list({ all: true });
    assert.deepEqual(before.map((g) => g.name), ['admins']);
    assert.equal((await rejection(newbie.files.list().autoPagingToArray())).status, 401);

    const [created] = await admin.groups.create([
      {
        name: 'newcomers',
        members: ['newbie'],
        capabilities: [{ filesAcl: { actions: ['READ'], scope: { all: {} } } }],
      },
    ]);
    assert.ok(created.id > 2 ** 48, `id ${created.id}`);
    assert.equal(created.name, 'newcomers');
    assert.equal(created.sourceId, '');
    assert.deepEqual(created.members, ['newbie']);
    assert.equal(created.isDeleted, false);
    assert.deepEqual(created.capabilities, [{ filesAcl: { actions: ['READ'], scope: { all: {} } } }]);

    const all = await admin.groups.list({ all: true });
    assert.deepEqual(all.map((g) => g.name), ['admins', 'newcomers']);
    // Without `all` (the JS default sends none): the caller's own groups.
    assert.deepEqual((await admin.groups.list()).map((g) => g.name), ['admins']);

    assert.deepEqual(await newbie.files.list().autoPagingToArray(), []);
    await admin.groups.delete([created.id]);
    assert.deepEqual((await admin.groups.list({ all: true })).map((g) => g.name), ['admins']);
    assert.equal((await rejection(newbie.files.list().autoPagingToArray())).status, 401);

    const configured = await rejection(admin.groups.delete([before[0].id]));
    assert.equal(configured.status, 400);
  });

  test('security categories: create, list with paging, delete', async () => {
    const names = Array.from({ length: 30 }, (_, i) => `cat-${String(i).padStart(2, '0')}`);
    const created = await admin.securityCategories.create(names.map((name) => ({ name })));
    assert.deepEqual(created.map((c) => c.name), names);
    const listed = await admin.securityCategories.list({ limit: 7 }).autoPagingToArray({ limit: 100 });
    assert.deepEqual(listed.map((c) => c.name), names);
    const desc = await admin.securityCategories.list({ sort: 'DESC', limit: 3 });
    assert.deepEqual(desc.items.map((c) => c.name), names.slice(-3).reverse());

    const taken = await rejection(admin.securityCategories.create([{ name: 'cat-00' }]));
    assert.equal(taken.status, 409);

    await admin.securityCategories.delete(created.slice(0, 10).map((c) => c.id));
    const left = await admin.securityCategories.list({ limit: 1000 }).autoPagingToArray({ limit: 100 });
    assert.deepEqual(left.map((c) => c.name), names.slice(10));
    const unknown = await rejection(admin.securityCategories.delete([created[0].id]));
    assert.equal(unknown.status, 400);

    const refused = await rejection(newbie.securityCategories.list().autoPagingToArray());
    assert.equal(refused.status, 401, 'newbie is in no group');
  });
});
