"""Serving the emulator over HTTP with uvicorn (loopback by default).

`serve` blocks; `running_server` runs uvicorn in a background thread on a free port and
yields the base URL `http://127.0.0.1:PORT/v1.0`, shutting it down on exit.

Both check what can fail before anything is served: the TLS certificate and key are loaded
(`check_tls`, raising `TlsUnusable`) and the listening socket is bound here (`listen`, raising
`CannotListen`) and handed to uvicorn, so a port in use is one clear error instead of
uvicorn's log line and `sys.exit(3)`, and `serve` announces the URL (`on_ready`) only once
it is accepting connections.

`serve(on_exit=...)` runs its hook exactly once, inside uvicorn's graceful shutdown. That is
the one place that works for SIGTERM: uvicorn catches SIGINT and SIGTERM, shuts down, restores
the previous handlers and then raises the signal again. For SIGTERM the previous handler is
the default one, so the process dies right there and no `finally` around `serve` ever runs.
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import uvicorn

from reconciler.emulator.app import create_app
from reconciler.emulator.tenant import Tenant


class RemoteBindRefused(ValueError):
    """A non-loopback host was asked for without `allow_remote`."""


class CannotListen(OSError):
    """The address could not be bound: one line, `cannot listen on HOST:PORT: <reason>`
    (e.g. `cannot listen on 127.0.0.1:8443: address already in use`)."""


class TlsUnusable(ValueError):
    """The TLS certificate or key cannot be used: one line naming the file and why."""


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
    """A uvicorn server that runs `on_ready` once it accepts connections, and `on_exit` at
    most once: at the end of its graceful shutdown (while uvicorn's own signal handlers are
    still installed, before it raises the caught signal again), or from `run_exit_hook` if
    the server never got that far."""

    def __init__(
        self,
        config: uvicorn.Config,
        on_exit: Callable[[], None] | None,
        on_ready: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(config)
        self._on_exit = on_exit
        self._on_ready = on_ready

    def run_exit_hook(self) -> None:
        """Run `on_exit` unless it has run (or started running) already."""
        hook, self._on_exit = self._on_exit, None
        if hook is not None:
            hook()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        hook, self._on_ready = self._on_ready, None
        if self.started and hook is not None:
            hook()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        try:
            await super().shutdown(sockets=sockets)
        finally:
            self.run_exit_hook()


def _shown(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def base_url(host: str, port: int, tls: bool = False) -> str:
    """`http://HOST:PORT/v1.0` (`https` with `tls`; IPv6 hosts bracketed)."""
    return f"{'https' if tls else 'http'}://{_shown(host)}:{port}/v1.0"


def listen(host: str, port: int = 0) -> socket.socket:
    """A TCP socket bound to `host`:`port` and listening (`port` 0: a free port, read it back
    with `getsockname()`); IPv6 when `host` has a `:`, as uvicorn binds. `SO_REUSEADDR` is
    set, as uvicorn does, so a port left in TIME_WAIT can be reused.

    Raises `CannotListen` (`cannot listen on HOST:PORT: address already in use`, or the
    system's reason in lower case) when the address cannot be bound.
    """
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host.strip("[]"), port))
        sock.listen(2048)  # uvicorn's default backlog
    except OSError as exc:
        sock.close()
        reason = exc.strerror or str(exc)
        raise CannotListen(
            f"cannot listen on {_shown(host)}:{port}: {reason[:1].lower()}{reason[1:]}"
        ) from exc
    sock.set_inheritable(True)
    return sock


_PEM_CERTIFICATE = re.compile(rb"-----BEGIN (TRUSTED )?CERTIFICATE-----")
_PEM_PRIVATE_KEY = re.compile(rb"-----BEGIN ([A-Z]+ )?PRIVATE KEY-----")


def check_tls(tls: Tls) -> None:
    """Load `tls`'s certificate chain and key as the server will (`ssl.SSLContext
    .load_cert_chain`, `PROTOCOL_TLS_SERVER`), without prompting for a passphrase.

    Raises `TlsUnusable` with one line: `--tls-cert FILE holds no PEM certificate`, `--tls-key
    FILE holds no PEM private key`, `--tls-key FILE is not the private key of --tls-cert
    FILE`, `--tls-key FILE is encrypted; give an unencrypted key`, `cannot read --tls-cert
    FILE: <reason>`, or `cannot use --tls-cert FILE with --tls-key FILE: <OpenSSL's reason>`.
    """
    contents: dict[str, bytes] = {}
    for option, path in (("--tls-cert", tls.certfile), ("--tls-key", tls.keyfile)):
        try:
            with open(path, "rb") as handle:
                contents[option] = handle.read()
        except OSError as exc:
            raise TlsUnusable(f"cannot read {option} {path}: {exc.strerror or exc}") from exc
    if not _PEM_CERTIFICATE.search(contents["--tls-cert"]):
        raise TlsUnusable(f"--tls-cert {tls.certfile} holds no PEM certificate")
    if not _PEM_PRIVATE_KEY.search(contents["--tls-key"]):
        raise TlsUnusable(f"--tls-key {tls.keyfile} holds no PEM private key")
    asked: list[bool] = []

    def no_passphrase() -> bytes:
        asked.append(True)
        return b""

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(tls.certfile, tls.keyfile, password=no_passphrase)
    except ssl.SSLError as exc:
        if asked:
            raise TlsUnusable(
                f"--tls-key {tls.keyfile} is encrypted; give an unencrypted key"
            ) from exc
        if exc.reason == "KEY_VALUES_MISMATCH":
            raise TlsUnusable(
                f"--tls-key {tls.keyfile} is not the private key of --tls-cert {tls.certfile}"
            ) from exc
        reason = re.sub(r"\s*\(_ssl\.c:\d+\)$", "", exc.strerror or str(exc))
        raise TlsUnusable(
            f"cannot use --tls-cert {tls.certfile} with --tls-key {tls.keyfile}: {reason}"
        ) from exc


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
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Serve `tenant` until interrupted (blocking). `port` 0 picks a free port.

    Before serving, the TLS files are loaded (`check_tls`) and the address is bound
    (`listen`); `on_ready` is then called once with the base URL (`base_url`, the port
    actually bound) when uvicorn accepts connections.

    `on_exit` runs exactly once when serving ends: on SIGTERM and SIGINT inside uvicorn's
    graceful shutdown (after requests in flight finished, or were cancelled after
    `GRACEFUL_SHUTDOWN_S`, and before uvicorn raises the signal again, which for SIGTERM ends
    the process), otherwise on the way out of `serve`. It does not run when `serve` raises
    before serving (nothing was served). An exception from `on_exit` propagates.

    Raises `RemoteBindRefused` for a non-loopback host without `allow_remote`, `TlsUnusable`
    for a certificate or key that cannot be used, `CannotListen` when the address cannot be
    bound (a port in use).
    """
    check_host(host, allow_remote)
    if tls is not None:
        check_tls(tls)
    sock = listen(host, port)
    bound = int(sock.getsockname()[1])
    config = _config(tenant, host, bound, latency_ms, GRACEFUL_SHUTDOWN_S, tls)
    url = base_url(host, bound, tls=tls is not None)
    server = _ExitHookServer(config, on_exit, (lambda: on_ready(url)) if on_ready else None)
    try:
        with sock:
            server.run(sockets=[sock])
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

    Loopback hosts only. Raises `TlsUnusable` and `CannotListen` as `serve` does, and
    `RuntimeError` if the server does not start within 10 s.
    """
    check_host(host, allow_remote=False)
    if tls is not None:
        check_tls(tls)
    sock = listen(host, port)
    chosen = int(sock.getsockname()[1])
    server = uvicorn.Server(_config(tenant, host, chosen, latency_ms, tls=tls))
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="pim-emulator", daemon=True
    )
    with sock:
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
