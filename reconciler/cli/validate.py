"""`validate`: offline checks of the desired-state files."""

from __future__ import annotations

import json
import sys

import click

from reconciler.cli.base import EXIT_ERROR, EXIT_OK, Context, cli, count_text, now_option
from reconciler.render.text import problem_line


@cli.command()
@click.argument("directory", type=click.Path(exists=True, file_okay=False))
@now_option
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@click.pass_obj
def validate(obj: Context, directory: str, fmt: str) -> None:
    """Check the desired-state files offline: schema, duplicates, lifetimes, dates."""
    from reconciler.config import load_desired
    from reconciler.plan.rules import time_problems

    state, problems = load_desired(directory)
    if state is not None:
        now = obj.clock().now()
        for group in state.groups:
            for entry in group.assignments:
                problems.extend(time_problems(entry, now, group=group.group))
    if fmt == "json":
        click.echo(json.dumps([p.to_dict() for p in problems], indent=2))
    else:
        for p in problems:
            click.echo(problem_line(p))
    invalid = state is None or any(p.is_error for p in problems)
    if fmt == "text":
        click.echo(
            f"{directory}: {'invalid' if invalid else 'valid'} ({count_text(problems)})", err=True
        )
    sys.exit(EXIT_ERROR if invalid else EXIT_OK)
