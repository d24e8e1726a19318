"""Serving the emulator over HTTP with uvicorn (loopback by default).

`serve` blocks; `running_server` runs uvicorn in a background thread on a free port and
yields the base URL `http://127.0.0.1:PORT/v1.0`, shutting it down on exit.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import threading
import time
from collections.abc import Iterator

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


def _config(tenant: Tenant, host: str, port: int, latency_ms: int) -> uvicorn.Config:
    return uvicorn.Config(
        create_app(tenant, latency_ms=latency_ms),
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="off",
    )


def base_url(host: str, port: int) -> str:
    """`http://HOST:PORT/v1.0` (IPv6 hosts bracketed)."""
    shown = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return f"http://{shown}:{port}/v1.0"


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
) -> None:
    """Serve `tenant` until interrupted (blocking). `port` 0 picks a free port.

    Raises `RemoteBindRefused` for a non-loopback host without `allow_remote`.
    """
    check_host(host, allow_remote)
    uvicorn.Server(_config(tenant, host, port or free_port(host), latency_ms)).run()


@contextlib.contextmanager
def running_server(
    tenant: Tenant, host: str = "127.0.0.1", port: int = 0, latency_ms: int = 0
) -> Iterator[str]:
    """Run the emulator in a background thread; yield its base URL; stop it on exit.

    Loopback hosts only. Raises `RuntimeError` if the server does not start within 10 s.
    """
    check_host(host, allow_remote=False)
    chosen = port or free_port(host)
    server = uvicorn.Server(_config(tenant, host, chosen, latency_ms))
    thread = threading.Thread(target=server.run, name="pim-emulator", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError(f"emulator did not start on {host}:{chosen}")
        time.sleep(0.01)
    try:
        yield base_url(host, chosen)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
