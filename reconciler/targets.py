"""Target selection: real Graph, a Graph-compatible URL, or the in-process emulator.

- `graph`: `https://graph.microsoft.com/v1.0` with an azure-identity credential
  (`reconciler.graph.auth`), scope `https://graph.microsoft.com/.default`.
- `url`: any base URL (e.g. a running `emulator serve`). Anonymous with the default
  `--credential` (`AnonymousAuthenticationProvider`; section 6.1 warns against deriving a
  scope from the host); with an explicit one (`client-secret`, `github-oidc`, ...) that
  credential signs in, scope `https://graph.microsoft.com/.default`, its authority from
  `AZURE_AUTHORITY_HOST` (instance discovery off for a non-Microsoft host; see
  `graph.auth.authority_options`).
- `emulator`: load the tenant file with `load_tenant(file, clock=clock)` and serve it
  in-process through `httpx.ASGITransport`: the same SDK adapter and middleware as real Graph.
  It signs in like a real tenant: `EmulatorCredential` posts client credentials for the
  tenant's default application to the emulator's token endpoint over the same transport
  (one token request per run, more only past the token's hour; not counted in
  `GraphBackend.request_count`, kept out of the emulator's Graph request log), and the token
  goes as bearer, so the Graph routes and `GraphBackend.granted_permissions()` see its roles.
  With `save_state=True` the tenant is written back to the file on clean exit, atomically
  (temporary file + rename), when it accepted a write: a refused, read-only or all-deferred
  run leaves the file as the user wrote it (comments included).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

import httpx
import yaml
from kiota_abstractions.authentication import AnonymousAuthenticationProvider

from reconciler.clock import Clock, FixedClock, SystemClock
from reconciler.graph.auth import GRAPH_SCOPE, NamedCredential, bearer_provider, build_credential
from reconciler.graph.backend import GraphBackend
from reconciler.graph.transport import GRAPH_V1, GraphHttp

EMULATOR_BASE = "http://emulator.invalid/v1.0"
EMULATOR_AUTHORITY = "http://emulator.invalid"
REFRESH_BEFORE = timedelta(minutes=5)
"""A cached token is renewed this long before its expiry (as azure-identity does)."""


class TargetError(ValueError):
    """The target cannot be opened (e.g. an unreadable or malformed tenant file)."""


def _advance(clock: FixedClock) -> Any:
    async def sleep(seconds: float) -> None:
        clock.advance(timedelta(seconds=max(0.0, seconds)))

    return sleep


class EmulatorCredential:
    """An async token credential for the in-process emulator: `client_credentials` with
    `client_id` and `secret` posted to `{EMULATOR_AUTHORITY}/{tenant_id}/oauth2/v2.0/token`
    through `transport` (the emulator's ASGI transport). Caches the token until
    `REFRESH_BEFORE` its expiry on `clock` (the tenant's: a pinned clock only moves when the
    run waits). Raises azure-core's `ClientAuthenticationError` with Entra's error
    description when refused."""

    def __init__(self, transport: httpx.AsyncBaseTransport, tenant_id: str, client_id: str,
                 secret: str, clock: Clock) -> None:
        self._client = httpx.AsyncClient(transport=transport, base_url=EMULATOR_AUTHORITY)
        self._path = f"/{tenant_id}/oauth2/v2.0/token"
        self._form = {"grant_type": "client_credentials", "client_id": client_id,
                      "client_secret": secret}
        self._clock = clock
        self._token: Any = None
        self._lock = asyncio.Lock()

    async def get_token(self, *scopes: str, **_kwargs: Any) -> Any:
        """An `azure.core.credentials.AccessToken` for `scopes` (the Graph scope)."""
        from azure.core.credentials import AccessToken
        from azure.core.exceptions import ClientAuthenticationError

        async with self._lock:
            now = self._clock.now()
            if self._token is not None and now.timestamp() < (
                    self._token.expires_on - REFRESH_BEFORE.total_seconds()):
                return self._token
            resp = await self._client.post(
                self._path, data={**self._form, "scope": " ".join(scopes) or GRAPH_SCOPE})
            body = resp.json() if resp.content else {}
            if resp.status_code != 200 or "access_token" not in body:
                raise ClientAuthenticationError(
                    message=str(body.get("error_description") or f"HTTP {resp.status_code}"))
            self._token = AccessToken(str(body["access_token"]),
                                      int(now.timestamp()) + int(body["expires_in"]))
            return self._token

    async def close(self) -> None:
        await self._client.aclose()


def emulator_credential(tenant: Any, transport: httpx.AsyncBaseTransport) -> NamedCredential:
    """The in-process target's credential: sign in to `tenant`'s identity service as its
    default application (the first of the file's `applications`, else a synthetic one whose
    roles are the file's `granted_permissions`)."""
    service = tenant.identity
    app_id = service.default_app_id()
    inner = EmulatorCredential(transport, service.tenant_id, app_id,
                               service.sign_in_secret(app_id), tenant.clock)
    return NamedCredential("emulator", inner)


@dataclass(frozen=True)
class Target:
    """Where to read and write. `credential` applies to `kind == "graph"`, and to
    `kind == "url"` unless it is "default" (that one stays anonymous)."""

    kind: Literal["graph", "url", "emulator"] = "graph"
    tenant: str | None = None
    graph_url: str | None = None
    emulator_file: str | None = None
    credential: str = "default"


@contextlib.asynccontextmanager
async def open_backend(target: Target, *, clock: Clock | None = None,
                       save_state: bool = False,
                       **backend_options: Any) -> AsyncIterator[GraphBackend]:
    """Yield a `GraphBackend` for `target`; close it on exit, and save the emulator tenant
    when `save_state` and a write was accepted. Extra keyword arguments go to `GraphBackend`
    (e.g. `sleep`).

    `clock` None: the emulator keeps its tenant file's own clock (`now:` in the file, else
    the system clock); other targets use the system clock. `backend.clock` is the one used.

    Raises `ValueError` for an incomplete target and `CredentialConfigError` for a credential
    that cannot be built.
    """
    tenant = None
    credential = None
    if target.kind == "emulator":
        if not target.emulator_file:
            raise ValueError("emulator target needs a tenant file")
        from reconciler.emulator.app import create_app
        from reconciler.emulator.fixture import load_tenant, save_tenant

        try:
            tenant = load_tenant(target.emulator_file, clock=clock)
        except (OSError, ValueError, KeyError, TypeError, yaml.YAMLError) as exc:
            raise TargetError(f"cannot load tenant file {target.emulator_file}: {exc}") from exc
        clock = tenant.clock
        transport: httpx.AsyncBaseTransport = httpx.ASGITransport(app=create_app(tenant))
        credential = emulator_credential(tenant, transport)
        http = GraphHttp(EMULATOR_BASE, bearer_provider(credential), transport)
    elif target.kind in ("url", "graph"):
        base_url = GRAPH_V1 if target.kind == "graph" else target.graph_url
        if not base_url:
            raise ValueError("url target needs --graph-url")
        auth: Any = AnonymousAuthenticationProvider()
        if target.kind == "graph" or target.credential != "default":
            from kiota_authentication_azure.azure_identity_authentication_provider import (
                AzureIdentityAuthenticationProvider,
            )

            credential = build_credential(target.credential, target.tenant)
            auth = AzureIdentityAuthenticationProvider(credential, scopes=[GRAPH_SCOPE])
        http = GraphHttp(base_url, auth, httpx.AsyncHTTPTransport())
    else:
        raise ValueError(f"unknown target kind {target.kind!r}")

    clock = clock or SystemClock()
    if isinstance(clock, FixedClock):
        # A pinned clock (`--now`, or the tenant file's own `now`): waiting means moving it,
        # so retries, Retry-After and replication lag play out in clock time, not real time.
        backend_options.setdefault("sleep", _advance(clock))
        backend_options.setdefault("timer", lambda: clock.now().timestamp())
    backend = GraphBackend(http, clock=clock, tenant=tenant, credential=credential,
                           **backend_options)
    try:
        yield backend
    finally:
        await backend.aclose()
    if save_state and tenant is not None and target.emulator_file and tenant.accepted_writes():
        save_tenant(tenant, target.emulator_file)  # atomic (temp file, fsync, rename)
