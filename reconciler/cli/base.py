"""Shared CLI wiring: the command group, global options, exit codes and the helpers every
command uses (target options, one-line Graph errors, output files).

Exit codes (format.md): validate 0 valid / 1 invalid; plan and drift 0 no changes / 2 changes
or drift / 1 error; apply 0 converged / 1 failed or refused / 3 converged except deferred.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click
from rich.console import Console

from reconciler import aio
from reconciler.clock import Clock, FixedClock, SystemClock
from reconciler.desired.model import DesiredState
from reconciler.durations import DurationError, parse_duration, parse_instant
from reconciler.problems import Problem, Severity
from reconciler.render.common import plural
from reconciler.render.text import print_problems

EXIT_OK, EXIT_ERROR = 0, 1  # plan/drift 2 and apply 3 come from Plan / report exit_code()


class Context:
    """Global options shared by every command."""

    def __init__(self, now: datetime | None = None, verbose: bool = False) -> None:
        self.now = now
        self.verbose = verbose

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


NOW_HELP = "Plan as if it were this UTC instant (tests, reproducible plans)."


def _store_now(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    """`--now` is accepted before and after the subcommand (one definition, two places);
    giving two different instants is a usage error."""
    instant = _parse_now(ctx, _param, value)
    obj = ctx.ensure_object(Context)
    if instant is None:
        return
    if obj.now is not None and obj.now != instant:
        raise click.UsageError("--now given twice with different instants")
    obj.now = instant


def now_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """The `--now ISO` option, for the group and for every command that reads a clock."""
    return click.option(
        "--now", callback=_store_now, expose_value=False, metavar="ISO", help=NOW_HELP
    )(func)


@click.group(cls=Cli, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="pim-reconciler")
@now_option
@click.option("--verbose", is_flag=True,
              help="On an authentication failure, also show azure-identity's details.")
@click.pass_context
def cli(ctx: click.Context, verbose: bool) -> None:
    """Declarative GitOps reconciler for Microsoft Entra ID PIM for Groups."""
    ctx.ensure_object(Context).verbose = verbose


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
            click.echo(f"{directory}: invalid ({count_text(problems)})", err=True)
        sys.exit(EXIT_ERROR)
    return state, problems


def count_text(problems: list[Problem]) -> str:
    errors = sum(1 for p in problems if p.severity is Severity.ERROR)
    warnings = sum(1 for p in problems if p.severity is Severity.WARNING)
    return f"{plural(errors, 'error')}, {plural(warnings, 'warning')}"


def writable_file(
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
    "removals: the run's total (with --shard, this shard's).",
)


def _parse_shard(_ctx: click.Context, _param: click.Parameter, value: str | None) -> Any:
    from reconciler.desired.select import SelectError, Shard

    if value is None:
        return None
    try:
        return Shard.parse(value)
    except SelectError as exc:
        raise click.BadParameter(str(exc)) from exc


def scope_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """--only GLOB (repeatable) and --shard I/N: the part of DIRECTORY a run covers
    (`reconciler.desired.select`); passed on as `only` (tuple of globs) and `shard`
    (`Shard` or None)."""
    func = click.option(
        "--shard", callback=_parse_shard, metavar="I/N",
        help="Only shard I of N: the groups whose object id hashes to it (stable, for a CI "
        "matrix); the run's removal cap is shared between the N shards.")(func)
    return click.option(
        "--only", multiple=True, metavar="GLOB",
        help="Only the groups whose file (relative to DIRECTORY, e.g. 'groups/platform-*') "
        "or group name matches GLOB; repeatable. A GLOB matching nothing is an error.")(func)


def scope_or_exit(state: DesiredState, only: tuple[str, ...], shard: Any) -> Any:
    """The `Scope` of --only / --shard (None when neither is given), checked against `state`
    before any tenant is read: a glob that matches nothing is one error line and exit 1."""
    from reconciler.desired.select import Scope, SelectError, select_only

    if not only and shard is None:
        return None
    try:
        select_only(state, only)
    except SelectError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_ERROR)
    return Scope(tuple(only), shard)


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
        help="How to authenticate to Microsoft Graph (with --graph-url, any choice but "
        "default signs in there; AZURE_AUTHORITY_HOST names the token authority).",
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
    from reconciler.targets import Target

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
        parts = urlsplit(graph_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise click.BadParameter(
                f"{graph_url!r} is not an http(s) URL; give Graph's base URL with its version, "
                "e.g. http://127.0.0.1:8765/v1.0 for `emulator serve`", param_hint="--graph-url")
        if credential != "default" and parts.scheme == "http":
            from kiota_authentication_azure.azure_identity_access_token_provider import (
                AzureIdentityAccessTokenProvider,
            )

            # kiota sends a token over plain http to loopback only (else: its HTTPError)
            if parts.hostname not in AzureIdentityAccessTokenProvider.LOCALHOST_STRINGS:
                raise click.BadParameter(
                    f"{graph_url!r} is plain http: a token is sent over https only (plain http "
                    "only to 127.0.0.1 or localhost); give an https:// URL, or the default "
                    "--credential for an anonymous emulator", param_hint="--graph-url")
        return Target(
            kind="url",
            tenant=tenant or settings_tenant,  # for an explicit --credential
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
    """Run an async Graph operation; Graph failures become a one-line error and exit 1.

    A failed sign-in is one line naming the credential tried and what to set; with the
    global `--verbose`, azure-identity's own log lines and full message follow it.
    """
    from azure.core.exceptions import AzureError

    from reconciler.desired.select import SelectError
    from reconciler.graph.auth import AuthenticationFailed, CredentialConfigError, identity_logging
    from reconciler.graph.errors import GraphError
    from reconciler.targets import TargetError

    ctx = click.get_current_context(silent=True)
    obj = ctx.find_object(Context) if ctx is not None else None
    verbose = bool(obj and obj.verbose)
    identity_logging(verbose)
    try:
        return aio.run(coro)
    except GraphError as exc:
        click.echo(f"error: Microsoft Graph: {exc}", err=True)
        sys.exit(EXIT_ERROR)
    except (TargetError, CredentialConfigError, SelectError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_ERROR)
    except AuthenticationFailed as exc:
        click.echo(f"error: {exc}", err=True)
        if verbose:
            click.echo("details:\n" + "\n".join(f"  {line}" for line in exc.details.splitlines()),
                       err=True)
        sys.exit(EXIT_ERROR)
    except AzureError as exc:  # azure-identity failed outside a token request
        text = str(exc).strip() or type(exc).__name__
        click.echo(f"error: authentication to Microsoft Graph failed: {text.splitlines()[0]} "
                   "(details: --verbose)", err=True)
        if verbose:
            click.echo(text, err=True)
        sys.exit(EXIT_ERROR)


def duration_option(
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


