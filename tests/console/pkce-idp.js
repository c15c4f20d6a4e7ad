// A small OpenID provider for the console's sign-in test, on loopback: discovery, JWKS, an authorization
// endpoint that approves at once (as a signed-in user would) and a token endpoint that checks the PKCE
// verifier (S256) before it issues an RS256 JWT with the user's groups. CORS is open, as an IdP's
// discovery and token endpoints are for single-page applications.
import { createHash, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { createServer } from 'node:http';

const b64url = (data) => Buffer.from(data).toString('base64url');

/** @param {{clientId: string, audience: string, user: {sub: string, groups: string[]}}} opts */
export async function startPkceIdp({ clientId, audience, user }) {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const kid = `console-${randomBytes(3).toString('hex')}`;
  const codes = new Map();
  const stats = { authorized: 0, exchanged: 0, refused: 0 };
  let issuer = '';

  const signToken = (claims) => {
    const now = Math.floor(Date.now() / 1000);
    const input = `${b64url(JSON.stringify({ alg: 'RS256', typ: 'JWT', kid }))}.${b64url(JSON.stringify({
      iss: issuer, aud: audience, iat: now, nbf: now, exp: now + 3600, ...claims,
    }))}`;
    return `${input}.${b64url(sign('sha256', Buffer.from(input), privateKey))}`;
  };
  const reply = (res, status, body) => {
    res.writeHead(status, { 'content-type': 'application/json', 'access-control-allow-origin': '*' });
    res.end(JSON.stringify(body));
  };

  const server = createServer((req, res) => {
    const url = new URL(req.url, issuer);
    if (req.method === 'GET' && url.pathname === '/.well-known/openid-configuration') {
      return reply(res, 200, {
        issuer,
        authorization_endpoint: `${issuer}/authorize`,
        token_endpoint: `${issuer}/token`,
        jwks_uri: `${issuer}/jwks`,
        code_challenge_methods_supported: ['S256'],
      });
    }
    if (req.method === 'GET' && url.pathname === '/jwks') {
      return reply(res, 200, { keys: [{ ...publicKey.export({ format: 'jwk' }), kid, use: 'sig', alg: 'RS256' }] });
    }
    if (req.method === 'GET' && url.pathname === '/authorize') {
      const q = url.searchParams;
      if (q.get('client_id') !== clientId || q.get('response_type') !== 'code'
          || q.get('code_challenge_method') !== 'S256' || !q.get('code_challenge')) {
        stats.refused += 1;
        return reply(res, 400, { error: 'invalid_request' });
      }
      const code = randomBytes(16).toString('hex');
      codes.set(code, { challenge: q.get('code_challenge'), redirect: q.get('redirect_uri') });
      stats.authorized += 1;
      const back = new URL(q.get('redirect_uri'));
      back.searchParams.set('code', code);
      back.searchParams.set('state', q.get('state'));
      res.writeHead(302, { location: back.toString() });
      return res.end();
    }
    if (req.method === 'POST' && url.pathname === '/token') {
      let raw = '';
      req.setEncoding('utf8');
      req.on('data', (c) => { raw += c; });
      req.on('end', () => {
        const form = new URLSearchParams(raw);
        const grant = codes.get(form.get('code'));
        codes.delete(form.get('code'));
        const verifier = form.get('code_verifier') || '';
        const ok = grant && form.get('grant_type') === 'authorization_code' && form.get('client_id') === clientId
          && form.get('redirect_uri') === grant.redirect
          && createHash('sha256').update(verifier).digest('base64url') === grant.challenge;
        if (!ok) {
          stats.refused += 1;
          return reply(res, 400, { error: 'invalid_grant' });
        }
        stats.exchanged += 1;
        return reply(res, 200, { access_token: signToken(user), token_type: 'Bearer', expires_in: 3600 });
      });
      return undefined;
    }
    return reply(res, 404, { error: 'not_found' });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  issuer = `http://127.0.0.1:${server.address().port}`;
  return {
    issuer,
    stats,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}
