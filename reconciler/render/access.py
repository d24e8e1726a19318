"""The access report as JSON (`report.json`) and as markdown for a CI job summary. Pure."""

from __future__ import annotations

import json

from reconciler.durations import format_duration, format_shown_instant, relative
from reconciler.plan.access import AccessReport, AccessRow, State

MARKDOWN_LIMIT = 60_000
"""Markdown stays below this many characters (GitHub's summaries and comments stop at
65,536); rows beyond it are cut with an '…and N more' line per table."""


def render_access_json(report: AccessReport) -> str:
    """`AccessReport.to_dict()` as indented JSON (`schemas/access-report.schema.json`)."""
    return json.dumps(report.to_dict(), indent=2, ensure_ascii=False)


def end_text(row: AccessRow, report: AccessReport) -> str:
    """`permanent`, or the end with the time left (`2026-12-11T12:00:00Z (in 10 days)`)."""
    if row.permanent or row.end is None:
        return "permanent"
    return f"{format_shown_instant(row.end)} ({relative(row.end, report.generated_at)})"


def _cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def render_access_markdown(report: AccessReport, *, link: str | None = None) -> str:
    """Counts (after a `**Scope:**` line for a `--shard` / `--only` run), then expiring soon,
    drifted and unmanaged rows (tables), at most `MARKDOWN_LIMIT` characters; `link` (the
    page's address, e.g. the artifact) is shown when given."""
    counts = report.counts()
    lines = [
        "## PIM access report",
        "",
        f"Tenant `{_cell(report.tenant or 'unknown')}` at "
        f"{format_shown_instant(report.generated_at)}; expiring window "
        f"{format_duration(report.expiring_within)}."
        + (f" [Full report]({link})" if link else ""),
        "",
        *([f"**Scope:** {_cell(report.scope.describe())}", ""] if report.scope else []),
        "| groups | principals | eligible | active | expiring soon | drifted | pending "
        "| unmanaged | activations |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| {counts['groups']} | {counts['principals']} | {counts['eligible']} "
        f"| {counts['active']} | {counts['expiring']} | {counts['drifted']} "
        f"| {counts['pending']} | {counts['unmanaged']} | {counts['activation']} |",
    ]
    out = "\n".join(lines) + "\n"
    tables = [
        ("Expiring soon", [r for r in report.rows if r.expiring]),
        ("Drifted", [r for r in report.rows if r.state is State.DRIFTED]),
        ("Unmanaged", [r for r in report.rows if r.state is State.UNMANAGED]),
    ]
    for title, rows in tables:
        if not rows:
            continue
        block = [f"\n### {title} ({len(rows)})", "",
                 "| group | access | kind | principal | end | detail |",
                 "|---|---|---|---|---|---|"]
        text = "\n".join(block)
        if len(out) + len(text) + 200 > MARKDOWN_LIMIT:
            out += f"\n…and {len(rows)} more {title.lower()} rows (see report.json)\n"
            continue
        out += text
        for n, row in enumerate(rows):
            line = (f"\n| {_cell(row.group)} | {row.access} | {row.kind} "
                    f"| `{_cell(row.principal)}` | {_cell(end_text(row, report))} "
                    f"| {_cell(row.detail)} |")
            if len(out) + len(line) + 200 > MARKDOWN_LIMIT:
                out += f"\n\n…and {len(rows) - n} more (see report.json)"
                break
            out += line
        out += "\n"
    if counts["errors"]:
        out += (f"\n❌ {counts['errors']} error(s): the report may be incomplete; run "
                "`plan` for the details.\n")
    return out
