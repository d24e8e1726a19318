"""Which declared groups one run covers: `--only GLOB` (before resolution) and `--shard I/N`
(a stable partition by the group's object id, applied in `reconciler.plan.scope` once the
groups are resolved). Pure: no I/O.

- `--only GLOB` (repeatable) keeps the groups whose file path relative to the desired-state
  directory (e.g. `groups/platform-*.yaml`, `fnmatch`, case-sensitive like the file system)
  or declared `group:` value (display name or object id, compared without regard to case)
  matches one of the globs. A glob that matches no file and no group is an error: a typo
  must not plan nothing.
- `--shard I/N` (1 <= I <= N): a group belongs to shard `sha256(key.lower()) % N + 1`, its
  key the object id of the one group it resolves to, else (not found, ambiguous, lookup
  refused) its declared reference; the same on every run and machine (never Python's
  `hash()`), whatever the order of the files.
"""

from __future__ import annotations

import fnmatch
import hashlib
import posixpath
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from reconciler.desired.model import DesiredGroup, DesiredState

_SHARD = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")
_SETTINGS_FILE = "pim-reconciler.yaml"  # reconciler.config.loader.SETTINGS_FILE: not a group


class SelectError(ValueError):
    """A scope that cannot be used: a malformed `--shard`, or an `--only` glob that matches
    nothing. The message is one line for the user."""


@dataclass(frozen=True, slots=True)
class Shard:
    """Shard `index` of `count` (both 1-based: 1 <= index <= count)."""

    index: int
    count: int

    def __post_init__(self) -> None:
        if not 1 <= self.index <= self.count:
            raise SelectError(f"shard {self.index}/{self.count}: I must be between 1 and N")

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    @classmethod
    def parse(cls, text: str) -> Shard:
        """`"I/N"` -> `Shard(I, N)`. Raises `SelectError` for anything else (`0/2`, `3/2`,
        `x`, `1/0`)."""
        match = _SHARD.match(text)
        if not match:
            raise SelectError(f"{text!r} is not I/N (e.g. 1/2: the first of two shards)")
        index, count = int(match.group(1)), int(match.group(2))
        if count < 1 or not 1 <= index <= count:
            raise SelectError(f"{text!r}: I/N needs 1 <= I <= N (e.g. 1/2 or 2/2)")
        return cls(index, count)

    def holds(self, key: str) -> bool:
        """Whether the group keyed `key` (object id, or declared reference when it did not
        resolve to one group) belongs to this shard: `int(sha256(key.lower()), 16) % N ==
        I - 1`."""
        digest = hashlib.sha256(key.strip().lower().encode("utf-8")).hexdigest()
        return int(digest, 16) % self.count == self.index - 1

    def removal_share(self, max_removals: int) -> int:
        """This shard's part of the run total `safety.max_removals`: `max_removals // N`,
        plus one for the first `max_removals % N` shards, so that the shares of all N shards
        add up to exactly `max_removals` (never more, and none of it is lost to rounding)."""
        base, extra = divmod(max_removals, self.count)
        return base + (1 if self.index <= extra else 0)


@dataclass(frozen=True, slots=True)
class Scope:
    """What a run covers: `only` (the `--only` globs, as given) and `shard` (None: all)."""

    only: tuple[str, ...] = ()
    shard: Shard | None = None

    @property
    def whole(self) -> bool:
        """True when nothing is left out (no `--only`, no `--shard`)."""
        return not self.only and self.shard is None


def relative_file(desired: DesiredState, file: str) -> str:
    """A declared file's path relative to the desired-state directory, POSIX
    (`groups/platform-admins.yaml`); the loader names files as root joined with it."""
    root = posixpath.normpath(desired.root.replace("\\", "/"))
    path = file.replace("\\", "/")
    if root in ("", ".") or not path.startswith(root + "/"):
        return path
    return path[len(root) + 1:]


def _matches(glob: str, group: DesiredGroup, rel: str) -> bool:
    return (fnmatch.fnmatchcase(rel, glob)
            or fnmatch.fnmatchcase(group.group.strip().casefold(), glob.strip().casefold()))


def select_only(desired: DesiredState, globs: Sequence[str]) -> DesiredState:
    """The desired state with only the groups an `--only` glob matches (by relative file path
    or declared group name; see the module docstring); `desired` itself when `globs` is
    empty. Raises `SelectError` naming the first glob that matches no file and no group."""
    if not globs:
        return desired
    files: Iterable[str] = getattr(desired.digest, "files", {}) or ()
    # every group file read, usable or not: a glob naming a broken file matches it (its
    # problems are in the plan); the settings file is no group
    read = [rel for rel in files if rel != _SETTINGS_FILE]
    kept: list[DesiredGroup] = []
    used: set[str] = set()
    for group in desired.groups:
        rel = relative_file(desired, group.location.file)
        hits = {g for g in globs if _matches(g, group, rel)}
        used |= hits
        if hits:
            kept.append(group)
    for glob in globs:
        if glob not in used and not any(fnmatch.fnmatchcase(rel, glob) for rel in read):
            raise SelectError(f"--only {glob!r} matches no group file and no group name "
                              f"under {desired.root}")
    return replace(desired, groups=tuple(kept))
