"""Apply progress on a terminal: a rich progress bar over the changes and a countdown while
waiting for changes PIM's five-minute rule defers. Plain log lines when not a TTY."""

from __future__ import annotations

import asyncio
import math

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from reconciler.apply.executor import ChangeResult
from reconciler.plan.changes import Plan
from reconciler.render.report import result_line


class ApplyProgress:
    """Observer of an apply run: `started(plan)`, `result(r)`, `await wait(seconds)`, `close()`.

    On a TTY it draws a progress bar (changes done of total) and a countdown; otherwise it
    prints nothing but a line when it starts waiting (CI logs stay readable).
    """

    def __init__(self, console: Console, *, interactive: bool) -> None:
        self._console = console
        self._interactive = interactive
        self._progress: Progress | None = None
        self._task: int | None = None

    def started(self, plan: Plan) -> None:
        if not self._interactive or not plan.changes:
            return
        self._progress = Progress(
            TextColumn("applying"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            TextColumn("{task.description}"), console=self._console, transient=True)
        self._progress.start()
        self._task = self._progress.add_task("", total=len(plan.changes))

    def result(self, result: ChangeResult) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, advance=1,  # type: ignore[arg-type]
                                  description=result_line(result)[:60])

    async def wait(self, seconds: float) -> None:
        """Sleep `seconds` (real time), counting down on a TTY."""
        if self._progress is None or self._task is None:
            self._console.print(f"waiting {math.ceil(seconds)} s for changes deferred by PIM's "
                                "five-minute rule", highlight=False)
            await asyncio.sleep(seconds)
            return
        remaining = seconds
        while remaining > 0:
            self._progress.update(self._task, description=f"deferred: {math.ceil(remaining)} s")  # type: ignore[arg-type]
            step = min(1.0, remaining)
            await asyncio.sleep(step)
            remaining -= step
        self._progress.update(self._task, description="")  # type: ignore[arg-type]

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
