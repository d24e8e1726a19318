"""`plan`: read live state, plan, render (text, markdown, JSON) and optionally save the plan."""

from __future__ import annotations

import sys
from typing import Any

import click

from reconciler.cli.base import (
    EXIT_ERROR,
    Context,
    allow_removals_option,
    cli,
    count_text,
    make_target,
    now_option,
    report_format_option,
    run_graph,
    scope_options,
    scope_or_exit,
    target_options,
    writable_file,
)
from reconciler.pipeline import build_plan
from reconciler.plan.changes import Plan
from reconciler.render.output import emit_plan


@cli.command()
@click.argument("directory", type=click.Path(exists=True, file_okay=False))
@now_option
@target_options
@report_format_option
@click.option("--out", type=click.Path(dir_okay=False), callback=writable_file,
              help="Also save the plan as JSON here.")
@allow_removals_option
@scope_options
@click.pass_obj
def plan(
    obj: Context,
    directory: str,
    emulator_file: str | None,
    graph_url: str | None,
    tenant: str | None,
    credential: str,
    fmt: str,
    out: str | None,
    allow_removals: int | None,
    only: tuple[str, ...],
    shard: Any,
) -> None:
    """Show the changes that would bring PIM in line with DIRECTORY.

    Exit 0: no changes; 2: changes; 1: problems (nothing may be applied). With --only or
    --shard only those groups are planned, and the plan records its scope.
    """
    from reconciler.config import load_desired

    # A file with errors does not hide the rest: the valid groups and entries are planned
    # against live state too, and the plan (every problem, every valid change) exits 1.
    state, problems = load_desired(directory, partial=True)
    if state is None:  # nothing could be read at all
        the_plan = Plan.invalid(problems, obj.clock().now())
        emit_plan(the_plan, fmt, out)
        if fmt == "text":
            click.echo(f"{directory}: invalid ({count_text(problems)})", err=True)
        sys.exit(EXIT_ERROR)
    scope = scope_or_exit(state, only, shard)
    target = make_target(emulator_file, graph_url, tenant, credential, state.settings.tenant)
    the_plan = run_graph(build_plan(state, problems, target, obj.now, allow_removals, scope))
    title = f"PIM plan for {state.settings.tenant}" if state.settings.tenant else "PIM plan"
    emit_plan(the_plan, fmt, out, title=title)
    if fmt == "text" and the_plan.exit_code() == EXIT_ERROR:
        click.echo(f"{directory}: plan has problems ({count_text(list(the_plan.problems))}); "
                   "it cannot be applied", err=True)
    sys.exit(the_plan.exit_code())
