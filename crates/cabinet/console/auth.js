// Sign-in. Open mode needs none (any bearer token is accepted, the console sends "console"). With access
// control the token is pasted, or obtained by an OAuth2 authorization-code flow with PKCE (RFC 7636)
// against a project's identity provider named in /console/config.json. The token lives in
// sessionStorage only: it is gone when the tab closes.

const KEY = 'cabinet.console.token';
const FLOW = 'cabinet.console.pkce';

export function token() { return sessionStorage.getItem(KEY) || ''; }
export function setToken(t) { sessionStorage.setItem(KEY, t.trim()); }
export function signOut() { sessionStorage.removeItem(KEY); }

function b64url(bytes) {
  let s = '';
  for (const b of new Uint8Array(bytes)) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

async function discovery(issuer) {
  const res = await fetch(`${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`);
  if (!res.ok) throw new Error(`the identity provider's discovery document answered ${res.status}`);
  return res.json();
}

function redirectUri() { return `${location.origin}/console/`; }

/** Starts the flow: remembers the verifier and state, then navigates to the authorization endpoint. */
export async function startSignIn(idp) {
  const meta = await discovery(idp.issuer);
  const verifier = b64url(crypto.getRandomValues(new Uint8Array(32)));
  const challenge = b64url(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier)));
  const state = b64url(crypto.getRandomValues(new Uint8Array(16)));
  sessionStorage.setItem(FLOW, JSON.stringify({ verifier, state, idp, tokenEndpoint: meta.token_endpoint }));
  const url = new URL(meta.authorization_endpoint);
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: idp.clientId,
    redirect_uri: redirectUri(),
    scope: 'openid',
    audience: idp.audience,
    state,
    code_challenge: challenge,
    code_challenge_method: 'S256',
  }).toString();
  location.assign(url.toString());
}

/** On return from the IdP (`?code=&state=`): exchanges the code, keeps the token, and gives back the
 * project the sign-in was for. Returns null when the address carries no code. */
export async function finishSignIn() {
  const params = new URLSearchParams(location.search);
  const code = params.get('code');
  if (!code) return null;
  const flow = JSON.parse(sessionStorage.getItem(FLOW) || 'null');
  sessionStorage.removeItem(FLOW);
  history.replaceState(null, '', '/console/');
  if (!flow || flow.state !== params.get('state')) throw new Error('the sign-in answer does not match the sign-in started here');
  const res = await fetch(flow.tokenEndpoint, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code,
      redirect_uri: redirectUri(),
      client_id: flow.idp.clientId,
      code_verifier: flow.verifier,
    }),
  });
  if (!res.ok) throw new Error(`the identity provider refused the code (${res.status})`);
  const body = await res.json();
  setToken(body.access_token);
  return flow.idp.name;
}
