"""`emulator serve --save-on-exit --log` keeps what it served when stopped by a signal.

uvicorn re-raises SIGTERM after its shutdown, so a `finally` around `serve` never ran and the
state and log were lost under `docker stop`, process managers and CI. These tests run the real
CLI in a subprocess, make one accepted write over HTTP, signal it, and read both files back.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml

from reconciler.emulator.fixture import load_tenant

from .helpers import PAG, after_duration, small_fixture

URL_LINE = re.compile(r"--graph-url (http://127\.0\.0\.1:\d+/v1\.0)")


def _start(state: Path, log: Path) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "reconciler",
            "emulator",
            "serve",
            "--state",
            str(state),
            "--save-on-exit",
            "--log",
            str(log),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PIM_EMULATOR_VARIANTS": ""},
    )
    assert process.stderr is not None
    seen = []
    for line in process.stderr:  # the banner names the URL once the server listens
        seen.append(line)
        match = URL_LINE.search(line)
        if match:
            return process, match.group(1)
    process.kill()
    raise AssertionError("no URL in the emulator's banner: " + "".join(seen))


def _wait_ready(url: str) -> None:
    for _ in range(200):
        try:
            httpx.get(f"{url}/users?$top=1", timeout=1.0)
            return
        except httpx.TransportError:
            time.sleep(0.05)
    raise AssertionError("emulator did not answer")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_leaves_state_and_log_written_atomically(
    tmp_path: Path, sig: signal.Signals
) -> None:
    state = tmp_path / "tenant.yaml"
    state.write_text(yaml.safe_dump(small_fixture()), encoding="utf-8")
    log = tmp_path / "requests.jsonl"
    tenant = load_tenant(small_fixture())
    user = "kim@contoso.example"
    process, url = _start(state, log)
    try:
        _wait_ready(url)
        answer = httpx.post(
            f"{url.removesuffix('/v1.0')}{PAG}/eligibilityScheduleRequests",
            json={
                "accessId": "owner",
                "principalId": tenant.id_of(user),
                "groupId": tenant.id_of("grp-open"),
                "action": "adminAssign",
                "justification": "sigterm test",
                "scheduleInfo": after_duration("P30D"),
            },
            timeout=10.0,
        )
        assert answer.status_code == 201, answer.text
        request_id = answer.json()["id"]
        process.send_signal(sig)
        process.wait(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.stderr is not None
    stderr = process.stderr.read()
    assert f"saved state to {state}" in stderr
    assert f"wrote request log to {log}" in stderr

    saved = yaml.safe_load(state.read_text(encoding="utf-8"))
    owners = [
        s
        for s in saved["schedules"]
        if s.get("principal") in (user, tenant.id_of(user))
        and s.get("access") == "owner"
        and s.get("kind") == "eligible"
    ]
    assert len(owners) == 1, owners
    entries = [line for line in log.read_text(encoding="utf-8").splitlines() if line]
    posts = [e for e in entries if '"method": "POST"' in e]
    assert len(posts) == 1 and '"status": 201' in posts[0] and "adminAssign" in posts[0]
    # written through a temp file beside the target and renamed: none is left behind
    assert sorted(p.name for p in tmp_path.iterdir()) == ["requests.jsonl", "tenant.yaml"]
    assert request_id
