"""`doctor`: pre-flight checks (credential, Graph, clock, permissions, groups, licences)
before a plan or an apply; the checks live in `reconciler.preflight.checks`."""

from __future__ import annotations

import sys
from typing import Any

import click

from reconciler.cli.base import (
    Context,
    cli,
    load_or_exit,
    make_target,
    now_option,
    report_format_option,
    run_graph,
    scope_options,
    scope_or_exit,
    target_options,
)
from reconciler.preflight.checks import run_doctor
from reconciler.render.doctor import render_json, render_markdown, render_text
from reconciler.render.output import append_job_summary


@cli.command()
@click.argument("directory", type=click.Path(exists=True, file_okay=False))
@now_option
@target_options
@click.option("--for", "for_command", type=click.Choice(["plan", "apply"]), default="plan",
              show_default=True, help="Check what this command needs (apply: the ReadWrite "
              "permissions too).")
@report_format_option
@scope_options
@click.pass_obj
def doctor(obj: Context, directory: str, emulator_file: str | None, graph_url: str | None,
           tenant: str | None, credential: str, for_command: str, fmt: str,
           only: tuple[str, ...], shard: Any) -> None:
    """Check that DIRECTORY can be planned (or applied) against the tenant: credential,
    Graph reachable, clock, permissions, groups and licences, one line each with the fix.
    With --only or --shard only those groups (and their principals' licences) are checked,
    the same groups `plan` with the same options plans.

    Exit 0: every check passed (warnings allowed); 1: a check failed.
    """
    state, _problems = load_or_exit(directory, fmt)
    scope = scope_or_exit(state, only, shard)
    target = make_target(emulator_file, graph_url, tenant, credential, state.settings.tenant)
    report = run_graph(run_doctor(state, target, obj.now, for_command, obj.clock(), scope))
    if fmt == "json":
        click.echo(render_json(report))
    elif fmt == "markdown":
        click.echo(render_markdown(report))
    else:
        click.echo(render_text(report))
    append_job_summary(render_markdown(report) + "\n")
    sys.exit(report.exit_code())
