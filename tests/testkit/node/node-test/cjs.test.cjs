// The CommonJS entry, as a CJS project requires it.
const assert = require('node:assert/strict');
const { test } = require('node:test');
const { startCabinet } = require('cabinet-testkit');

test('require() works and the client talks to the server', async () => {
  const cabinet = await startCabinet({ project: 'cjs-app' });
  try {
    await cabinet.client.files.upload({ externalId: 'c', name: 'c.txt' }, 'cjs', false, true);
    const [file] = await cabinet.client.files.retrieve([{ externalId: 'c' }]);
    assert.equal(file.name, 'c.txt');
  } finally {
    assert.equal(await cabinet.stop(), 0);
  }
});
