"""Serving the emulator over HTTP with uvicorn (loopback by default).

`serve` blocks; `running_server` runs uvicorn in a background thread on a free port and
yields the base URL `http://127.0.0.1:PORT/v1.0`, shutting it down on exit.

`serve(on_exit=...)` runs its hook exactly once, inside uvicorn's graceful shutdown. That is
the one place that works for SIGTERM: uvicorn catches SIGINT and SIGTERM, shuts down, restores
the previous handlers and then raises the signal again. For SIGTERM the previous handler is
the default one, so the process dies right there and no `finally` around `serve` ever runs.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import uvicorn

from reconciler.emulator.app import create_app
from reconciler.emulator.tenant import Tenant


class RemoteBindRefused(ValueError):
    """A non-loopback host was asked for without `allow_remote`."""


def is_loopback(host: str) -> bool:
    """True for `localhost` and loopback IP addresses."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_host(host: str, allow_remote: bool) -> None:
    """Raise `RemoteBindRefused` unless `host` is loopback or `allow_remote` is set."""
    if not allow_remote and not is_loopback(host):
        raise RemoteBindRefused(
            f"refusing to bind {host!r}: the emulator serves loopback only unless allow_remote "
            "(--allow-remote) is given"
        )


GRACEFUL_SHUTDOWN_S = 5
"""How long `serve` lets requests in flight finish on shutdown before cancelling them (so the
exit hook runs well before `docker stop` follows SIGTERM with SIGKILL after 10 s)."""


@dataclass(frozen=True)
class Tls:
    """Serve HTTPS: `certfile` (PEM, the chain) and `keyfile` (PEM private key)."""

    certfile: str
    keyfile: str


def _config(
    tenant: Tenant,
    host: str,
    port: int,
    latency_ms: int,
    graceful_shutdown_s: float | None = None,
    tls: Tls | None = None,
) -> uvicorn.Config:
    return uvicorn.Config(
        create_app(tenant, latency_ms=latency_ms),
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=graceful_shutdown_s,
        date_header=False,  # the app sends `Date` from the tenant's clock
        ssl_certfile=tls.certfile if tls else None,
        ssl_keyfile=tls.keyfile if tls else None,
    )


class _ExitHookServer(uvicorn.Server):
    """A uvicorn server that runs `on_exit` at most once: at the end of its graceful shutdown
    (while uvicorn's own signal handlers are still installed, before it raises the caught
    signal again), or from `run_exit_hook` if the server never got that far."""

    def __init__(self, config: uvicorn.Config, on_exit: Callable[[], None] | None) -> None:
        super().__init__(config)
        self._on_exit = on_exit

    def run_exit_hook(self) -> None:
        """Run `on_exit` unless it has run (or started running) already."""
        hook, self._on_exit = self._on_exit, None
        if hook is not None:
            hook()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        try:
            await super().shutdown(sockets=sockets)
        finally:
            self.run_exit_hook()


def base_url(host: str, port: int, tls: bool = False) -> str:
    """`http://HOST:PORT/v1.0` (`https` with `tls`; IPv6 hosts bracketed)."""
    shown = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return f"{'https' if tls else 'http'}://{shown}:{port}/v1.0"


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on `host` right now."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.bind((host.strip("[]"), 0))
        return int(sock.getsockname()[1])


def serve(
    tenant: Tenant,
    host: str = "127.0.0.1",
    port: int = 0,
    latency_ms: int = 0,
    allow_remote: bool = False,
    on_exit: Callable[[], None] | None = None,
    tls: Tls | None = None,
) -> None:
    """Serve `tenant` until interrupted (blocking). `port` 0 picks a free port.

    `on_exit` runs exactly once when serving ends: on SIGTERM and SIGINT inside uvicorn's
    graceful shutdown (after requests in flight finished, or were cancelled after
    `GRACEFUL_SHUTDOWN_S`, and before uvicorn raises the signal again, which for SIGTERM ends
    the process), otherwise (say the port could not be bound) on the way out of `serve`.
    An exception from `on_exit` propagates.

    Raises `RemoteBindRefused` for a non-loopback host without `allow_remote`.
    """
    check_host(host, allow_remote)
    config = _config(tenant, host, port or free_port(host), latency_ms, GRACEFUL_SHUTDOWN_S,
                     tls)
    server = _ExitHookServer(config, on_exit)
    try:
        server.run()
    finally:
        server.run_exit_hook()


@contextlib.contextmanager
def running_server(
    tenant: Tenant, host: str = "127.0.0.1", port: int = 0, latency_ms: int = 0,
    tls: Tls | None = None,
) -> Iterator[str]:
    """Run the emulator in a background thread; yield its base URL (`https://...` with
    `tls`; Entra's token endpoints are at the same host, `/{tenant}/oauth2/v2.0/token`);
    stop it on exit.

    Loopback hosts only. Raises `RuntimeError` if the server does not start within 10 s.
    """
    check_host(host, allow_remote=False)
    chosen = port or free_port(host)
    server = uvicorn.Server(_config(tenant, host, chosen, latency_ms, tls=tls))
    thread = threading.Thread(target=server.run, name="pim-emulator", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError(f"emulator did not start on {host}:{chosen}")
        time.sleep(0.01)
    try:
        yield base_url(host, chosen, tls=tls is not None)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
