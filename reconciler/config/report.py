"""Per-file problem collection: turns a document path into `file:line` on each Problem."""

from __future__ import annotations

from dataclasses import dataclass, field

from reconciler.config.yamlsafe import Path_, YamlDocument
from reconciler.problems import Code, Problem, Severity


def path_text(path: tuple[str | int, ...] | list[str | int]) -> str:
    """`("members", "eligible", 0, "until")` -> `members.eligible[0].until`."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


@dataclass(slots=True)
class FileReport:
    """Problems of one file. `file` is the path shown to the user (root joined with the
    relative path); `group` is the group as written, once known."""

    file: str
    doc: YamlDocument | None = None
    group: str | None = None
    problems: list[Problem] = field(default_factory=list)
    error_paths: list[Path_] = field(default_factory=list)
    """Document path of every error (`()` for one not tied to a value, e.g. a parse error):
    lets the group reader keep the valid entries of a file with errors."""

    def line(self, path: Path_, *, key: bool = False) -> int | None:
        if self.doc is None:
            return None
        return self.doc.key_line_of(path) if key else self.doc.line_of(path)

    def add(
        self,
        code: Code,
        message: str,
        path: Path_ = (),
        *,
        line: int | None = None,
        key: bool = False,
        principal: str | None = None,
        severity: Severity = Severity.ERROR,
    ) -> None:
        """Record a problem at `path` (the key's line when `key`), or at an explicit `line`."""
        if severity is Severity.ERROR:
            self.error_paths.append(tuple(path))
        self.problems.append(
            Problem(
                severity,
                code,
                message,
                file=self.file,
                line=line if line is not None else self.line(path, key=key),
                group=self.group,
                principal=principal,
            )
        )
