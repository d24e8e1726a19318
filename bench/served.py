"""Shared plumbing of the served-emulator benchmarks: run `emulator serve` as a separate
process on 127.0.0.1, wait until it answers, stop it for sure, read its request log, and
measure a block of work (wall, CPU, peak RSS of this process).
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `python bench/x.py` from a fresh clone without an install
    sys.path.insert(0, str(ROOT))

from reconciler.emulator.server import free_port  # noqa: E402

HOST = "127.0.0.1"
PROBE_PATH = "/v1.0/bench-probe"
"""Readiness probe: an unknown segment, answered 400 by a live emulator (left out of counts)."""


@dataclass
class Served:
    """A running emulator process: `base_url` (`http://127.0.0.1:PORT/v1.0`) and, once stopped,
    `log` (its request log: one dict per answered request, probes left out)."""

    base_url: str
    process: subprocess.Popen[bytes]
    log_file: Path
    log: list[dict[str, object]] = field(default_factory=list)

    def top_level_requests(self) -> int:
        """HTTP requests the emulator answered (each `$batch` envelope once)."""
        return sum(1 for e in self.log if not e.get("batch_item"))


@contextlib.contextmanager
def serve_emulator(state: Path, latency_ms: int, workdir: Path, page_size: int | None = None,
                   start_timeout_s: float = 120.0) -> Iterator[Served]:
    """Start `python -m reconciler emulator serve --state STATE` on a free loopback port, wait
    until it answers, yield it; always stop it (SIGINT, then SIGKILL after 15 s) and read its
    `--log`. Raises `RuntimeError` when it does not answer within `start_timeout_s`."""
    port = free_port(HOST)
    log_file = workdir / "emulator-log.jsonl"
    cmd = [sys.executable, "-m", "reconciler", "emulator", "serve", "--state", str(state),
           "--host", HOST, "--port", str(port), "--latency-ms", str(latency_ms),
           "--log", str(log_file)]
    if page_size:
        cmd += ["--page-size", str(page_size)]
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    process = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    served = Served(f"http://{HOST}:{port}/v1.0", process, log_file)
    try:
        _wait_ready(served, start_timeout_s)
        yield served
    finally:
        _stop(process)
    if log_file.exists():
        lines = log_file.read_text(encoding="utf-8").splitlines()
        served.log = [e for e in map(json.loads, lines)
                      if not str(e.get("path", "")).startswith(PROBE_PATH)]


def _wait_ready(served: Served, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    url = served.base_url.removesuffix("/v1.0") + PROBE_PATH
    while time.monotonic() < deadline:
        if served.process.poll() is not None:
            err = served.process.stderr.read().decode() if served.process.stderr else ""
            raise RuntimeError(f"emulator exited with {served.process.returncode}: {err[-2000:]}")
        try:
            httpx.get(url, timeout=2.0)
            return
        except httpx.TransportError:
            time.sleep(0.05)
    raise RuntimeError(f"emulator did not answer on {served.base_url} within {timeout_s:.0f}s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)  # uvicorn shuts down; the CLI then writes --log
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)
    if process.stderr:
        process.stderr.close()


@dataclass
class Measured:
    """Wall seconds, CPU seconds (user + system, all threads of this process) and this
    process's peak RSS in MB, filled in when the `measure()` block ends."""

    wall_s: float = 0.0
    cpu_s: float = 0.0
    peak_rss_mb: float = 0.0


def peak_rss_mb() -> float:
    """This process's peak resident set so far, in MB (`ru_maxrss` is KiB on Linux)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@contextlib.contextmanager
def measure() -> Iterator[Measured]:
    """Measure the block: see `Measured`."""
    out = Measured()
    wall0, cpu0 = time.perf_counter(), _cpu()
    try:
        yield out
    finally:
        out.wall_s = round(time.perf_counter() - wall0, 3)
        out.cpu_s = round(_cpu() - cpu0, 3)
        out.peak_rss_mb = peak_rss_mb()


def generate(out: Path, groups: int, per_group: int, principals: int, drift: float, seed: int,
             mix: str = "1,1,1") -> dict[str, int]:
    """Run `bench/synth.py` in a child process (so its memory is not this process's peak RSS);
    return its expected counts."""
    cmd = [sys.executable, str(ROOT / "bench" / "synth.py"), "--out", str(out), "--groups",
           str(groups), "--assignments-per-group", str(per_group), "--principals",
           str(principals), "--drift", str(drift), "--seed", str(seed), "--mix", mix]
    done = subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, text=True)
    return json.loads(done.stdout)
