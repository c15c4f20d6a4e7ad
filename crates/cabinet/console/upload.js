// Uploads: one row with a progress bar and a cancel button per file. Small files are created with
// POST /files and PUT to the returned uploadUrl; files of MULTIPART_THRESHOLD bytes or more go through
// initmultipartupload with PARALLEL_PARTS parts in flight and completemultipartupload. Cancel aborts every
// request of the file (XMLHttpRequest.abort, AbortController for the API calls).

import { h, bytes } from './dom.js';

/** Files this large or larger use the multipart API. `?multipartThreshold=N` overrides it (tests). */
export const MULTIPART_THRESHOLD = 8 * 1024 * 1024;
/** Every part but the last must be at least 5 MiB (the API's and S3's rule). */
const MIN_PART = 5 * 1024 * 1024;
const PARALLEL_PARTS = 3;

/** Read once when the console loads: the address loses its query when a project opens. */
const THRESHOLD = (() => {
  const q = Number(new URLSearchParams(location.search).get('multipartThreshold'));
  return q > 0 ? q : MULTIPART_THRESHOLD;
})();

/** PUT with upload progress; resolves on 2xx, rejects otherwise or when aborted. */
function put(url, body, contentType, onProgress, signal) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('PUT', url);
    xhr.setRequestHeader('Content-Type', contentType || 'application/octet-stream');
    xhr.upload.onprogress = (e) => onProgress(e.loaded);
    xhr.onload = () => (xhr.status >= 200 && xhr.status < 300 ? resolve() : reject(new Error(`upload answered ${xhr.status}`)));
    xhr.onerror = () => reject(new Error('upload failed'));
    xhr.onabort = () => reject(new DOMException('cancelled', 'AbortError'));
    signal.addEventListener('abort', () => xhr.abort(), { once: true });
    xhr.send(body);
  });
}

/**
 * Uploads `files` (a FileList or array) into `directory`, showing progress in `container`.
 * Calls `done()` after each file that finished.
 */
export function uploadAll(api, files, directory, container, done) {
  return Promise.all([...files].map((f) => uploadOne(api, f, directory, container, done)));
}

async function uploadOne(api, file, directory, container, done) {
  const controller = new AbortController();
  const bar = h('progress', { max: file.size || 1, value: 0 });
  const status = h('span', {}, 'starting');
  const cancel = h('button', { type: 'button', onclick: () => controller.abort() }, 'Cancel');
  const label = h('span', { title: file.name }, `${file.name} (${bytes(file.size)})`);
  const row = h('div', { class: 'upload', 'data-name': file.name }, label, bar, cancel, status);
  container.append(row);
  const spec = {
    name: file.name,
    mimeType: file.type || undefined,
    metadata: { 'cabinet:size': String(file.size) },
    ...(directory ? { directory } : {}),
  };
  try {
    if (file.size >= THRESHOLD) {
      await multipart(api, file, spec, bar, status, controller.signal);
    } else {
      const created = await api.create(spec, controller.signal);
      status.textContent = 'uploading';
      await put(created.uploadUrl, file, file.type, (n) => { bar.value = n; }, controller.signal);
    }
    bar.value = bar.max;
    status.textContent = 'done';
    row.dataset.state = 'done';
    cancel.disabled = true;
    done();
  } catch (e) {
    row.dataset.state = e.name === 'AbortError' ? 'cancelled' : 'failed';
    status.textContent = e.name === 'AbortError' ? 'cancelled' : `failed: ${e.message}`;
    cancel.disabled = true;
  }
}

async function multipart(api, file, spec, bar, status, signal) {
  // Parts of at least 8 MiB, and no more than 250 of them (as the SDKs size them).
  const partSize = Math.max(MIN_PART, 8 * 1024 * 1024, Math.ceil(file.size / 250));
  const parts = Math.max(1, Math.ceil(file.size / partSize));
  const init = await api.initMultipart(spec, parts, signal);
  const loaded = new Array(parts).fill(0);
  status.textContent = `${parts} parts`;
  let next = 0;
  const worker = async () => {
    while (next < parts) {
      const i = next;
      next += 1;
      const blob = file.slice(i * partSize, Math.min(file.size, (i + 1) * partSize));
      await put(init.uploadUrls[i], blob, 'application/octet-stream', (n) => {
        loaded[i] = n;
        bar.value = loaded.reduce((a, b) => a + b, 0);
      }, signal);
    }
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL_PARTS, parts) }, worker));
  await api.completeMultipart(init.id, init.uploadId, signal);
}
