"""Command line: thin wiring of config -> graph -> planner -> renderers / apply.

Exit codes (format.md): validate 0 valid / 1 invalid; plan and drift 0 no changes / 2 changes
or drift / 1 error; apply 0 converged / 1 failed or refused / 3 converged except deferred.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import sys
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from reconciler.clock import Clock, FixedClock, SystemClock
from reconciler.durations import DurationError, parse_duration, parse_instant
from reconciler.model import DesiredState
from reconciler.pipeline import build_plan
from reconciler.plan import Plan, PlanFileError, load_plan_file
from reconciler.problems import Problem, Severity
from reconciler.render.common import plural
from reconciler.render.output import emit_plan
from reconciler.render.text import print_problems, problem_line

EXIT_OK, EXIT_ERROR = 0, 1  # plan/drift 2 and apply 3 come from Plan / report exit_code()


class Context:
    """Global options shared by every command."""

    def __init__(self, now: datetime | None) -> None:
        self.now = now

    def clock(self) -> Clock:
        return FixedClock(self.now) if self.now else SystemClock()


def _parse_now(_ctx: click.Context, _param: click.Parameter, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_instant(value)
    except ValueError as exc:
        raise click.BadParameter(
            f"{value!r} is not an ISO 8601 instant with a zone, e.g. 2026-12-01T12:00:00Z"
        ) from exc


class Cli(click.Group):
    """The command group, with one exit code for every error: 1.

    click exits 2 on a usage error, which for `plan` and `drift` means "changes" / "drift";
    a CI job must not read a mistyped path as drift. So usage errors exit 1 here.
    """

    def main(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        kwargs["standalone_mode"] = False
        try:
            code = super().main(*args, **kwargs)
        except click.exceptions.Exit as exc:
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            exc.show()
            sys.exit(EXIT_ERROR)
        except click.Abort:
            click.echo("Aborted.", err=True)
            sys.exit(EXIT_ERROR)
        sys.exit(code if isinstance(code, int) else EXIT_OK)


@click.group(cls=Cli, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="pim-reconciler")
@click.option(
    "--now",
    callback=_parse_now,
    metavar="ISO",
    help="Plan as if it were this UTC instant (tests, reproducible plans).",
)
@click.pass_context
def cli(ctx: click.Context, now: datetime | None) -> None:
    """Declarative GitOps reconciler for Microsoft Entra ID PIM for Groups."""
    ctx.obj = Context(now)


def stdout() -> Console:
    return Console(highlight=False, soft_wrap=True)


def stderr() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


def load_or_exit(directory: str, fmt: str = "text") -> tuple[DesiredState, list[Problem]]:
    """Load the desired state; on errors print them and exit 1."""
    from reconciler.config import load_desired

    state, problems = load_desired(directory)
    if state is None or any(p.is_error for p in problems):
        if fmt == "json":
            click.echo(json.dumps({"problems": [p.to_dict() for p in problems]}, indent=2))
        else:
            print_problems(stderr(), problems)
            click.echo(f"{directory}: invalid ({_count(problems)})", err=True)
        sys.exit(EXIT_ERROR)
    return state, problems


def _count(problems: list[Problem]) -> str:
    errors = sum(1 for p in problems if p.severity is Severity.ERROR)
    warnings = sum(1 for p in problems if p.severity is Severity.WARNING)
    return f"{plural(errors, 'error')}, {plural(warnings, 'warning')}"


def _writable_file(
    _ctx: click.Context, _param: click.Parameter, value: str | None
) -> str | None:
    """An output file whose directory exists and is writable, checked before any work is done
    (an apply must not fail half-way because its audit log cannot be written)."""
    if value is None:
        return None
    parent = Path(value).resolve().parent
    if not parent.is_dir():
        raise click.BadParameter(f"directory {parent} does not exist")
    if not os.access(parent, os.W_OK) or (Path(value).exists() and not os.access(value, os.W_OK)):
        raise click.BadParameter(f"{value} is not writable")
    return value


@cli.command()
@click.argument("directory", type=click.Path(exists=True, file_okay=False))
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@click.pass_obj
def validate(obj: Context, directory: str, fmt: str) -> None:
    """Check the desired-state files offline: schema, duplicates, lifetimes, dates."""
    from reconciler.config import load_desired
    from reconciler.rules import time_problems

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
            f"{directory}: {'invalid' if invalid else 'valid'} ({_count(problems)})", err=True
        )
    sys.exit(EXIT_ERROR if invalid else EXIT_OK)


report_format_option = click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "markdown", "json"]),
    default="text",
    show_default=True,
    help="text for a terminal, markdown for a PR comment or issue, json for machines.",
)

allow_removals_option = click.option(
    "--allow-removals",
    type=click.IntRange(min=0),
    metavar="N",
    help="Pass the removal safety guards (too_many_removals, empty_desired_set) for exactly N "
    "removals: the run's total.",
)


def target_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """--emulator FILE | --graph-url URL | Graph (default), with --tenant and --credential."""

    @click.option(
        "--emulator",
        "emulator_file",
        type=click.Path(dir_okay=False),
        help="Use an in-process Graph PIM emulator serving this tenant file.",
    )
    @click.option("--graph-url", help="Graph base URL, e.g. a running `emulator serve`.")
    @click.option("--tenant", help="Tenant id or domain (default: settings or AZURE_TENANT_ID).")
    @click.option(
        "--credential",
        default="default",
        show_default=True,
        type=click.Choice(
            ["default", "workload-identity", "github-oidc", "client-secret", "certificate"]
        ),
        help="How to authenticate to Microsoft Graph.",
    )
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return func(*args, **kwargs)

    return wrapper


def make_target(
    emulator_file: str | None,
    graph_url: str | None,
    tenant: str | None,
    credential: str,
    settings_tenant: str | None = None,
) -> Any:
    from reconciler.graph.target import Target

    if emulator_file and graph_url:
        raise click.UsageError("--emulator and --graph-url are exclusive")
    if emulator_file:
        if not Path(emulator_file).is_file():
            raise click.UsageError(f"tenant file not found: {emulator_file}")
        return Target(
            kind="emulator",
            tenant=tenant,
            graph_url=None,
            emulator_file=emulator_file,
            credential=credential,
        )
    if graph_url:
        return Target(
            kind="url",
            tenant=tenant,
            graph_url=graph_url,
            emulator_file=None,
            credential=credential,
        )
    return Target(
        kind="graph",
        tenant=tenant or settings_tenant,
        graph_url=None,
        emulator_file=None,
        credential=credential,
    )


def run_graph(coro: Any) -> Any:
    """Run an async Graph operation; Graph failures become a one-line error and exit 1."""
    from azure.core.exceptions import AzureError

    from reconciler.graph.auth import CredentialConfigError
    from reconciler.graph.errors import GraphError
    from reconciler.graph.target import TargetError

    try:
        return asyncio.run(coro)
    except GraphError as exc:
        click.echo(f"error: Microsoft Graph: {exc}", err=True)
        sys.exit(EXIT_ERROR)
    except (TargetError, CredentialConfigError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_ERROR)
    except AzureError as exc:  # azure-identity could not get a token
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        click.echo(f"error: authentication to Microsoft Graph failed: {first}\n"
                   "hint: choose --credential, or use --emulator FILE to try the tool "
                   "without a tenant", err=True)
        sys.exit(EXIT_ERROR)


@cli.command()
@click.argument("directory", type=click.Path(exists=True, file_okay=False))
@target_options
@report_format_option
@click.option("--out", type=click.Path(dir_okay=False), callback=_writable_file,
              help="Also save the plan as JSON here.")
@allow_removals_option
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
) -> None:
    """Show the changes that would bring PIM in line with DIRECTORY.

    Exit 0: no changes; 2: changes; 1: problems (nothing may be applied).
    """
    from reconciler.config import load_desired

    state, problems = load_desired(directory)
    if state is None or any(p.is_error for p in problems):
        # No live read: the plan carries the file problems, in the format CI asked for.
        the_plan = Plan.invalid(problems, obj.clock().now())
        emit_plan(the_plan, fmt, out)
        if fmt == "text":
            click.echo(f"{directory}: invalid ({_count(problems)})", err=True)
        sys.exit(EXIT_ERROR)
    target = make_target(emulator_file, graph_url, tenant, credential, state.settings.tenant)
    the_plan = run_graph(build_plan(state, problems, target, obj.now, allow_removals))
    title = f"PIM plan for {state.settings.tenant}" if state.settings.tenant else "PIM plan"
    emit_plan(the_plan, fmt, out, title=title)
    sys.exit(the_plan.exit_code())


def _duration_option(
    _ctx: click.Context, _param: click.Parameter, value: str | None
) -> timedelta | None:
    if value is None:
        return None
    text = value.strip()
    if text[-1:] in ("s", "m", "h") and text[:-1].isdigit():  # 90s, 6m, 1h
        unit = {"s": "seconds", "m": "minutes", "h": "hours"}[text[-1]]
        return timedelta(**{unit: int(text[:-1])})
    try:
        return parse_duration(text)
    except DurationError as exc:
        raise click.BadParameter(str(exc)) from exc


@cli.command()
@click.argument("directory", type=click.Path(exists=True, file_okay=False))
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
    callback=_duration_option,
    metavar="DURATION",
    help="Wait up to this long (e.g. 6m, PT10M) for changes PIM's five-minute rule "
    "defers, instead of leaving them to the next run.",
)
@click.option(
    "--max-plan-age",
    callback=_duration_option,
    default="PT1H",
    show_default=True,
    metavar="DURATION",
    help="Refuse a saved plan older than this.",
)
@report_format_option
@click.option(
    "--audit-log",
    type=click.Path(dir_okay=False),
    callback=_writable_file,
    help="Append one JSON line per change outcome to this file.",
)
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
) -> None:
    """Apply the changes that bring PIM in line with DIRECTORY.

    Exit 0: converged; 1: a change failed or the run was refused (nothing written on a
    refusal); 3: converged except changes deferred by PIM's five-minute rule.
    """
    from reconciler.apply import AuditLog
    from reconciler.render.progress import ApplyProgress
    from reconciler.render.report import (
        render_report_json,
        render_report_markdown,
        render_report_text,
    )
    from reconciler.runs import run_apply

    state, _problems = load_or_exit(directory)
    saved = None
    if plan_file:
        try:
            saved = load_plan_file(plan_file)
        except PlanFileError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(EXIT_ERROR)
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
        )
    )
    observer.close()
    report = run.report
    if fmt == "json":
        click.echo(render_report_json(report))
    elif fmt == "markdown":
        click.echo(render_report_markdown(report))
    else:
        if run.plan.problems and report.refused:
            print_problems(stderr(), run.plan.problems)
        render_report_text(report, stdout())
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a", encoding="utf-8") as handle:
            handle.write(render_report_markdown(report))
    sys.exit(report.exit_code())


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="pim-reconciler")


def _register() -> None:
    from reconciler.emulator.cli import emulator

    cli.add_command(emulator)
    from reconciler.cli_reports import drift_command, export_command
    cli.add_command(drift_command)
    cli.add_command(export_command)


_register()
