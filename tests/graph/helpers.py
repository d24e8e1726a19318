"""Test helpers: a fake sleeper that moves a FixedClock and a fake monotonic timer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from kiota_abstractions.authentication import AnonymousAuthenticationProvider

from reconciler.clock import FixedClock
from reconciler.graph.transport import GraphHttp

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
BASE = "http://graph.test/v1.0"


class FakeSleeper:
    """`sleep` records the delays and advances `clock` and `timer` instead of waiting."""

    def __init__(self, clock: FixedClock | None = None) -> None:
        self.clock = clock or FixedClock(NOW)
        self.delays: list[float] = []
        self.elapsed = 0.0

    async def sleep(self, seconds: float) -> None:
        self.delays.append(seconds)
        self.elapsed += seconds
        self.clock.advance(timedelta(seconds=seconds))

    def timer(self) -> float:
        return self.elapsed


def mock_http(handler) -> GraphHttp:  # type: ignore[no-untyped-def]
    """A GraphHttp (real SDK adapter + middleware) over an httpx.MockTransport."""
    return GraphHttp(BASE, AnonymousAuthenticationProvider(), httpx.MockTransport(handler))
