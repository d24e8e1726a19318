"""`emulator serve` binds before it announces: the URL on stdout means "listening now".

Before, it printed the URL, then uvicorn failed to bind (`ERROR: [Errno 98] ... address
already in use`) and exited 3. Now the address is bound first: a port in use is one error
line, exit 1, and no URL; a URL that is printed answers at once.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from reconciler.emulator.cli import emulator
from reconciler.emulator.fixture import load_tenant
from reconciler.emulator.server import CannotListen, listen, serve
from tests.cliutil import run_cli

from .helpers import small_fixture

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "tenant.yaml"


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port on 127.0.0.1 that something else listens on."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield int(holder.getsockname()[1])


def test_a_port_in_use_is_one_error_line_exit_1_and_no_url(taken_port: int) -> None:
    outcome = run_cli("emulator", "serve", "--state", str(EXAMPLE), "--port", str(taken_port))
    assert outcome.exit_code == 1
    assert outcome.stdout == ""  # no URL for a server that never listened
    assert outcome.stderr == (
        f"Error: cannot listen on 127.0.0.1:{taken_port}: address already in use\n")


def test_a_port_in_use_writes_nothing_on_exit(taken_port: int, tmp_path: Path) -> None:
    state = tmp_path / "tenant.yaml"
    original = EXAMPLE.read_text(encoding="utf-8")
    state.write_text(original, encoding="utf-8")
    log = tmp_path / "requests.jsonl"
    result = CliRunner().invoke(emulator, [
        "serve", "--state", str(state), "--port", str(taken_port), "--save-on-exit",
        "--log", str(log)])
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: cannot listen on 127.0.0.1:{taken_port}: address already in use\n")
    # nothing was served, so the state is not rewritten and no log appears
    assert state.read_text(encoding="utf-8") == original
    assert not log.exists()


def test_serve_raises_cannot_listen_before_announcing(taken_port: int) -> None:
    announced: list[str] = []
    exits: list[bool] = []
    with pytest.raises(CannotListen) as caught:
        serve(load_tenant(small_fixture()), port=taken_port, on_ready=announced.append,
              on_exit=lambda: exits.append(True))
    assert str(caught.value) == (
        f"cannot listen on 127.0.0.1:{taken_port}: address already in use")
    assert announced == [] and exits == []


def test_listen_port_0_binds_a_free_port_and_listens() -> None:
    with listen("127.0.0.1", 0) as sock:
        port = int(sock.getsockname()[1])
        assert port > 0
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            pass  # accepted into the backlog: it listens


def test_the_printed_url_answers_at_once(tmp_path: Path) -> None:
    """Read the first stdout line and call it once, no retry: it must already be served."""
    process = subprocess.Popen(
        [sys.executable, "-m", "reconciler", "emulator", "serve", "--state", str(EXAMPLE)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:") and url.endswith("/v1.0")
        answer = httpx.get(f"{url}/users?$top=1", timeout=5.0)
        assert answer.status_code == 200
        assert len(answer.json()["value"]) == 1
    finally:
        process.terminate()
        process.wait(timeout=10)
