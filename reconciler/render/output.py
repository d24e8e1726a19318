"""Where a plan goes: stdout in the chosen format, a JSON file, the GitHub job summary."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click
from rich.console import Console

from reconciler.plan.changes import Plan
from reconciler.render.markdown import render_markdown
from reconciler.render.text import render_plan


def plan_json(plan: Plan) -> str:
    return json.dumps(plan.to_dict(), indent=2, ensure_ascii=False)


def emit_plan(plan: Plan, fmt: str, out: str | None, *, title: str = "PIM plan") -> None:
    """Print `plan` as text / markdown / json; save JSON to `out`; append the markdown to
    `$GITHUB_STEP_SUMMARY` when that is set (GitHub Actions job summary)."""
    if out:  # saved first: a reader that closes stdout early must not lose the plan
        Path(out).write_text(plan_json(plan) + "\n", encoding="utf-8")
    if fmt == "json":
        click.echo(plan_json(plan))
    elif fmt == "markdown":
        click.echo(render_markdown(plan, title=title))
    else:
        render_plan(plan, Console(highlight=False, soft_wrap=True))
    append_job_summary(render_markdown(plan, title=title) + "\n")


def append_job_summary(markdown: str) -> None:
    """Append `markdown` as it is to `$GITHUB_STEP_SUMMARY` (the GitHub Actions job summary)
    when that is set; nothing otherwise."""
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a", encoding="utf-8") as handle:
            handle.write(markdown)
