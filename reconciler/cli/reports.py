"""`drift` and `export` commands: thin wiring of the shared CLI helpers to
`reconciler.plan.drift` / `reconciler.render.drift` and `reconciler.config.export`.

Registered on the command group as `drift` and `export`.
"""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import click

from reconciler.cli.base import (
    EXIT_ERROR,
    EXIT_OK,
    Context,
    cli,
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
)
from reconciler.durations import DurationError, parse_duration
from reconciler.pipeline import build_drift, clock_for
from reconciler.problems import Problem
from reconciler.render.drift import (
    render_drift_json,
    render_drift_markdown,
    render_drift_text,
)
from reconciler.render.output import append_job_summary
from reconciler.render.text import print_problems
from reconciler.targets import open_backend


def _window(_ctx: click.Context, _param: click.Parameter, value: str) -> timedelta:
    try:
        return parse_duration(value)
    except DurationError as exc:
        raise click.BadParameter(str(exc)) from exc


@cli.command("drift")
@click.argument("directory", type=click.Path(exists=True, file_okay=False))
@now_option
@target_options
@report_format_option
@click.option("--expiring-within", default="P14D", show_default=True, callback=_window,
              metavar="DURATION", help="Report assignments ending within this ISO 8601 "
              "duration as expiring soon (reported, not drift).")
@scope_options
@click.pass_obj
def drift_command(obj: Context, directory: str, emulator_file: str | None,
                  graph_url: str | None, tenant: str | None, credential: str, fmt: str,
                  expiring_within: timedelta, only: tuple[str, ...], shard: Any) -> None:
    """Report how live PIM state departs from DIRECTORY (read-only).

    Classes: out of band, missing, lifetime changed, renewal due, pending deferrals, policy
    changed (managed PIM settings fields that differ; drift); expiring soon and information
    (reported, not drift).
    Exit 0: no drift; 2: drift; 1: error. With --only or --shard, of those groups only.
    """
    state, problems = load_or_exit(directory, fmt)
    scope = scope_or_exit(state, only, shard)
    target = make_target(emulator_file, graph_url, tenant, credential, state.settings.tenant)
    report = run_graph(build_drift(state, problems, target, obj.now, expiring_within, scope))
    if fmt == "json":
        click.echo(render_drift_json(report))
    elif fmt == "markdown":
        click.echo(render_drift_markdown(report))
    else:
        render_drift_text(report, stdout())
    append_job_summary(render_drift_markdown(report) + "\n")
    sys.exit(report.exit_code())


@cli.command("export")
@now_option
@target_options
@click.option("--group", "groups", multiple=True, metavar="NAME_OR_ID",
              help="A group to export (display name or object id); repeat for more.")
@click.option("--all-managed", type=click.Path(exists=True, file_okay=False), metavar="DIR",
              help="Export every group the desired-state directory DIR declares.")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Write DIR/groups/<slug>.yaml here.")
@click.option("--force", is_flag=True, help="Overwrite existing group files.")
@click.option("--policies", is_flag=True,
              help="Also write each group's PIM settings as a policy: block (the fields that "
                   "differ from a new group's defaults).")
@click.option("--schema-ref", metavar="PATH_OR_URL",
              help="$schema of the modeline (default: the relative path from DIR/groups to "
                   "./schemas/assignments.schema.json).")
@click.pass_obj
def export_command(obj: Context, emulator_file: str | None, graph_url: str | None,
                   tenant: str | None, credential: str, groups: tuple[str, ...],
                   all_managed: str | None, out_dir: str, force: bool,
                   schema_ref: str | None, policies: bool) -> None:
    """Write group files in the canonical format from live PIM state (adoption).

    A `plan` on the written files right after plans nothing (with --policies, no policy
    change either). Exit 0: written; 1: a group
    could not be exported or a file exists (nothing is written then).
    """
    from reconciler.config.export import collect, default_schema_ref, write_exports

    if bool(groups) == bool(all_managed):
        raise click.UsageError("give --group NAME_OR_ID (repeatable) or --all-managed DIR")
    settings_tenant = None
    refs = list(groups)
    like = None
    if all_managed:
        state, _problems = load_or_exit(all_managed)
        refs = [g.group for g in state.groups]
        like = {g.group: g for g in state.groups}
        settings_tenant = state.settings.tenant
    target = make_target(emulator_file, graph_url, tenant, credential, settings_tenant)

    async def run() -> tuple[list, list[Problem]]:
        async with open_backend(target, clock=clock_for(obj.now)) as backend:
            return await collect(backend, refs, backend.clock.now(), like, policies=policies)

    exported, problems = run_graph(run())
    if problems:
        print_problems(stderr(), problems)
    if any(p.is_error for p in problems):
        click.echo("export: nothing written", err=True)
        sys.exit(EXIT_ERROR)
    ref = schema_ref if schema_ref is not None else default_schema_ref(out_dir)
    try:
        paths = write_exports(exported, out_dir, schema_ref=ref, force=force)
    except FileExistsError as exc:
        click.echo(f"error: would overwrite {exc}; pass --force to replace", err=True)
        sys.exit(EXIT_ERROR)
    for path in paths:
        click.echo(str(Path(path)))
    sys.exit(EXIT_OK)
