"""`pipeline.read_state` starts the schedule reads as soon as the groups are resolved, while
the principals still are (issue 15), and names principals only after both."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import pytest

from reconciler.live.model import LiveGroup, LiveState, Resolution
from reconciler.pipeline import read_state

from .planner.builders import GID, GROUP, desired, entry, group, live, rolling, user


class OverlapBackend:
    """Resolution that finishes only once the reads have begun: a pipeline that waited for
    the whole resolution before reading would never get there."""

    def __init__(self) -> None:
        self.reading = asyncio.Event()
        self.events: list[str] = []

    async def resolve(self, groups: Sequence[str], principals: Sequence[Any],
                      on_groups: Callable[[Mapping[str, tuple[LiveGroup, ...]]], None] | None
                      = None) -> Resolution:
        assert on_groups is not None
        found = {g: (GROUP,) for g in groups}
        on_groups(found)
        self.events.append("groups resolved")
        await asyncio.wait_for(self.reading.wait(), timeout=5)
        self.events.append("principals resolved")
        return Resolution(groups=found, principals={p: (user(1),) for p in principals})

    async def read(self, group_ids: Sequence[str], after: Awaitable[object] | None = None
                   ) -> LiveState:
        self.events.append(f"reading {list(group_ids)}")
        self.reading.set()
        assert after is not None
        await after
        self.events.append("naming")
        return live()[1]


def test_reads_start_before_the_principals_are_resolved() -> None:
    backend = OverlapBackend()
    state = desired(group(entry(1, rolling("P30D"))))
    resolution, _ = asyncio.run(read_state(state, backend))  # type: ignore[arg-type]
    assert backend.events == ["groups resolved", f"reading {[GID]}", "principals resolved",
                              "naming"]
    assert list(resolution.principals.values()) == [(user(1),)]


def test_a_failed_resolution_fails_the_read_state() -> None:
    class Failing(OverlapBackend):
        async def resolve(self, *args: Any, **kwargs: Any) -> Resolution:
            raise RuntimeError("directory unreachable")

    with pytest.raises(RuntimeError, match="directory unreachable"):
        asyncio.run(read_state(desired(group(entry(1, rolling("P30D")))), Failing()))  # type: ignore[arg-type]
