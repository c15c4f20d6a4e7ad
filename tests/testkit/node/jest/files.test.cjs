const { connectCabinet } = require('cabinet-testkit');

let cabinet;
beforeAll(async () => {
  cabinet = await connectCabinet();
});

test('the run has one server, from globalSetup', () => {
  expect(cabinet.project).toBe('jest-app');
  expect(cabinet.baseUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
});

test('upload, list and download through @cognite/sdk', async () => {
  const { client } = cabinet;
  const xid = `jest-${Date.now()}`;
  await client.files.upload({ externalId: xid, name: 'a.txt', mimeType: 'text/plain' }, 'from jest', false, true);
  const listed = await client.files.list({ filter: { externalIdPrefix: 'jest-' } }).autoPagingToArray();
  expect(listed.map((f) => f.externalId)).toContain(xid);
  const [{ downloadUrl }] = await client.files.getDownloadUrls([{ externalId: xid }]);
  expect(await (await fetch(downloadUrl)).text()).toBe('from jest');
});

test('faults: the SDK retries two 429s on files/list', async () => {
  const items = await cabinet.faults.with({ route: 'files/list', method: 'POST', status: 429, times: 2 }, async () => {
    expect(await cabinet.faults.list()).toHaveLength(1);
    return client().files.list({ limit: 1 }).autoPagingToArray({ limit: 1 });
  });
  expect(Array.isArray(items)).toBe(true);
  expect(await cabinet.faults.list()).toEqual([]);
});

function client() {
  return cabinet.client;
}
