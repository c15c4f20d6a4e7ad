import { beforeAll, expect, test } from 'vitest';
import { connectCabinet } from 'cabinet-testkit';

let cabinet;
beforeAll(async () => {
  cabinet = await connectCabinet();
});

test('the run has one server, from globalSetup', () => {
  expect(cabinet.project).toBe('vitest-app');
});

test('upload, list and download through @cognite/sdk', async () => {
  const { client } = cabinet;
  const xid = `vitest-${Date.now()}`;
  await client.files.upload({ externalId: xid, name: 'v.txt' }, 'from vitest', false, true);
  const listed = await client.files.list({ filter: { externalIdPrefix: 'vitest-' } }).autoPagingToArray();
  expect(listed.map((f) => f.externalId)).toContain(xid);
  const [{ downloadUrl }] = await client.files.getDownloadUrls([{ externalId: xid }]);
  expect(await (await fetch(downloadUrl)).text()).toBe('from vitest');
});

test('faults: a 503 on files/byids is retried by the SDK', async () => {
  await cabinet.faults.with({ route: 'files/byids', method: 'POST', status: 503, times: 1 }, async () => {
    const got = await cabinet.client.files.retrieve([{ externalId: 'nope' }], { ignoreUnknownIds: true });
    expect(got).toEqual([]);
  });
});
