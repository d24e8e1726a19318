"""`pim-reconciler emulator serve`: serve a tenant state file over loopback HTTP.

The clock: an `OffsetClock` starting at the file's `now` when it has one (time then runs
forward in real time from that instant, so relative-time fixtures keep their meaning), else
the system clock.

`--save-on-exit` and `--log` are written when serving ends, SIGTERM (docker stop, process
managers, CI) included: from uvicorn's graceful shutdown (see `server.serve`'s `on_exit`),
each atomically (temp file in the same directory, fsync, `os.replace`).
"""

from __future__ import annotations

import json
from pathlib import Path

import click
import yaml

from reconciler.clock import Clock, OffsetClock, SystemClock
from reconciler.emulator import variants
from reconciler.emulator.fixture import load_tenant, read_fixture, save_tenant, write_atomically
from reconciler.emulator.server import (
    CannotListen,
    RemoteBindRefused,
    Tls,
    TlsUnusable,
    check_host,
    serve,
)
from reconciler.emulator.tenant import Tenant
from reconciler.emulator.timefmt import format_plain_time, parse_time


def load_for_serving(
    state: Path, page_size: int | None = None, clock_choice: str = "fixture"
) -> Tenant:
    """Load `state` for serving. The clock: with `clock_choice` "fixture" (the default), an
    `OffsetClock` starting at the file's `now` and running on in real time; with "system", or
    when the file has no `now`, the system clock. Relative times (`-P20D`) count from the
    file's `now` whenever it has one, whichever clock is chosen (from the clock's time at
    loading only when it has none). `page_size` (items per page), when given, overrides the
    file's.

    Raises `click.ClickException` (one line, exit 1) when the file cannot be read or does not
    load: `cannot load tenant file FILE: <reason>`.
    """
    try:
        data = read_fixture(state)
        clock: Clock = (
            OffsetClock(parse_time(data["now"]))
            if data.get("now") and clock_choice == "fixture"
            else SystemClock()
        )
        tenant = load_tenant(data, clock=clock)
    except (OSError, ValueError, KeyError, TypeError, yaml.YAMLError) as exc:
        raise click.ClickException(f"cannot load tenant file {state}: {exc}") from exc
    if page_size:
        tenant.page_size = page_size
    return tenant


def write_log(tenant: Tenant, path: Path) -> None:
    """Write `tenant.request_log` as JSON lines: method, path (with query), status, latency_ms,
    action, request_status, batch_item (True for a `$batch` sub-request).

    Atomically: a temp file in the same directory, fsync, `os.replace`.
    """
    with tenant.lock:
        entries = list(tenant.request_log)
    lines = []
    for e in entries:
        row = {
            "method": e.method,
            "path": e.path,
            "status": e.status,
            "latency_ms": e.latency_ms,
            "action": e.action,
            "request_status": e.request_status,
            "batch_item": e.batch_item,
        }
        lines.append(json.dumps(row) + "\n")
    write_atomically(path, "".join(lines))


@click.group(name="emulator")
def emulator() -> None:
    """A local Microsoft Graph PIM-for-Groups emulator."""


@emulator.command(name="serve", epilog="\b\n" + variants.describe())
@click.option(
    "--state",
    "state",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Tenant fixture (YAML or JSON).",
)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=0, type=int, help="0 picks a free port.")
@click.option("--latency-ms", default=0, type=int, help="Added to every answer.")
@click.option("--page-size", default=None, type=int, help="Override the fixture's page size.")
@click.option("--allow-remote", is_flag=True, help="Allow binding a non-loopback address.")
@click.option(
    "--save-on-exit",
    is_flag=True,
    help="On exit (SIGTERM or SIGINT/Ctrl-C included), write the state back to --state, "
    "atomically.",
)
@click.option(
    "--log",
    "log_file",
    default=None,
    type=click.Path(dir_okay=False, path_type=Path),
    help="On exit (SIGTERM or SIGINT/Ctrl-C included), write the request log here as JSON "
    "lines (one answered request each), atomically.",
)
@click.option(
    "--tls-cert",
    default=None,
    type=click.Path(exists=True, dir_okay=False),
    help="Serve HTTPS with this PEM certificate (chain); needs --tls-key. Clients trust its CA "
    "with SSL_CERT_FILE (or azure-identity's connection_verify).",
)
@click.option(
    "--tls-key",
    default=None,
    type=click.Path(exists=True, dir_okay=False),
    help="The PEM private key of --tls-cert.",
)
@click.option(
    "--clock",
    type=click.Choice(["fixture", "system"]),
    default="fixture",
    show_default=True,
    help="fixture: time starts at the state file's `now` and runs on; system: real UTC time.",
)
def serve_command(
    state: Path,
    clock: str,
    host: str,
    port: int,
    latency_ms: int,
    page_size: int | None,
    allow_remote: bool,
    save_on_exit: bool,
    log_file: Path | None,
    tls_cert: str | None,
    tls_key: str | None,
) -> None:
    """Serve the tenant in STATE under http://HOST:PORT/v1.0 until interrupted (https with
    --tls-cert/--tls-key), with Entra's token endpoint for the file's `applications` at
    http(s)://HOST:PORT/{tenant}/oauth2/v2.0/token (give clients AZURE_AUTHORITY_HOST=
    http(s)://HOST:PORT).

    The URL is printed (the first line on stdout) once the server listens. A port in use, or
    a certificate or key that cannot be used, is one error line and exit 1, before any URL.

    On SIGTERM or SIGINT (Ctrl-C) the server stops taking connections, lets requests in
    flight finish (up to 5 s), then writes --log and, with --save-on-exit, the state back to
    --state, once each and atomically (temp file beside the target, then renamed over it).
    """
    try:
        check_host(host, allow_remote)
    except RemoteBindRefused as exc:
        raise click.UsageError(str(exc)) from exc
    if (tls_cert is None) != (tls_key is None):
        raise click.UsageError("--tls-cert and --tls-key go together")
    tls = Tls(tls_cert, tls_key) if tls_cert and tls_key else None
    tenant = load_for_serving(state, page_size, clock)
    started = tenant.clock.now().replace(microsecond=0)

    def announce(url: str) -> None:  # once listening: the URL is the first line on stdout
        click.echo(url)
        if clock == "fixture" and not isinstance(tenant.clock, SystemClock):
            click.echo(
                f"clock: starts at {format_plain_time(started)} (the state file's now) and runs "
                f"on; give clients the same time, e.g. pim-reconciler --now "
                f"{format_plain_time(started)} plan DIR --graph-url {url}",
                err=True,
            )

    def write_outputs() -> None:
        try:
            if log_file is not None:
                write_log(tenant, log_file)
                click.echo(f"wrote request log to {log_file}", err=True)
        finally:  # the state is saved even when the log could not be written
            if save_on_exit:
                save_tenant(tenant, state)
                click.echo(f"saved state to {state}", err=True)

    try:
        serve(
            tenant,
            host=host,
            port=port,
            latency_ms=latency_ms,
            allow_remote=allow_remote,
            on_exit=write_outputs,
            tls=tls,
            on_ready=announce,
        )
    except (CannotListen, TlsUnusable) as exc:  # raised before anything is served or printed
        raise click.ClickException(str(exc)) from exc
