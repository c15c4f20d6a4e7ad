// A small OAuth2 identity provider for the tests, on loopback: an RSA and an EC key generated at start,
// their JWKS at /jwks, and a client-credentials token endpoint at /token that issues JWTs (ES256 by
// default, RS256 on request) for the clients it was given. Enough for an `oidcTokenProvider` that does
// what a service application does against Entra ID or Keycloak.
import { createServer } from 'node:http';
import { generateKeyPairSync, randomBytes, sign } from 'node:crypto';

const b64url = (data) => Buffer.from(data).toString('base64url');

/**
 * @param {{issuer: string, audience: string, clients: Record<string, {secret: string, groups: string[]}>}} opts
 * @returns {Promise<{url: string, tokenUrl: string, jwksUrl: string, issuer: string, audience: string,
 *   tokensIssued: () => number, signToken: (claims: object, opts?: {alg?: string, lifetimeS?: number}) => string,
 *   close: () => Promise<void>}>}
 */
export async function startIdp({ issuer, audience, clients }) {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const keys = {
    RS256: { kid: 'js-rsa-' + randomBytes(3).toString('hex'), privateKey: rsa.privateKey },
    ES256: { kid: 'js-ec-' + randomBytes(3).toString('hex'), privateKey: ec.privateKey },
  };
  const jwks = {
    keys: [
      { ...rsa.publicKey.export({ format: 'jwk' }), kid: keys.RS256.kid, use: 'sig', alg: 'RS256' },
      { ...ec.publicKey.export({ format: 'jwk' }), kid: keys.ES256.kid, use: 'sig', alg: 'ES256' },
    ],
  };
  let issued = 0;

  /** A token of this issuer for `claims`; `lifetimeS` may be negative for an already expired one. */
  function signToken(claims, { alg = 'ES256', lifetimeS = 3600 } = {}) {
    const key = keys[alg];
    const now = Math.floor(Date.now() / 1000);
    const header = { alg, typ: 'JWT', kid: key.kid };
    const body = {
      iss: issuer,
      aud: audience,
      iat: now,
      nbf: Math.min(now, now + lifetimeS),
      exp: now + lifetimeS,
      ...claims,
    };
    const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(body))}`;
    const signature =
      alg === 'ES256'
        ? sign('sha256', Buffer.from(input), { key: key.privateKey, dsaEncoding: 'ieee-p1363' })
        : sign('sha256', Buffer.from(input), key.privateKey);
    return `${input}.${b64url(signature)}`;
  }

  function reply(res, status, body) {
    const data = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) });
    res.end(data);
  }

  const server = createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/jwks') return reply(res, 200, jwks);
    if (req.method !== 'POST' || req.url !== '/token') return reply(res, 404, { error: 'not_found' });
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (chunk) => (raw += chunk));
    req.on('end', () => {
      const form = new URLSearchParams(raw);
      if (form.get('grant_type') !== 'client_credentials') {
        return reply(res, 400, { error: 'unsupported_grant_type' });
      }
      const client = clients[form.get('client_id')];
      if (!client || client.secret !== form.get('client_secret')) {
        return reply(res, 401, { error: 'invalid_client', error_description: 'unknown client' });
      }
      issued++;
      const token = signToken({ sub: form.get('client_id'), groups: client.groups });
      reply(res, 200, { access_token: token, token_type: 'Bearer', expires_in: 3600 });
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${server.address().port}`;
  return {
    url,
    tokenUrl: `${url}/token`,
    jwksUrl: `${url}/jwks`,
    issuer,
    audience,
    tokensIssued: () => issued,
    signToken,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
