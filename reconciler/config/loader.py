"""`load_desired`: read a desired-state directory into a `DesiredState`, collecting every
problem of every file before returning.

Layout (format.md "Repository layout"): `pim-reconciler.yaml` at the top is the optional
settings file; every other `*.yaml` / `*.yml` below the directory declares one group. Hidden
files and directories (name starting with `.`, e.g. `.github/`) are skipped. Files are read
in sorted order of their relative POSIX path, so output is deterministic.
"""

from __future__ import annotations

import os
import posixpath
from pathlib import Path
from typing import Any

from reconciler.config.groups import read_group
from reconciler.config.report import FileReport
from reconciler.config.schema import GROUP_SCHEMA, SETTINGS_SCHEMA, check_schema
from reconciler.config.settings import read_settings
from reconciler.config.yamlsafe import YamlDocument, YamlError, load_yaml_bytes, read_bounded
from reconciler.desired.model import (
    DesiredGroup,
    DesiredState,
    FilesDigest,
    Kind,
    Location,
    Settings,
)
from reconciler.problems import Code, Problem, Severity, error

SETTINGS_FILE = "pim-reconciler.yaml"
YAML_SUFFIXES = (".yaml", ".yml")


def find_files(root: Path) -> list[str]:
    """Relative POSIX paths of the YAML files below `root`, sorted; hidden entries skipped.

    Symbolic links to directories are not descended; the ones that lead out of `root` are
    listed too, so that the loader refuses them by name (`escapes`) rather than skip them
    unseen.
    """
    found: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        rel_dir = os.path.relpath(dirpath, root)
        linked_out = [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))
                      and escapes(root, os.path.join(rel_dir, d)) is not None]
        yaml_files = [n for n in filenames
                      if not n.startswith(".") and n.lower().endswith(YAML_SUFFIXES)]
        for name in yaml_files + linked_out:
            rel = name if rel_dir == "." else f"{rel_dir}/{name}"
            found.append(rel.replace(os.sep, "/"))
    return sorted(found)


def escapes(root: Path, rel: str, *, walked: bool = False) -> str | None:
    """Why `rel` (a path below `root`) may not be read, or None: it resolves (through
    symbolic links or `..`) to a place outside `root`, or cannot be resolved at all. A link
    to another file inside `root` is fine. Nothing is opened.

    `walked=True` says `rel` came from `find_files(root)`, whose walk never descends into a
    symbolic link and never yields `..`: then only the file itself can lead out, and a file
    that is not a link is inside without resolving its path (one `lstat`, not one per
    component: the per-file cost of a large repository)."""
    if walked and not os.path.islink(root / rel):
        return None
    try:
        inside = (root / rel).resolve().is_relative_to(root.resolve())
    except (OSError, RuntimeError):  # a symbolic link loop
        return "it cannot be resolved (a loop of symbolic links)"
    if inside:
        return None
    link = root / rel
    how = (f"is a symbolic link to {os.readlink(link)}" if link.is_symlink()
           else "leads through a symbolic link or '..'")
    return f"{how}, outside {root}"


def _display(root: str, rel: str) -> str:
    return posixpath.normpath(posixpath.join(root.replace(os.sep, "/"), rel))


def _parse(report: FileReport, raw: bytes) -> YamlDocument | None:
    try:
        return load_yaml_bytes(raw)
    except YamlError as exc:
        for issue in exc.issues:
            report.add(issue.code, issue.message, line=issue.line)
        return None


def _mapping(report: FileReport, doc: YamlDocument, *, settings: bool) -> dict[str, Any] | None:
    if isinstance(doc.data, dict):
        return doc.data
    if doc.data is None and settings:
        return {}  # an empty settings file means "all defaults"
    what = "settings" if settings else "group"
    needs = "tenant:, protected:, safety:, defaults:" if settings else "group: NAME"
    got = "empty" if doc.data is None else f"a {type(doc.data).__name__}"
    report.add(
        Code.SCHEMA,
        f"a {what} file must be a mapping with {needs}; this file is {got}",
        line=1,
    )
    return None


def load_desired(
    root: str | Path, *, partial: bool = False
) -> tuple[DesiredState | None, list[Problem]]:
    """Load and validate every file under `root` (offline; no time-dependent checks).

    Returns `(state, problems)`: `state` is None exactly when some problem is an error;
    with `partial=True` (a plan that shows everything) it is None only when `root` cannot be
    read, and otherwise holds what is valid: the usable group files (see
    `DesiredGroup.usable`) and their entries without an error (see `DesiredGroup.incomplete`).
    Problems carry `file` (root as given, joined with the relative path), a 1-based `line`,
    and the `group` / `principal` as written. Never raises for file contents; codes used:
    yaml_syntax, duplicate_key, schema, duplicate_group, duplicate_assignment,
    lifetime_missing, lifetime_conflict, duration_unit_unsupported, duration_too_short,
    principal_ambiguous, path_outside_directory (a path resolving outside `root`: refused
    unread), and empty_desired_set (root missing: error; no group files: warning).
    `DesiredState.digest` is the `FilesDigest` of every file read (path and bytes).
    """
    root_text = str(root)
    base = Path(root)
    if not base.is_dir():
        return None, [
            error(Code.EMPTY_DESIRED_SET, f"{root_text} is not a directory", file=root_text)
        ]

    files = find_files(base)
    read: list[tuple[str, bytes]] = []
    reports: list[FileReport] = []
    settings = Settings()
    defaults_stated: frozenset[Kind] = frozenset()
    group_files: list[tuple[FileReport, YamlDocument]] = []

    # settings first: group files need its defaults
    ordered = sorted(files, key=lambda rel: rel != SETTINGS_FILE)
    if SETTINGS_FILE in files:
        # until the settings file is read, its defaults are unknown: an unreadable settings
        # file must not turn into a lifetime_missing on every entry relying on a default
        defaults_stated = frozenset(Kind)
    for rel in ordered:
        report = FileReport(_display(root_text, rel))
        reports.append(report)
        refused = escapes(base, rel, walked=True)
        if refused is not None:  # refused unread (a PR's files are untrusted input)
            report.add(Code.PATH_OUTSIDE_DIRECTORY,
                       f"{rel} {refused}: refused, not read (the files under review are read "
                       "only from inside the directory)")
            continue
        try:
            raw = read_bounded(base / rel)
        except YamlError as exc:
            for issue in exc.issues:
                report.add(issue.code, issue.message, line=issue.line)
            continue
        read.append((rel, raw))
        doc = _parse(report, raw)
        if doc is None:
            continue
        report.doc = doc
        if rel == SETTINGS_FILE:
            data = _mapping(report, doc, settings=True)
            if data is not None:
                check_schema(report, data, SETTINGS_SCHEMA)
                settings, defaults_stated = read_settings(report, data)
            continue
        if posixpath.basename(rel).rsplit(".", 1)[0] == "pim-reconciler":
            report.add(
                Code.SCHEMA,
                f"settings belong in {SETTINGS_FILE} at the top of {root_text}, not in {rel}",
                line=1,
            )
            continue
        group_files.append((report, doc))

    groups: list[DesiredGroup] = []
    first_seen: dict[str, Location] = {}
    for report, doc in group_files:
        data = _mapping(report, doc, settings=False)
        if data is None:
            continue
        written = data.get("group")
        report.group = written if isinstance(written, str) and written else None
        check_schema(report, data, GROUP_SCHEMA)
        group = read_group(report, data, settings, defaults_stated)
        if group is None:
            continue
        key = group.group.casefold()
        first = first_seen.get(key)
        if first is not None:
            report.add(
                Code.DUPLICATE_GROUP,
                f"group '{group.group}' is declared in two files: {first} and "
                f"{group.location}; keep one file per group",
                ("group",),
                key=True,
            )
            continue
        first_seen[key] = group.location
        if group.usable:
            groups.append(group)

    problems: list[Problem] = []
    for report in sorted(reports, key=lambda r: r.file):
        problems.extend(sorted(report.problems, key=lambda p: p.line or 0))
    if not group_files and not problems:
        problems.append(
            Problem(
                Severity.WARNING,
                Code.EMPTY_DESIRED_SET,
                f"no group files found under {root_text}",
                file=root_text,
            )
        )
    if any(p.is_error for p in problems) and not partial:
        return None, problems
    state = DesiredState(
        root=root_text,
        settings=settings,
        groups=tuple(sorted(groups, key=lambda g: g.location.file)),
        digest=digest_files(read),
    )
    return state, problems


def digest_files(files: list[tuple[str, bytes]]) -> FilesDigest:
    """The `FilesDigest` of (relative path, bytes) pairs: a SHA-256 per file, and one over
    them all, so no two different sets of files give the same digest."""
    return FilesDigest.of_bytes(files)
