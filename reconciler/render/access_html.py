"""The access report as one self-contained HTML page (inline CSS, inline JS, an inline SVG
timeline; nothing loaded from the network), rendered with Jinja2 with autoescaping on, so
every value from the files or the tenant is escaped. Readable without JS; with it, columns
sort and rows filter. Pure: returns the page text."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import quote

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from reconciler.durations import format_shown_instant, relative
from reconciler.plan.access import AccessReport, AccessRow, State

_ENV = Environment(
    loader=PackageLoader("reconciler.render", "templates"),
    autoescape=select_autoescape(["html", "j2"], default=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)

STATE_TEXT = {
    State.MANAGED: "declared in the files and in sync with the tenant",
    State.DRIFTED: "declared, but the live lifetime differs; the next apply corrects it",
    State.PENDING: "declared, not live yet; the next apply creates it",
    State.UNMANAGED: "live, not declared: made outside the files, or inherited",
    State.ACTIVATION: "a principal's own just-in-time activation (information)",
}


def source_base(repo_url: str | None, env: dict[str, str] | None = None) -> str | None:
    """Where file links point: `repo_url` (e.g. `https://github.com/o/r/blob/main`), else
    `$GITHUB_SERVER_URL/$GITHUB_REPOSITORY/blob/$GITHUB_SHA` when all three are set."""
    if repo_url:
        return repo_url.rstrip("/")
    env = dict(os.environ) if env is None else env
    parts = [env.get(k) for k in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_SHA")]
    if all(parts):
        return f"{parts[0]}/{parts[1]}/blob/{parts[2]}"
    return None


def shown_path(path: str) -> str:
    """`path` relative to the working directory when it lies below it, with `/`."""
    rel = os.path.relpath(path) if os.path.isabs(path) else path
    if rel.startswith(".."):
        rel = path
    return rel.replace(os.sep, "/").removeprefix("./")


@dataclass(frozen=True)
class _Bar:
    x: int
    height: int
    count: int
    label: str


def _timeline(report: AccessReport) -> tuple[list[_Bar], int]:
    top = max(report.timeline, default=0) or 1
    bars = []
    for i, count in enumerate(report.timeline):
        start = report.generated_at + timedelta(weeks=i)
        bars.append(_Bar(x=40 + i * 44, height=round(120 * count / top), count=count,
                         label=start.strftime("%d %b")))
    return bars, top


def render_access_html(report: AccessReport, *, repo_url: str | None = None,
                       env: dict[str, str] | None = None) -> str:
    """The page for `report`; declared rows link to `file#Lline` under `source_base`, the file
    taken relative to the working directory (run from the repository root, as CI does)."""
    base = source_base(repo_url, env)

    def link(row_file: str | None, line: int | None) -> str | None:
        if not base or not row_file:
            return None
        rel = shown_path(row_file)
        if rel.startswith(("..", "/")):
            return None  # outside the working directory: not a path in the repository
        path = quote(rel)
        return f"{base}/{path}" + (f"#L{line}" if line else "")

    def end(row: AccessRow) -> str:
        return "permanent" if row.permanent or row.end is None else format_shown_instant(row.end)

    def left(row: AccessRow) -> str:
        if row.permanent or row.end is None:
            return "no end"
        return relative(row.end, report.generated_at)

    def sort_end(row: AccessRow) -> str:
        return "9999" if row.permanent or row.end is None else row.end.isoformat()

    bars, top = _timeline(report)
    template = _ENV.get_template("access.html.j2")
    return template.render(
        report=report,
        counts=report.counts(),
        generated=format_shown_instant(report.generated_at),
        window=report.expiring_within,
        states=list(State),
        state_text=STATE_TEXT,
        principals=report.by_principal(),
        bars=bars,
        top=top,
        link=link,
        end=end,
        left=left,
        sort_end=sort_end,
        shown=format_shown_instant,
        path=shown_path,
        anchor=lambda gid, name: "g-" + (gid or quote(name, safe="")),
    )
