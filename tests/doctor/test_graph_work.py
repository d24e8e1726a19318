"""Doctor's own Graph work over the real SDK adapter (httpx.MockTransport): the token is read
once, the ping's `Date` header becomes aware UTC whatever zone it is written in, and apply's
write guard follows the one permission table."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from azure.core.credentials import AccessToken

from reconciler.clock import FixedClock
from reconciler.config import load_desired
from reconciler.desired.model import Kind
from reconciler.graph.backend import GraphBackend
from reconciler.graph.permissions import (
    REQUIRED,
    missing_policy_permission,
    missing_write_permissions,
)
from reconciler.preflight.checks import Status, run_checks
from reconciler.targets import Target
from tests.conftest import ROOT
from tests.graph.helpers import BASE, mock_http

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


class OpaqueCredential:
    """A credential whose token is no JWT (its roles cannot be read); counts `get_token`."""

    kind = "client-secret"

    def __init__(self) -> None:
        self.calls = 0

    async def get_token(self, *_scopes: str, **_kwargs: Any) -> AccessToken:
        self.calls += 1
        return AccessToken("opaque-token", int(NOW.timestamp()) + 3600)


def _backend(date: str | None, status: int = 200, credential: Any = None) -> GraphBackend:
    def handle(request: httpx.Request) -> httpx.Response:
        headers = {"date": date} if date else {}
        if status != 200:
            body = {"error": {"code": "ServiceUnavailable", "message": "try later"}}
            return httpx.Response(status, json=body, headers=headers)
        return httpx.Response(200, json={"value": []}, headers=headers)

    return GraphBackend(mock_http(handle), clock=FixedClock(NOW), credential=credential)


@pytest.mark.parametrize(("date", "expected"), [
    ("Tue, 01 Dec 2026 12:00:00 GMT", NOW),
    # RFC 5322's "-0000" parses naive: still UTC, never a naive datetime that fails the
    # clock check's subtraction
    ("Tue, 01 Dec 2026 12:00:00 -0000", NOW),
    ("Tue, 01 Dec 2026 13:30:00 +0100", NOW + timedelta(minutes=30)),
    ("not a date", None),
    (None, None),
])
def test_ping_reads_the_date_header_as_aware_utc(date: str | None,
                                                 expected: datetime | None) -> None:
    async def go() -> Any:
        backend = _backend(date)
        try:
            return await backend.ping()
        finally:
            await backend.aclose()

    ping = asyncio.run(go())
    assert ping.status == 200 and ping.error is None
    assert ping.server_time == expected
    if expected is not None:
        assert ping.server_time is not None and ping.server_time.utcoffset() == timedelta(0)


def test_a_token_that_is_no_jwt_is_read_once_and_its_roles_are_unknown() -> None:
    desired, _ = load_desired(str(ROOT / "examples" / "assignments"))
    assert desired is not None
    credential = OpaqueCredential()
    target = Target(kind="url", graph_url=BASE, credential="client-secret")

    async def go() -> Any:
        # Graph answers 503: the run stops after the graph check, so the credential check
        # is the only reader of the token
        backend = _backend("Tue, 01 Dec 2026 12:00:00 GMT", status=503, credential=credential)
        try:
            return await run_checks(desired, backend, command="plan", target=target, now=NOW)
        finally:
            await backend.aclose()

    checks, _checked = asyncio.run(go())
    assert [(c.check, c.status) for c in checks] == [
        ("credential", Status.OK), ("graph", Status.FAIL), ("not run", Status.SKIPPED)]
    assert checks[0].message == (
        f"target: Graph-compatible URL {BASE}, signed in with --credential client-secret; "
        "token obtained (OpaqueCredential); token roles unknown (permissions are probed)")
    assert credential.calls == 1


def test_apply_guard_follows_the_permission_table() -> None:
    """Each write the table lists is missing from no roles, and any one permission the table
    says covers it satisfies apply's guard as it satisfies doctor."""
    writes = [r for r in REQUIRED["apply"] if r.when in ("eligible", "active", "policies")]
    assert {r.when for r in writes} == {"eligible", "active", "policies"}
    for req in writes:
        def guard(granted: frozenset[str], req: Any = req) -> list[str]:
            if req.when == "policies":
                return missing_policy_permission(granted)
            return missing_write_permissions(granted, [Kind(req.when)])

        assert guard(frozenset()) == [req.permission]
        for enough in (req.permission, *req.covered_by):
            assert guard(frozenset({enough})) == [], (req.permission, enough)
