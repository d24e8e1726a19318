"""Local fakes for sign-in tests: a GitHub Actions OIDC token endpoint, app registrations for
the emulator's token service, and a uvicorn thread for any ASGI app (127.0.0.1 only)."""

from __future__ import annotations

import base64
import contextlib
import json
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from reconciler.clock import Clock
from reconciler.emulator.server import Tls, free_port

GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
EXCHANGE_AUDIENCE = "api://AzureADTokenExchange"
SUBJECT = "repo:contoso/access:environment:production"
WRITER_APP = "5c1d7d65-4d5e-4b8a-9f4b-3f2d1a0c9e01"
LIMITED_APP = "5c1d7d65-4d5e-4b8a-9f4b-3f2d1a0c9e02"
CERT_APP = "5c1d7d65-4d5e-4b8a-9f4b-3f2d1a0c9e03"
TENANT_ID = "72f988bf-86f1-41af-91ab-2d7cd011db47"

READ_ROLES = [
    "PrivilegedEligibilitySchedule.Read.AzureADGroup",
    "PrivilegedAssignmentSchedule.Read.AzureADGroup",
    "RoleManagementPolicy.Read.AzureADGroup",
    "User.Read.All",
    "Group.Read.All",
    "Application.Read.All",
]


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def claims_of(jwt: str) -> dict[str, Any]:
    payload = jwt.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


@dataclass
class FakeGitHub:
    """GitHub's OIDC token endpoint for a job (`ACTIONS_ID_TOKEN_REQUEST_URL`): answers only
    a request carrying `Authorization: bearer <request_token>` and the URL's own
    `api-version=2.0`, with a fresh JWT for the `audience` asked (signature: random bytes;
    the emulator, like Entra offline, does not check the IdP's signature). `expires_in`
    (seconds from the clock's now, negative: already expired) shapes the next tokens."""

    clock: Clock
    request_token: str = field(default_factory=lambda: "ghs_" + secrets.token_urlsafe(24))
    subject: str = SUBJECT
    expires_in: int = 300
    hits: list[dict[str, Any]] = field(default_factory=list)
    minted: list[str] = field(default_factory=list)
    refused: int = 0

    def mint(self, audience: str) -> str:
        now = int(self.clock.now().timestamp())
        header = {"typ": "JWT", "alg": "RS256", "kid": "fake-github"}
        claims = {"jti": secrets.token_hex(16), "sub": self.subject, "aud": audience,
                  "repository": "contoso/access", "environment": "production",
                  "iss": GITHUB_ISSUER, "nbf": now - 5, "iat": now - 5,
                  "exp": now + self.expires_in}
        token = (f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
                 f".{b64url(secrets.token_bytes(64))}")
        self.minted.append(token)
        return token

    def app(self) -> Starlette:
        async def idtoken(request: Request) -> Response:
            params = dict(request.query_params)
            self.hits.append({"authorization": request.headers.get("authorization"),
                              "params": params})
            if request.headers.get("authorization") != f"bearer {self.request_token}" or (
                    params.get("api-version") != "2.0" or "audience" not in params):
                self.refused += 1
                return JSONResponse({"message": "Bad credentials"}, status_code=401)
            return JSONResponse({"count": 2000, "value": self.mint(params["audience"])})

        return Starlette(routes=[Route("/_apis/pipelines/workflows/run/idtoken", idtoken)])

    def env(self, base: str) -> dict[str, str]:
        return {"ACTIONS_ID_TOKEN_REQUEST_URL":
                f"{base}/_apis/pipelines/workflows/run/idtoken?api-version=2.0",
                "ACTIONS_ID_TOKEN_REQUEST_TOKEN": self.request_token}


@contextlib.contextmanager
def serving(app: Any, tls: Tls) -> Iterator[str]:
    """Serve `app` over HTTPS on 127.0.0.1 in a thread; yield `https://127.0.0.1:PORT`."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", access_log=False,
        lifespan="off", ssl_certfile=tls.certfile, ssl_keyfile=tls.keyfile))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError("fake server did not start")
        time.sleep(0.01)
    try:
        yield f"https://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def applications(secret: str, limited_secret: str, cert_pem: str | None = None,
                 audiences: list[str] | None = None) -> list[dict[str, Any]]:
    """The tenant file's `applications:`: a CI app (secret + a federated credential for
    GitHub's production environment, read roles), one with too few roles, and optionally one
    signing in with a certificate."""
    apps: list[dict[str, Any]] = [
        {"appId": WRITER_APP, "displayName": "pim-reconciler-ci",
         "passwordCredentials": [{"secretText": secret}],
         "federatedIdentityCredentials": [
             {"name": "github-production", "issuer": GITHUB_ISSUER, "subject": SUBJECT,
              "audiences": audiences or [EXCHANGE_AUDIENCE]}],
         "grantedPermissions": READ_ROLES},
        {"appId": LIMITED_APP, "displayName": "pim-reconciler-limited",
         "passwordCredentials": [{"secretText": limited_secret}],
         "grantedPermissions": [r for r in READ_ROLES
                                if r != "PrivilegedAssignmentSchedule.Read.AzureADGroup"]},
    ]
    if cert_pem:
        apps.append({"appId": CERT_APP, "displayName": "pim-reconciler-cert",
                     "keyCredentials": [{"key": cert_pem}], "grantedPermissions": READ_ROLES})
    return apps


def later(clock: Any, seconds: float) -> None:
    clock.advance(timedelta(seconds=seconds))
