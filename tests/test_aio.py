"""reconciler.aio.run: asyncio.run without the result on the main task (see its module doc)."""

from __future__ import annotations

import asyncio

import pytest

from reconciler import aio


class Loud:
    """A result whose repr must never be built (it stands for a 1,000-group plan)."""

    reprs = 0

    def __repr__(self) -> str:
        Loud.reprs += 1
        return "x" * 10_000_000


def test_the_result_is_returned_and_never_repr_d() -> None:
    async def work() -> Loud:
        await asyncio.sleep(0)
        return Loud()

    Loud.reprs = 0
    result = aio.run(work())
    assert isinstance(result, Loud)
    assert Loud.reprs == 0


def test_exceptions_pass_through() -> None:
    async def fail() -> None:
        raise LookupError("no such group")

    with pytest.raises(LookupError, match="no such group"):
        aio.run(fail())
