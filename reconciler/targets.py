"""Target selection: real Graph, a Graph-compatible URL, or the in-process emulator.

- `graph`: `https://graph.microsoft.com/v1.0` with an azure-identity credential
  (`reconciler.graph.auth`), scope `https://graph.microsoft.com/.default`.
- `url`: any base URL (e.g. a running `emulator serve`), no credential
  (`AnonymousAuthenticationProvider`; section 6.1 warns against azure-identity there).
- `emulator`: load the tenant file with `load_tenant(file, clock=clock)` and serve it
  in-process through `httpx.ASGITransport`: the same SDK adapter and middleware as real Graph.
  With `save_state=True` the tenant is written back to the file on clean exit, atomically
  (temporary file + rename), when it accepted a write: a refused, read-only or all-deferred
  run leaves the file as the user wrote it (comments included).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

import httpx
import yaml
from kiota_abstractions.authentication import AnonymousAuthenticationProvider

from reconciler.clock import Clock, FixedClock, SystemClock
from reconciler.graph.auth import GRAPH_SCOPE, build_credential
from reconciler.graph.backend import GraphBackend
from reconciler.graph.transport import GRAPH_V1, GraphHttp

EMULATOR_BASE = "http://emulator.invalid/v1.0"


class TargetError(ValueError):
    """The target cannot be opened (e.g. an unreadable or malformed tenant file)."""


def _advance(clock: FixedClock) -> Any:
    async def sleep(seconds: float) -> None:
        clock.advance(timedelta(seconds=max(0.0, seconds)))

    return sleep


@dataclass(frozen=True)
class Target:
    """Where to read and write. `credential` applies to `kind == "graph"` only."""

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
        http = GraphHttp(EMULATOR_BASE, AnonymousAuthenticationProvider(), transport)
    elif target.kind == "url":
        if not target.graph_url:
            raise ValueError("url target needs --graph-url")
        http = GraphHttp(target.graph_url, AnonymousAuthenticationProvider(),
                         httpx.AsyncHTTPTransport())
    elif target.kind == "graph":
        from kiota_authentication_azure.azure_identity_authentication_provider import (
            AzureIdentityAuthenticationProvider,
        )

        credential = build_credential(target.credential, target.tenant)
        auth = AzureIdentityAuthenticationProvider(credential, scopes=[GRAPH_SCOPE])
        http = GraphHttp(GRAPH_V1, auth, httpx.AsyncHTTPTransport())
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
