"""`apply`: plan (or check a saved plan), confirm, carry it out and report each outcome."""

from __future__ import annotations

import sys
from datetime import timedelta
from typing import Any

import click

from reconciler.cli.base import (
    EXIT_ERROR,
    Context,
    allow_removals_option,
    cli,
    duration_option,
    load_or_exit,
    make_target,
    now_option,
    report_format_option,
    run_graph,
    scope_options,
    scope_or_exit,
    stderr,
    stdout,
    target_options,
    writable_file,
)
from reconciler.plan.changes import PlanFileError, load_plan_file
from reconciler.render.output import append_job_summary, emit_plan
from reconciler.render.text import print_problems


@cli.command()
@click.argument("directory", type=click.Path(exists=True, file_okay=False))
@now_option
@target_options
@click.option("--yes", is_flag=True, help="Apply without asking (scheduled CI jobs).")
@click.option(
    "--plan",
    "plan_file",
    type=click.Path(exists=True, dir_okay=False),
    help="Apply this saved (reviewed) plan after checking it is still true.",
)
@allow_removals_option
@click.option(
    "--wait-deferred",
    callback=duration_option,
    metavar="DURATION",
    help="Wait up to this long (e.g. 6m, PT10M) for changes PIM's five-minute rule "
    "defers, instead of leaving them to the next run.",
)
@click.option(
    "--max-plan-age",
    callback=duration_option,
    default="PT1H",
    show_default=True,
    metavar="DURATION",
    help="Refuse a saved plan older than this.",
)
@report_format_option
@click.option(
    "--audit-log",
    type=click.Path(dir_okay=False),
    callback=writable_file,
    help="Append one JSON line per change outcome to this file.",
)
@scope_options
@click.pass_obj
def apply(
    obj: Context,
    directory: str,
    emulator_file: str | None,
    graph_url: str | None,
    tenant: str | None,
    credential: str,
    yes: bool,
    plan_file: str | None,
    allow_removals: int | None,
    wait_deferred: timedelta | None,
    max_plan_age: timedelta,
    fmt: str,
    audit_log: str | None,
    only: tuple[str, ...],
    shard: Any,
) -> None:
    """Apply the changes that bring PIM in line with DIRECTORY.

    Exit 0: converged; 1: a change failed or the run was refused (nothing written on a
    refusal); 3: converged except changes deferred by PIM's five-minute rule. With --only or
    --shard only those groups are planned and applied; a saved plan (--plan) is checked
    against a plan of its own scope (a shard's plan applies that shard).
    """
    from reconciler.apply.executor import AuditLog
    from reconciler.apply.runs import run_apply
    from reconciler.render.progress import ApplyProgress
    from reconciler.render.report import (
        render_report_json,
        render_report_markdown,
        render_report_text,
    )

    state, _problems = load_or_exit(directory)
    saved = None
    if plan_file:
        try:
            saved = load_plan_file(plan_file)
        except PlanFileError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(EXIT_ERROR)
    scope = scope_or_exit(state, only, shard)
    if saved is not None:
        saved_scope = saved.scope.request if saved.scope else None
        if scope is not None and scope != saved_scope:
            held = f"covers {saved.scope.describe()}" if saved.scope else "covers all groups"
            click.echo(f"error: {plan_file} {held}; give the same --only / --shard as its plan, "
                       "or none", err=True)
            sys.exit(EXIT_ERROR)
        scope = saved_scope
    target = make_target(emulator_file, graph_url, tenant, credential, state.settings.tenant)
    interactive = sys.stdin.isatty() and sys.stdout.isatty()
    if not yes and not interactive:
        click.echo("error: apply needs --yes when there is no terminal to confirm on", err=True)
        sys.exit(EXIT_ERROR)

    def confirm(the_plan: Any) -> bool:
        if yes:
            return True
        emit_plan(the_plan, "text", None)
        return click.confirm("Apply these changes?", default=False)

    observer = ApplyProgress(stderr(), interactive=interactive and fmt == "text")

    run = run_graph(
        run_apply(
            state,
            target,
            obj.now,
            saved=saved,
            allow_removals=allow_removals,
            wait_deferred=wait_deferred,
            max_plan_age=max_plan_age,
            confirm=confirm,
            audit=AuditLog(audit_log) if audit_log else None,
            observer=observer,
            scope=scope,
        )
    )
    observer.close()
    report = run.report
    if fmt == "json":
        click.echo(render_report_json(report))
    elif fmt == "markdown":
        click.echo(render_report_markdown(report))
    else:
        # refused: every problem (why); applied: the warnings it went ahead with
        # (license_missing, a passed safety guard), which the plan showed and apply must too
        shown = [p for p in run.plan.problems if report.refused or not p.is_error]
        if shown:
            print_problems(stderr(), shown)
        render_report_text(report, stdout())
    append_job_summary(render_report_markdown(report))
    sys.exit(report.exit_code())
