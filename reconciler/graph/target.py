"""Target selection: real Graph, a Graph-compatible URL, or the in-process emulator.

- `graph`: `https://graph.microsoft.com/v1.0` with an azure-identity credential
  (`reconciler.graph.auth`), scope `https://graph.microsoft.com/.default`.
- `url`: any base URL (e.g. a running `emulator serve`), no credential
  (`AnonymousAuthenticationProvider`; section 6.1 warns against azure-identity there).
- `emulator`: load the tenant file with `Tenant.from_fixture(file, clock=clock)` and serve it
  in-process through `httpx.ASGITransport`: the same SDK adapter and middleware as real Graph.
  With `save_state=True` the tenant is written back to the file on clean exit, atomically
  (temporary file + rename).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import httpx
from kiota_abstractions.authentication import AnonymousAuthenticationProvider

from reconciler.clock import Clock, SystemClock
from reconciler.graph.auth import GRAPH_SCOPE, build_credential
from reconciler.graph.backend import GraphBackend
from reconciler.graph.transport import GRAPH_V1, GraphHttp

EMULATOR_BASE = "http://emulator.invalid/v1.0"


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
    """Yield a `GraphBackend` for `target`; closes it (and saves the emulator tenant when
    `save_state`) on exit. Extra keyword arguments go to `GraphBackend` (e.g. `sleep`).

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
        from reconciler.emulator.tenant import Tenant

        tenant = Tenant.from_fixture(target.emulator_file, clock=clock)
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

    backend = GraphBackend(http, clock=clock or SystemClock(), tenant=tenant, credential=credential,
                           **backend_options)
    try:
        yield backend
    finally:
        await backend.aclose()
    if save_state and tenant is not None and target.emulator_file:
        path = Path(target.emulator_file)
        tmp = path.with_name(f".{path.name}.tmp")
        tenant.save(tmp)
        os.replace(tmp, path)
