// The console with access control on: it shows only what the signed-in token may see. A reader scoped to
// one data set signs in by pasting its token, and then by the authorization-code flow with PKCE against
// the project's identity provider; files outside the data set, and another project, stay out of sight.
import assert from 'node:assert/strict';
import { randomBytes, createHash } from 'node:crypto';
import { after, before, test } from 'node:test';
import { api, launch, shot, startServer, uploadFile } from './harness.js';
import { startPkceIdp } from './pkce-idp.js';

const ADMIN = `admin-${randomBytes(12).toString('hex')}`;
const READER = `reader-${randomBytes(12).toString('hex')}`;
const hash = (t) => createHash('sha256').update(t).digest('hex');

const config = (idp, dataSetId) => `
[[project]]
name = "plant"
oidc = { jwks_url = "${idp.issuer}/jwks", issuer = "${idp.issuer}", audience = "cabinet", access_claims = ["groups"], console_client_id = "cabinet-console" }

[[project.group]]
name = "admins"
capabilities = [
  { filesAcl = { actions = ["READ", "WRITE"], scope = { all = {} } } },
  { datasetsAcl = { actions = ["READ", "WRITE"], scope = { all = {} } } },
]

[[project.group]]
name = "readers"
source_id = "console-readers"
capabilities = [
  { filesAcl = { actions = ["READ"], scope = { datasetScope = { ids = [${dataSetId}] } } } },
  { datasetsAcl = { actions = ["READ"], scope = { idScope = { ids = [${dataSetId}] } } } },
]

[[project.service_token]]
subject = "admin"
sha256 = "${hash(ADMIN)}"
groups = ["admins"]

[[project.service_token]]
subject = "reader"
sha256 = "${hash(READER)}"
groups = ["readers"]

[[project]]
name = "other"

[[project.group]]
name = "admins"
capabilities = [{ filesAcl = { actions = ["READ", "WRITE"], scope = { all = {} } } }]

[[project.service_token]]
subject = "admin"
sha256 = "${hash(ADMIN)}"
groups = ["admins"]
`;

let idp;
let server;
let browser;

before(async () => {
  idp = await startPkceIdp({ clientId: 'cabinet-console', audience: 'cabinet', user: { sub: 'alice', groups: ['console-readers'] } });
  // Data set ids are the store's: create the data set first, then start on the same data with its id.
  const first = await startServer({ config: config(idp, 1) });
  const [ds] = (await api(first.baseUrl, ADMIN, 'POST', '/api/v1/projects/plant/datasets', { items: [{ externalId: 'visible', name: 'Visible data' }] })).items;
  await first.stop({ keepData: true });
  server = await startServer({ config: config(idp, ds.id), dataDir: first.dataDir });
  await uploadFile(server.baseUrl, ADMIN, 'plant', { name: 'visible-report.txt', dataSetId: ds.id }, 'seen');
  await uploadFile(server.baseUrl, ADMIN, 'plant', { name: 'hidden-report.txt' }, 'not seen');
  await uploadFile(server.baseUrl, ADMIN, 'other', { name: 'other-report.txt' }, 'not seen');
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server?.stop();
  await idp?.close();
});

const names = (page) => page.locator('#rows tr[data-id] td:first-child').allTextContents();

test('config.json names the sign-in and the policy lets the page reach only the IdP', async () => {
  const cfg = await (await fetch(`${server.baseUrl}/console/config.json`)).json();
  assert.deepEqual(cfg, { mode: 'access', signIn: [{ name: 'plant', issuer: idp.issuer, audience: 'cabinet', clientId: 'cabinet-console' }] });
  const csp = (await fetch(`${server.baseUrl}/console/`)).headers.get('content-security-policy');
  // With direct transfer the bucket's origin follows (CABINET_CONTENT_TRANSFER=direct).
  assert.match(csp, new RegExp(`connect-src 'self' ${idp.issuer}( http://127\\.0\\.0\\.1:\\d+)?;`));
});

test('a pasted token sees only its data set, and not another project', async () => {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  await page.goto(`${server.baseUrl}/console/?project=plant`);
  await page.locator('#signin').waitFor({ state: 'visible' });
  assert.ok(await page.locator('#main').isHidden());
  await page.fill('#token-input', READER);
  await page.click('#token-form button[type=submit]');
  await page.locator('#rows tr[data-id]').first().waitFor();
  assert.deepEqual(await names(page), ['visible-report.txt']);
  assert.match(await page.locator('#rows tr[data-id]').first().textContent(), /Visible data/);
  assert.match(await page.locator('#who').textContent(), /reader/);
  const projects = await page.locator('#project-list option').evaluateAll((os) => os.map((o) => o.value));
  assert.deepEqual(projects.sort(), ['plant']);
  await page.fill('#search-input', 'report');
  await page.press('#search-input', 'Enter');
  await page.waitForFunction(() => document.getElementById('page-info').textContent.includes('matches'));
  assert.deepEqual(await names(page), ['visible-report.txt']);
  await shot(page, '09-access-token');
  await page.fill('#project-input', 'other');
  await page.press('#project-input', 'Enter');
  await page.locator('#signin').waitFor({ state: 'visible' });
  assert.match(await page.locator('#signin-error').textContent(), /refused/);
  assert.equal(await page.locator('#rows tr[data-id]').count(), 0);
  await page.close();
});

test('sign-in by authorization code with PKCE', async () => {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  await page.goto(`${server.baseUrl}/console/?project=plant`);
  await page.click('#signin-idps button:text("Sign in to plant")');
  await page.locator('#rows tr[data-id]').first().waitFor();
  assert.deepEqual(await names(page), ['visible-report.txt']);
  assert.match(await page.locator('#who').textContent(), /alice/);
  assert.equal(new URL(page.url()).search, '?project=plant');
  assert.deepEqual(idp.stats, { authorized: 1, exchanged: 1, refused: 0 });
  await page.close();
});
