"""`report` command: the access report page (`index.html`) and its data (`report.json`) for a
desired-state directory against a tenant; thin wiring of `reconciler.pipeline`,
`reconciler.plan.access` and `reconciler.render.access*`.

Registered on the command group as `report`.
"""

from __future__ import annotations

import sys
from contextlib import nullcontext
from datetime import timedelta
from pathlib import Path
from typing import Any

import click

from reconciler.cli.base import (
    EXIT_ERROR,
    EXIT_OK,
    Context,
    cli,
    duration_option,
    load_or_exit,
    make_target,
    now_option,
    run_graph,
    scope_options,
    scope_or_exit,
    stderr,
    target_options,
)
from reconciler.pipeline import build_access_report
from reconciler.render.access import render_access_json, render_access_markdown
from reconciler.render.access_html import render_access_html
from reconciler.render.output import append_job_summary


@cli.command("report")
@click.argument("directory", type=click.Path(exists=True, file_okay=False))
@now_option
@target_options
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              metavar="FOLDER", help="Write FOLDER/index.html and FOLDER/report.json here.")
@click.option("--format", "fmt", type=click.Choice(["text", "markdown", "json"]),
              default="text", show_default=True,
              help="What to print: a one-line summary, markdown for a job summary, or the "
                   "JSON.")
@click.option("--repo-url", metavar="URL",
              help="Link rows to their YAML at URL/<file>#L<line> (default: GitHub's "
                   "GITHUB_SERVER_URL/GITHUB_REPOSITORY/blob/GITHUB_SHA when set).")
@click.option("--expiring-within", callback=duration_option, metavar="DURATION",
              help="Flag assignments ending this soon (default: the settings' "
                   "report.expiring_within, P14D).")
@click.option("--link", metavar="URL", help="Address of the page to show in the markdown "
              "(e.g. the run's artifacts).")
@scope_options
@click.pass_obj
def report_command(obj: Context, directory: str, emulator_file: str | None,
                   graph_url: str | None, tenant: str | None, credential: str, out_dir: str,
                   fmt: str, repo_url: str | None, expiring_within: timedelta | None,
                   link: str | None, only: tuple[str, ...], shard: Any) -> None:
    """Write the access report of DIRECTORY: who can become member or owner of each declared
    group, until when, in which state, under which PIM settings (read-only).

    Exit 0: written; 1: the files or the tenant could not be read completely (the page is
    still written when the tenant was read, with the problems listed). With --only or --shard,
    of those groups only.
    """
    state, problems = load_or_exit(directory, "json" if fmt == "json" else "text")
    scope = scope_or_exit(state, only, shard)
    target = make_target(emulator_file, graph_url, tenant, credential, state.settings.tenant)
    console = stderr()
    with console.status("Reading the tenant…", spinner="dots") if console.is_terminal \
            else nullcontext():
        report = run_graph(build_access_report(state, problems, target, obj.now,
                                               expiring_within, scope))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "index.html").write_text(render_access_html(report, repo_url=repo_url),
                                    encoding="utf-8")
    (out / "report.json").write_text(render_access_json(report) + "\n", encoding="utf-8")
    markdown = render_access_markdown(report, link=link)
    if fmt == "json":
        click.echo(render_access_json(report))
    elif fmt == "markdown":
        click.echo(markdown)
    else:
        counts = report.counts()
        click.echo(f"{out / 'index.html'}: {counts['groups']} groups, {counts['principals']} "
                   f"principals, {counts['expiring']} expiring soon, {counts['drifted']} "
                   f"drifted, {counts['pending']} pending, {counts['unmanaged']} unmanaged"
                   + (f" (scope: {report.scope.describe()})" if report.scope else ""))
    append_job_summary(markdown + "\n")
    sys.exit(EXIT_ERROR if report.counts()["errors"] else EXIT_OK)

