"""A desired directory is untrusted input (a pull request's files): a path below it that
resolves outside it, through a symbolic link or `..`, is refused unread with
`path_outside_directory`; a link to another file inside it is followed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from reconciler.config import load_desired, loader
from reconciler.problems import Code

from ..cliutil import run_cli
from .helpers import write_tree

GROUP = "group: grp-app\nmembers:\n  eligible:\n    - principal: alex@contoso.example\n" \
        "      duration: P30D\n"


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Every path the loader reads, resolved."""
    seen: list[Path] = []
    original = loader.read_bounded

    def recording(path: str | os.PathLike[str], **kwargs: int) -> bytes:
        seen.append(Path(path).resolve())
        return original(path, **kwargs)

    monkeypatch.setattr(loader, "read_bounded", recording)
    return seen


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A file outside the desired directory whose content would be a parse error if read."""
    secret = tmp_path / "outside" / "passwd"
    secret.parent.mkdir()
    secret.write_text("root:x:0:0:root:/root:/bin/bash\n[unclosed\n", encoding="utf-8")
    return secret


def _desired(tmp_path: Path) -> Path:
    return write_tree(tmp_path / "access", {"groups/app.yaml": GROUP})


def _refusals(problems: list) -> list:
    return [p for p in problems if p.code is Code.PATH_OUTSIDE_DIRECTORY]


def test_link_to_a_file_outside_is_refused_unread(tmp_path: Path, outside: Path,
                                                  reads: list[Path]) -> None:
    root = _desired(tmp_path)
    (root / "groups" / "stolen.yaml").symlink_to(outside)

    state, problems = load_desired(root)

    assert state is None
    [refused] = _refusals(problems)
    assert refused.is_error
    assert refused.file == f"{root}/groups/stolen.yaml"
    assert str(outside) in refused.message and "not read" in refused.message
    assert outside.resolve() not in reads  # never opened
    assert [str(p.code) for p in problems] == ["path_outside_directory"]  # no yaml_syntax
    assert (root / "groups" / "app.yaml").resolve() in reads  # the other file was read


def test_relative_link_with_dotdot_is_refused(tmp_path: Path, outside: Path,
                                              reads: list[Path]) -> None:
    root = _desired(tmp_path)
    (root / "groups" / "up.yml").symlink_to(Path("..", "..", "outside", "passwd"))

    _, problems = load_desired(root)

    [refused] = _refusals(problems)
    assert refused.file == f"{root}/groups/up.yml"
    assert "../../outside/passwd" in refused.message
    assert outside.resolve() not in reads


def test_settings_file_linked_outside_is_refused(tmp_path: Path, outside: Path,
                                                 reads: list[Path]) -> None:
    root = _desired(tmp_path)
    (root / "pim-reconciler.yaml").symlink_to(outside)

    _, problems = load_desired(root)

    assert [p.file for p in _refusals(problems)] == [f"{root}/pim-reconciler.yaml"]
    assert outside.resolve() not in reads


def test_linked_directory_outside_is_refused_not_skipped(tmp_path: Path, reads: list[Path]
                                                         ) -> None:
    root = _desired(tmp_path)
    elsewhere = write_tree(tmp_path / "elsewhere", {"other.yaml": GROUP.replace("app", "x")})
    (root / "more").symlink_to(elsewhere, target_is_directory=True)

    _, problems = load_desired(root)

    assert [p.file for p in _refusals(problems)] == [f"{root}/more"]
    assert not [p for p in reads if p.is_relative_to(elsewhere.resolve())]


def test_link_to_a_file_inside_is_followed(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "access", {"shared/app.txt": GROUP})  # .txt: not loaded itself
    (root / "groups").mkdir()
    (root / "groups" / "app.yaml").symlink_to(Path("..", "shared", "app.txt"))

    state, problems = load_desired(root)

    assert problems == []
    assert state is not None and [g.group for g in state.groups] == ["grp-app"]


def test_a_root_reached_through_a_link_is_fine(tmp_path: Path) -> None:
    real = _desired(tmp_path)
    (tmp_path / "alias").symlink_to(real, target_is_directory=True)

    state, problems = load_desired(tmp_path / "alias")

    assert problems == [] and state is not None


def test_link_loop_is_refused(tmp_path: Path) -> None:
    root = _desired(tmp_path)
    (root / "groups" / "a.yaml").symlink_to(root / "groups" / "b.yaml")
    (root / "groups" / "b.yaml").symlink_to(root / "groups" / "a.yaml")

    _, problems = load_desired(root)

    assert sorted(p.file for p in _refusals(problems)) == [
        f"{root}/groups/a.yaml", f"{root}/groups/b.yaml"]


def test_validate_and_plan_report_the_refusal(tmp_path: Path, outside: Path) -> None:
    root = _desired(tmp_path)
    (root / "groups" / "stolen.yaml").symlink_to(outside)

    run = run_cli("validate", str(root))
    assert run.exit_code == 1
    assert "groups/stolen.yaml: path_outside_directory:" in run.stdout + run.stderr
    assert "root:x" not in run.stdout + run.stderr
