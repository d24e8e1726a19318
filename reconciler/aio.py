"""Running a coroutine to completion from synchronous code.

`run(coro)` is `asyncio.run` except that the result never sits on the main task. On Python
3.11 `asyncio.Runner.run` ends with `signal.getsignal(SIGINT)`, which tries to turn its
handler (a `functools.partial` holding the main task) into a `signal.Handlers` member; the
failed lookup formats `%r` of the partial, hence of the task, hence `reprlib.repr` of the
task's result, and a dataclass result is rendered whole before reprlib cuts it. For a
1,000-group plan that was a 79 MB string built and dropped after the work was done
(bench/plan_scale.py's peak RSS 306 MB instead of 228 MB). Keeping the result out of the
task makes that repr a few bytes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run `coro` in a new event loop (as `asyncio.run`) and return its result.

    Raises whatever `coro` raises; the main task's own result is always None.
    """
    box: list[T] = []

    async def main() -> None:
        box.append(await coro)

    asyncio.run(main())
    return box[0]
