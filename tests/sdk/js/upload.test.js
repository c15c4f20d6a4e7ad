// Uploads through the official JS SDK: the seed document's example, single PUT
// uploads with Buffer/ArrayBuffer/string, overwrite, and multipart sessions.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  downloadContent,
  fetchBytes,
  makeClient,
  newProject,
  patternBytes,
  startServer,
} from './server.js';

const ABS_URL = /^https?:\/\//;

function assertTimes(file) {
  for (const k of ['createdTime', 'lastUpdatedTime']) {
    assert.ok(file[k] instanceof Date, `${k} should be converted to a Date, got ${file[k]}`);
    assert.ok(!Number.isNaN(file[k].getTime()), `${k} must be epoch ms, got ${file[k]}`);
  }
}

describe('uploads', { timeout: 60_000 }, () => {
  let server;
  before(async () => {
    server = await startServer();
  });
  after(async () => {
    if (server) await server.stop();
  });

  test('seed example: automatic upload with string content', async () => {
    const client = await makeClient(server.baseUrl, newProject());

    // --- as written in the seed document ---
    const fileContent = 'file data here'; // can also be of type ArrayBuffer, Buffer, Blob, File or any
    // automatic upload:
    const file = await client.files.upload(
      { name: 'examplefile.jpg', mimeType: 'image/jpeg' },
      fileContent,
    );
    // ---

    assert.equal(typeof file.id, 'number');
    assert.ok(Number.isSafeInteger(file.id) && file.id >= 1, `bad id ${file.id}`);
    assert.equal(file.name, 'examplefile.jpg');
    assert.equal(file.mimeType, 'image/jpeg');
    assert.equal(typeof file.uploadUrl, 'string');
    assert.match(file.uploadUrl, ABS_URL, 'uploadUrl must be absolute');
    if (process.env.CABINET_CONTENT_TRANSFER === 'direct') {
      // The run really is in direct transfer: the SDK PUTs to S3 itself.
      assert.match(file.uploadUrl, /X-Amz-Signature=/, 'direct transfer: a presigned S3 URL');
    }
    assert.equal(file.uploaded, false, 'create response describes the file before the PUT');
    assertTimes(file);

    // uploaded must be true as soon as the PUT returned (sdk-wire §5)
    const [got] = await client.files.retrieve([{ id: file.id }]);
    assert.equal(got.id, file.id);
    assert.equal(got.uploaded, true);
    assert.ok(got.uploadedTime instanceof Date && !Number.isNaN(got.uploadedTime.getTime()));
    assert.equal(got.mimeType, 'image/jpeg', 'the PUT must not change mimeType');
    assert.equal(got.name, 'examplefile.jpg');

    const body = await downloadContent(client, { id: file.id });
    assert.equal(body.toString('utf8'), fileContent);
  });

  test('seed example: manual upload via uploadUrl with fetch', async () => {
    const client = await makeClient(server.baseUrl, newProject());

    // --- as written in the seed document ---
    // manual with uploadUrl:
    const file2 = await client.files.upload({ name: 'examplefile.jpg', mimeType: 'image/jpeg' });
    // then upload using the file.uploadUrl
    // ---

    assert.equal(file2.name, 'examplefile.jpg');
    assert.equal(file2.mimeType, 'image/jpeg');
    assert.equal(file2.uploaded, false);
    assert.match(file2.uploadUrl, ABS_URL, 'uploadUrl must be absolute');

    const [before] = await client.files.retrieve([{ id: file2.id }]);
    assert.equal(before.uploaded, false, 'no content yet');
    assert.equal(
      before.uploadedTime,
      undefined,
      'uploadedTime must be absent before upload (null would become new Date(0) in the SDK)',
    );

    const content = patternBytes(4321, 7);
    // Plain fetch, no Authorization: the upload URL must authorise itself.
    const { res, body: putBody } = await fetchBytes(file2.uploadUrl, {
      method: 'PUT',
      headers: { 'Content-Type': 'image/jpeg' },
      body: content,
    });
    assert.ok(
      res.status >= 200 && res.status < 300,
      `PUT uploadUrl -> ${res.status} ${putBody.toString('utf8').slice(0, 300)}`,
    );

    const [after] = await client.files.retrieve([{ id: file2.id }]);
    assert.equal(after.uploaded, true);
    assert.ok(after.uploadedTime instanceof Date);

    const urls = await client.files.getDownloadUrls([{ id: file2.id }]);
    assert.equal(urls.length, 1);
    const { res: dl, body } = await fetchBytes(urls[0].downloadUrl);
    assert.equal(dl.status, 200);
    assert.equal(body.length, content.length);
    assert.ok(body.equals(content), 'downloaded bytes differ from uploaded bytes');
  });

  test('upload(info, Buffer, overwrite=true, waitUntilAcknowledged=true)', async () => {
    const client = await makeClient(server.baseUrl, newProject());
    const content = Buffer.from('first version of the content\n'.repeat(100));
    const info = {
      name: 'report.txt',
      externalId: 'report-1',
      mimeType: 'text/plain',
      directory: '/reports',
      source: 'js-tests',
      metadata: { k: 'v', n: '1' },
      sourceCreatedTime: new Date(1700000000000),
    };
    const file = await client.files.upload(info, content, true, true);
    assert.equal(file.uploaded, true);
    assert.equal(file.externalId, 'report-1');
    assert.equal(file.name, 'report.txt');
    assert.equal(file.mimeType, 'text/plain');
    assert.equal(file.directory, '/reports');
    assert.equal(file.source, 'js-tests');
    assert.deepEqual(file.metadata, { k: 'v', n: '1' });
    assert.ok(file.sourceCreatedTime instanceof Date);
    assert.equal(file.sourceCreatedTime.getTime(), 1700000000000);
    assert.ok(file.uploadedTime instanceof Date);
    assertTimes(file);
    assert.ok((await downloadContent(client, { externalId: 'report-1' })).equals(content));

    // Overwrite the same externalId with new content: id is kept, content replaced.
    const content2 = Buffer.from('second version');
    const file2 = await client.files.upload(
      { name: 'report-v2.txt', externalId: 'report-1', mimeType: 'text/plain' },
      content2,
      true,
      true,
    );
    assert.equal(file2.id, file.id, 'overwrite keeps the id');
    assert.equal(file2.uploaded, true);
    assert.equal(file2.name, 'report-v2.txt');
    const body2 = await downloadContent(client, { id: file.id });
    assert.equal(body2.toString('utf8'), 'second version');

    const all = await client.files.list().autoPagingToArray({ limit: Infinity });
    assert.equal(all.length, 1, 'overwrite must not create a second file');
  });

  test('upload(info, ArrayBuffer): raw bytes arrive intact', async () => {
    const client = await makeClient(server.baseUrl, newProject());
    const src = patternBytes(70_000, 42);
    // include every byte value, CR/LF and NULs
    for (let i = 0; i < 256; i++) src[i] = i;
    const ab = src.buffer.slice(src.byteOffset, src.byteOffset + src.byteLength);
    assert.ok(ab instanceof ArrayBuffer);
    const file = await client.files.upload(
      { name: 'blob.bin', externalId: 'blob', mimeType: 'application/octet-stream' },
      ab,
      false,
      true,
    );
    assert.equal(file.uploaded, true);
    const body = await downloadContent(client, { externalId: 'blob' });
    assert.equal(body.length, src.length);
    assert.ok(body.equals(src), 'downloaded bytes differ from the ArrayBuffer');
  });

  test('upload(info, Buffer) without mimeType, and an empty file', async () => {
    const client = await makeClient(server.baseUrl, newProject());
    const content = Buffer.from([0, 1, 2, 3, 255, 254, 10, 13]);
    const f = await client.files.upload({ name: 'nomime.bin' }, content, false, true);
    assert.equal(f.uploaded, true);
    assert.ok((await downloadContent(client, { id: f.id })).equals(content));

    const empty = await client.files.upload({ name: 'empty.txt' }, '', false, true);
    assert.equal(empty.uploaded, true);
    const body = await downloadContent(client, { id: empty.id });
    assert.equal(body.length, 0);
  });

  test('multipartUploadSession with 2 parts, uploaded out of order', async () => {
    const client = await makeClient(server.baseUrl, newProject());
    const part0 = patternBytes(5 * 1024 * 1024 + 1234, 3); // non-last part >= 5 MiB
    const part1 = Buffer.from('the short tail part');
    const session = await client.files.multipartUploadSession(
      { name: 'big.bin', externalId: 'big', mimeType: 'application/octet-stream' },
      2,
    );
    const resp = session.multiPartFileUploadResponse;
    assert.equal(typeof resp.id, 'number');
    assert.equal(resp.name, 'big.bin');
    assert.equal(resp.externalId, 'big');
    assert.equal(typeof resp.uploadId, 'string');
    assert.ok(resp.uploadId.length > 0);
    assert.ok(Array.isArray(resp.uploadUrls));
    assert.equal(resp.uploadUrls.length, 2);
    for (const u of resp.uploadUrls) assert.match(u, ABS_URL);
    assert.notEqual(resp.uploadUrls[0], resp.uploadUrls[1]);
    assert.equal(session.getMultiPartFileUploadId(), resp.uploadId);

    const r1 = await session.uploadPart(1, part1);
    assert.ok(r1 && (r1.status === 200 || r1.status === 201), `part 1 PUT: ${JSON.stringify(r1)}`);
    assert.equal(session.getFinished(), false);

    const [mid] = await client.files.retrieve([{ id: resp.id }]);
    assert.equal(mid.uploaded, false, 'not uploaded before completion');

    const r0 = await session.uploadPart(0, part0);
    assert.ok(r0 && (r0.status === 200 || r0.status === 201), `part 0 PUT: ${JSON.stringify(r0)}`);
    // The SDK calls completemultipartupload after the last part and requires exactly 200.
    assert.equal(session.getFinished(), true, 'SDK should have completed the upload');

    const [done] = await client.files.retrieve([{ externalId: 'big' }]);
    assert.equal(done.id, resp.id);
    assert.equal(done.uploaded, true);
    assert.ok(done.uploadedTime instanceof Date);

    const body = await downloadContent(client, { id: resp.id });
    const expected = Buffer.concat([part0, part1]);
    assert.equal(body.length, expected.length);
    assert.ok(body.equals(expected), 'content must be part 0 followed by part 1');
  });

  test('multipartUploadSession with 1 small part', async () => {
    const client = await makeClient(server.baseUrl, newProject());
    const session = await client.files.multipartUploadSession({ name: 'one.txt' }, 1);
    await session.uploadPart(0, 'only part');
    assert.equal(session.getFinished(), true);
    const id = session.multiPartFileUploadResponse.id;
    const [f] = await client.files.retrieve([{ id }]);
    assert.equal(f.uploaded, true);
    assert.equal((await downloadContent(client, { id })).toString('utf8'), 'only part');
  });
});
