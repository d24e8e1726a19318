"""Releases: the version comes from the git tag, and the wheel (built from git or from the
sdist, as PyPI users get it) carries the JSON schemas and the report template.

Builds with setuptools' PEP 517 backend in a subprocess, without build isolation (setuptools and
setuptools-scm are in the test extras), on a copy of the tracked tree committed and tagged in a
fresh git repository, so the test never touches this checkout's git state.
"""

from __future__ import annotations

import email
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TAG_VERSION = "9.8.7"
SCHEMAS = sorted(p.name for p in (ROOT / "schemas").glob("*.json"))


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.email=release@test.invalid", "-c", "user.name=release test",
         "-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false", *args],
        cwd=cwd, check=True, capture_output=True, text=True).stdout


def _backend(cwd: Path, hook: str, out: Path) -> Path:
    """Run setuptools.build_meta.<hook>(out) in `cwd`; the path of the artefact built."""
    code = f"from setuptools import build_meta as b; print(b.{hook}({str(out)!r}))"
    done = subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    return out / done.stdout.strip().splitlines()[-1]


def _check_wheel(wheel: Path) -> None:
    assert wheel.name == f"pim_reconciler-{TAG_VERSION}-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        for schema in SCHEMAS:
            assert f"reconciler/schemas/{schema}" in names
            packaged = zf.read(f"reconciler/schemas/{schema}")
            assert packaged == (ROOT / "schemas" / schema).read_bytes()
        assert "reconciler/render/templates/access.html.j2" in names
        dist_info = f"pim_reconciler-{TAG_VERSION}.dist-info"
        metadata = email.message_from_bytes(zf.read(f"{dist_info}/METADATA"))
        entry_points = zf.read(f"{dist_info}/entry_points.txt").decode()
    assert metadata["Version"] == TAG_VERSION
    assert "pim-reconciler = reconciler.cli:main" in entry_points
    assert not any(n.startswith(("tests/", "bench/", "examples/")) for n in names)


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_tagged_tree_builds_wheel_and_sdist_with_the_tag_version(tmp_path: Path) -> None:
    pytest.importorskip("setuptools_scm")
    files = _git(ROOT, "ls-files", "--cached", "--others", "--exclude-standard").splitlines()
    src = tmp_path / "src"
    for rel in files:
        source = ROOT / rel
        if not source.exists() and not source.is_symlink():
            continue  # deleted in the working tree, not yet committed
        target = src / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():  # reconciler/schemas -> ../schemas stays a link
            target.symlink_to(source.readlink())
        else:
            shutil.copy2(source, target)
    _git(src, "init", "-q")
    _git(src, "add", "-A")
    _git(src, "commit", "-q", "-m", "release")
    _git(src, "tag", f"v{TAG_VERSION}")

    _check_wheel(_backend(src, "build_wheel", tmp_path / "wheel-from-git"))

    sdist = _backend(src, "build_sdist", tmp_path / "sdist")
    assert sdist.name == f"pim_reconciler-{TAG_VERSION}.tar.gz"
    with tarfile.open(sdist) as tf:
        tf.extractall(tmp_path / "unpacked", filter="data")
    unpacked = tmp_path / "unpacked" / f"pim_reconciler-{TAG_VERSION}"
    assert not (unpacked / ".git").exists()
    # no git here: setuptools-scm reads the version from the sdist's PKG-INFO
    _check_wheel(_backend(unpacked, "build_wheel", tmp_path / "wheel-from-sdist"))


def test_installed_version_is_the_distribution_version() -> None:
    from importlib.metadata import version

    import reconciler

    assert reconciler.__version__ == version("pim-reconciler")
    done = subprocess.run([sys.executable, "-m", "reconciler", "--version"],
                          capture_output=True, text=True, check=True)
    assert done.stdout.strip() == f"pim-reconciler, version {reconciler.__version__}"
