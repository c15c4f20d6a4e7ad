// The Files API (and data sets, labels, assets) as an SDK calls it: JSON over fetch with the bearer token.

export class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

export class Api {
  /** @param {string} project  @param {() => string} token */
  constructor(project, token) {
    this.project = project;
    this.token = token;
    this.base = `/api/v1/projects/${encodeURIComponent(project)}`;
  }

  async call(method, path, body, signal) {
    const res = await fetch(path.startsWith('/api/') ? path : this.base + path, {
      method,
      headers: { Authorization: `Bearer ${this.token()}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
      signal,
    });
    const text = await res.text();
    let json = null;
    try { json = text ? JSON.parse(text) : null; } catch { json = null; }
    if (!res.ok) {
      const msg = json && json.error && json.error.message ? json.error.message : `HTTP ${res.status}`;
      throw new ApiError(res.status, msg);
    }
    return json;
  }

  post(path, body, signal) { return this.call('POST', path, body, signal); }

  list(filter, cursor, limit = 50) { return this.post('/files/list', { filter, limit, ...(cursor ? { cursor } : {}) }); }
  search(name, filter, limit = 100) { return this.post('/files/search', { search: { name }, filter, limit }); }
  byIds(ids) { return this.post('/files/byids', { items: ids.map((id) => ({ id })), ignoreUnknownIds: true }); }
  update(id, update) { return this.post('/files/update', { items: [{ id, update }] }); }
  remove(id) { return this.post('/files/delete', { items: [{ id }] }); }
  async downloadUrl(id) {
    const r = await this.post('/files/downloadlink', { items: [{ id }] });
    return r.items[0].downloadUrl;
  }
  create(file, signal) { return this.post('/files', file, signal); }
  initMultipart(file, parts, signal) { return this.post(`/files/initmultipartupload?parts=${parts}`, file, signal); }
  completeMultipart(id, uploadId, signal) { return this.post('/files/completemultipartupload', { id, uploadId }, signal); }
  dataSets() { return this.post('/datasets/list', { limit: 1000 }); }
  labels() { return this.post('/labels/list', { limit: 1000 }); }
  assets(ids) { return this.post('/assets/byids', { items: ids.map((id) => ({ id })), ignoreUnknownIds: true }); }
  inspect() { return this.call('GET', '/api/v1/token/inspect'); }
  projects() { return this.call('GET', '/api/v1/projects'); }
}
