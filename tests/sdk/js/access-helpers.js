// Set-up shared by the access tests that start a server of their own with a configuration file: the
// tokens and their hashes (the configuration holds only SHA-256 hashes), and a server whose scopes name
// data sets created before it starts. Data set ids come from a sequence shared by the whole run when the
// suite runs on PostgreSQL, so a scope cannot name them in advance: `startScopedToNewDataSets` creates the
// data sets with a first server, then starts a second one on the same data whose configuration names the
// ids they got.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeClient, startServer } from './server.js';

/** What a `[[project.service_token]]` holds of a token. */
export const sha256 = (token) => createHash('sha256').update(token).digest('hex');

/** A fresh static token, named after its role for the server log. */
export const newToken = (role) => `${role}-${randomBytes(16).toString('hex')}`;

/** A client of `project` that sends the static `token`. */
export const clientWith = (server, project, token) =>
  makeClient(server.baseUrl, project, { tokenProvider: async () => token });

/**
 * Creates `dataSets` as `token` on a server configured by `config(ids)` with placeholder ids, then starts
 * one on the same data configured by `config` of the ids they got. `token` must be able to create data sets
 * in both configurations. `stop` stops the server and removes its data.
 * @returns {Promise<{server: object, dataSets: object[], stop: () => Promise<void>}>}
 */
export async function startScopedToNewDataSets({ project, config, token, dataSets }) {
  const dir = mkdtempSync(join(tmpdir(), 'cabinet-js-access-'));
  const path = join(dir, 'cabinet.toml');
  const dataDir = join(dir, 'data');
  const start = async (ids) => {
    writeFileSync(path, config(ids));
    return startServer({ args: ['--config', path], dataDir });
  };
  let created;
  const first = await start(dataSets.map(() => 1));
  try {
    created = await (await clientWith(first, project, token)).datasets.create(dataSets);
  } finally {
    await first.stop();
  }
  const server = await start(created.map((d) => d.id));
  const stop = async () => {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  return { server, dataSets: created, stop };
}
