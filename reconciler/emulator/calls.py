"""One Graph call and its answer (`Call`, `Answer`): the currency of the router and its routes."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from reconciler.emulator import odata


@dataclass
class Answer:
    """An HTTP answer: status, JSON body (None = empty), headers, and log details."""

    status: int
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    action: str | None = None
    request_status: str | None = None
    extra_latency_ms: int = 0


@dataclass
class Call:
    """One incoming call. `path` is below `/v1.0` (starts with `/`); `base_url` is the
    scheme://host[:port] the caller used (for absolute `@odata.nextLink`)."""

    method: str
    path: str
    query: str
    body: Any
    headers: dict[str, str]
    base_url: str
    batch_item: bool = False
    roles: frozenset[str] | None = None
    """The roles of the call's bearer token (a `$batch` sub-request inherits its envelope's);
    None for an anonymous call."""

    def granted(self, tenant: Any) -> set[str] | frozenset[str] | None:
        """The permissions this call holds: its token's roles, else (anonymous) the tenant's
        `granted_permissions` (None = all granted)."""
        return self.roles if self.roles is not None else tenant.granted_permissions

    @functools.cached_property
    def params(self) -> dict[str, str]:
        """The parsed query (parsed once per call; treat as read-only)."""
        return odata.query_params(self.query)


Handler = Callable[..., Answer]
"""A route: `(tenant, call, *groups of the path pattern) -> Answer`, called under the lock."""
