"""A small OAuth2 identity provider for the tests, on loopback: an RSA key generated at start, its JWKS at
``/jwks``, and a client-credentials token endpoint at ``/token`` that issues RS256 JWTs for the clients
it was given. Enough for ``OAuthClientCredentials`` of the Python SDK, nothing more.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm


@dataclass
class IdpClient:
    """An application registered at the IdP: its secret and the groups its tokens carry."""

    secret: str
    groups: list[str] = field(default_factory=list)


class TestIdp:
    __test__ = False  # not a pytest class

    def __init__(self, issuer: str, audience: str, clients: dict[str, IdpClient]) -> None:
        self.issuer = issuer
        self.audience = audience
        self.clients = clients
        self.kid = "test-rsa-1"
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = json.loads(RSAAlgorithm.to_jwk(self.key.public_key()))
        jwk.update({"kid": self.kid, "use": "sig", "alg": "RS256"})
        self.jwks = {"keys": [jwk]}
        self.tokens_issued = 0
        idp = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # keep pytest output clean
                pass

            def _json(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                if self.path == "/jwks":
                    self._json(200, idp.jwks)
                else:
                    self._json(404, {"error": "not_found"})

            def do_POST(self) -> None:
                if self.path != "/token":
                    self._json(404, {"error": "not_found"})
                    return
                length = int(self.headers.get("Content-Length") or 0)
                form = urllib.parse.parse_qs(self.rfile.read(length).decode())
                first = lambda k: (form.get(k) or [""])[0]  # noqa: E731
                if first("grant_type") != "client_credentials":
                    self._json(400, {"error": "unsupported_grant_type"})
                    return
                client = idp.clients.get(first("client_id"))
                if client is None or client.secret != first("client_secret"):
                    self._json(401, {"error": "invalid_client", "error_description": "unknown client"})
                    return
                token = idp.sign({"sub": first("client_id"), "groups": client.groups})
                idp.tokens_issued += 1
                self._json(200, {"access_token": token, "token_type": "Bearer", "expires_in": 3600})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, name="test-idp", daemon=True).start()

    @property
    def token_url(self) -> str:
        return self.url + "/token"

    @property
    def jwks_url(self) -> str:
        return self.url + "/jwks"

    def sign(self, claims: dict, key: rsa.RSAPrivateKey | None = None) -> str:
        """A token of this issuer for `claims` (iss, aud, iat, nbf and exp added), signed with its key
        (or with `key`, for forgeries)."""
        now = int(time.time())
        body = {"iss": self.issuer, "aud": self.audience, "iat": now, "nbf": now, "exp": now + 3600, **claims}
        return jwt.encode(body, key or self.key, algorithm="RS256", headers={"kid": self.kid})

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
