// How the suite's servers authenticate their clients.
//
// CABINET_SDK_ACCESS=open (the default): servers run in open mode and clients send any token.
// CABINET_SDK_ACCESS=oidc: the same tests run with access control on. A test IdP (idp.js) starts in the
// test process; each server's configuration holds a pool of projects that trust it and grant its
// `sdk-suite` group every files capability; every client's `oidcTokenProvider` runs the OAuth2
// client-credentials flow against the IdP's token endpoint, as a service application does. Projects come
// from the pool (a configured server knows only configured projects).
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { startIdp } from './idp.js';

export const MODE = process.env.CABINET_SDK_ACCESS || 'open';
if (!['open', 'oidc'].includes(MODE)) {
  throw new Error(`CABINET_SDK_ACCESS must be 'open' or 'oidc', not ${JSON.stringify(MODE)}`);
}
export const CLIENT_ID = 'sdk-suite';
const IDP_GROUP = 'sdk-suite-files';
// More projects than the suite's tests use in one test file (each file runs in its own process).
const POOL_SIZE = 200;

let access = null; // { idp, secret, projects, next, users }

/** Starts the IdP on the first server of the process (oidc mode); returns the extra `serve` arguments. */
export async function acquire(tmpDir) {
  if (MODE === 'open') return [];
  if (!access) {
    const secret = randomBytes(18).toString('base64url');
    const idp = await startIdp({
      issuer: 'https://idp.js-sdk-suite.test/',
      audience: 'cabinet-js-sdk-suite',
      clients: { [CLIENT_ID]: { secret, groups: [IDP_GROUP] } },
    });
    const run = randomBytes(3).toString('hex');
    const projects = Array.from({ length: POOL_SIZE }, (_, i) => `js-${run}-${String(i).padStart(3, '0')}`);
    access = { idp, secret, projects, next: 0, users: 0 };
  }
  access.users++;
  const configPath = `${tmpDir}/suite-access.toml`;
  writeFileSync(configPath, configText(access));
  return ['--config', configPath];
}

/** Called when a server stops: the last one closes the IdP, so the test process can exit. */
export async function release() {
  if (!access) return;
  access.users--;
  if (access.users === 0) {
    const { idp } = access;
    access = null;
    await idp.close();
  }
}

function configText({ idp, projects }) {
  const oidc =
    `oidc = { jwks_url = "${idp.jwksUrl}", issuer = "${idp.issuer}", ` +
    `audience = "${idp.audience}", access_claims = ["groups"] }`;
  const capabilities = [
    'capabilities = [',
    '  { filesAcl = { actions = ["READ", "WRITE"], scope = { all = {} } } },',
    '  { assetsAcl = { actions = ["READ", "WRITE"], scope = { all = {} } } },',
    '  { securityCategoriesAcl = { actions = ["MEMBEROF"], scope = { all = {} } } },',
    '  { datasetsAcl = { actions = ["READ", "WRITE", "OWNER"], scope = { all = {} } } },',
    '  { labelsAcl = { actions = ["READ", "WRITE"], scope = { all = {} } } },',
    ']',
  ].join('\n');
  return projects
    .map(
      (name) =>
        `[[project]]\nname = "${name}"\n${oidc}\n\n[[project.group]]\nname = "sdk-suite"\n` +
        `source_id = "${IDP_GROUP}"\n${capabilities}\n`,
    )
    .join('\n');
}

/** A project no test used before: a fresh name in open mode, the next pool project with access control. */
export function newProject() {
  if (MODE === 'open') return 'j-' + randomBytes(5).toString('hex');
  if (!access) throw new Error('start a server before asking for a project (oidc mode)');
  if (access.next >= access.projects.length) {
    throw new Error(`the pool of ${POOL_SIZE} configured projects is used up; raise POOL_SIZE`);
  }
  return access.projects[access.next++];
}

/** A token the suite's servers accept: any string in open mode; a client-credentials token otherwise. */
export async function suiteToken() {
  if (MODE === 'open') return 'test-token';
  if (!access) throw new Error('start a server before asking for a token (oidc mode)');
  const res = await fetch(access.idp.tokenUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: CLIENT_ID,
      client_secret: access.secret,
    }),
  });
  const body = await res.json();
  if (!res.ok || !body.access_token) {
    throw new Error(`token endpoint answered ${res.status}: ${JSON.stringify(body)}`);
  }
  return body.access_token;
}

/** The IdP of the current servers (oidc mode), for tests that mint tokens themselves. */
export function suiteIdp() {
  return access ? access.idp : null;
}
