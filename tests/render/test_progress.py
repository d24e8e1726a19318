"""The apply progress observer: a bar on a TTY, one plain line per wait in CI logs."""

from __future__ import annotations

import asyncio
import io
from datetime import UTC, datetime

from rich.console import Console

from reconciler.apply.executor import ChangeResult, Outcome
from reconciler.desired.model import Access, Kind, PrincipalType
from reconciler.plan.changes import Action, Change, GraphAction, Plan
from reconciler.render.progress import ApplyProgress

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
CHANGE = Change(Action.REMOVE, GraphAction.ADMIN_REMOVE, "g", "grp-app", Access.MEMBER,
                Kind.ACTIVE, "p", "user-a@contoso.example", PrincipalType.USER, "undeclared")


def test_plain_observer_logs_the_wait_and_sleeps() -> None:
    out = io.StringIO()
    observer = ApplyProgress(Console(file=out, width=120), interactive=False)
    observer.started(Plan((CHANGE,), (), (), NOW, None, "fp", "d"))
    observer.result(ChangeResult(CHANGE, Outcome.APPLIED))
    asyncio.run(observer.wait(0.01))
    observer.close()
    assert out.getvalue() == "waiting 1 s for changes deferred by PIM's five-minute rule\n"


def test_interactive_observer_counts_changes() -> None:
    out = io.StringIO()
    observer = ApplyProgress(Console(file=out, width=120, force_terminal=True), interactive=True)
    observer.started(Plan((CHANGE,), (), (), NOW, None, "fp", "d"))
    observer.result(ChangeResult(CHANGE, Outcome.APPLIED))
    assert observer._progress is not None
    task = observer._progress.tasks[0]
    assert (task.completed, task.total) == (1, 1)
    observer.close()
