"""How the suite's own server authenticates its clients.

``CABINET_SDK_ACCESS=open`` (the default): the server runs in open mode and every client sends
``Token("test-token")``, as a developer's laptop would.

``CABINET_SDK_ACCESS=oidc``: the same tests run with access control on. A test identity provider (``idp.py``)
starts on loopback; the server's configuration holds a pool of projects, each trusting that IdP and
granting its ``sdk-suite`` group every files capability; every client authenticates with the SDK's
``OAuthClientCredentials`` against the IdP's token endpoint, as a service application on a real site does.
Projects come from the pool (a configured server only knows configured projects), one per test as in open
mode.
"""

from __future__ import annotations

import os
import secrets
import threading
from pathlib import Path

from idp import IdpClient, TestIdp

MODE = os.environ.get("CABINET_SDK_ACCESS", "open")
if MODE not in ("open", "oidc"):
    raise RuntimeError(f"CABINET_SDK_ACCESS must be 'open' or 'oidc', not {MODE!r}")

CLIENT_ID = "sdk-suite"
AUDIENCE = "cabinet-sdk-suite"
IDP_GROUP = "sdk-suite-files"
# Projects the configured server knows; more than the suite's tests and parametrizations together.
POOL_SIZE = 400


class SuiteAccess:
    """The IdP, the client secret and the project pool of one ``oidc`` session."""

    def __init__(self) -> None:
        self.secret = secrets.token_urlsafe(24)
        self.idp = TestIdp(
            issuer="https://idp.sdk-suite.test/",
            audience=AUDIENCE,
            clients={CLIENT_ID: IdpClient(secret=self.secret, groups=[IDP_GROUP])},
        )
        run = secrets.token_hex(3)
        self.projects = [f"sdk-{run}-{i:03d}" for i in range(POOL_SIZE)]
        self._next = 0
        self._lock = threading.Lock()
        self.config_path: Path | None = None

    def write_config(self, path: Path) -> Path:
        """The server's configuration: every pool project trusts the IdP; its group grants the files, data sets and labels ACLs."""
        oidc = (
            f'oidc = {{ jwks_url = "{self.idp.jwks_url}", issuer = "{self.idp.issuer}", '
            f'audience = "{AUDIENCE}", access_claims = ["groups"] }}'
        )
        capabilities = (
            'capabilities = [\n'
            '  { filesAcl = { actions = ["READ", "WRITE"], scope = { all = {} } } },\n'
            '  { assetsAcl = { actions = ["READ", "WRITE"], scope = { all = {} } } },\n'
            '  { securityCategoriesAcl = { actions = ["MEMBEROF"], scope = { all = {} } } },\n'
            '  { datasetsAcl = { actions = ["READ", "WRITE", "OWNER"], scope = { all = {} } } },\n'
            '  { labelsAcl = { actions = ["READ", "WRITE"], scope = { all = {} } } },\n'
            ']'
        )
        blocks = [
            f'[[project]]\nname = "{name}"\n{oidc}\n\n[[project.group]]\nname = "sdk-suite"\n'
            f'source_id = "{IDP_GROUP}"\n{capabilities}\n'
            for name in self.projects
        ]
        path.write_text("\n".join(blocks))
        self.config_path = path
        return path

    def new_project(self) -> str:
        with self._lock:
            if self._next >= len(self.projects):
                raise RuntimeError(f"the suite's pool of {POOL_SIZE} configured projects is used up; raise POOL_SIZE")
            name = self.projects[self._next]
            self._next += 1
            return name


ACTIVE: SuiteAccess | None = SuiteAccess() if MODE == "oidc" else None


def new_project() -> str:
    """A project no test used before: a fresh name in open mode, the next pool project with access control."""
    if ACTIVE is not None:
        return ACTIVE.new_project()
    return "t-" + secrets.token_hex(5)
