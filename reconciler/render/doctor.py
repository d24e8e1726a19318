"""Renderers of a `doctor` report (`reconciler.preflight.checks.DoctorReport`): text (one line
per check: ✓, ! or ✗, what was checked, and the fix; `-` for the one `not run` line after a
failed credential or Graph check), markdown (a job summary) and JSON."""

from __future__ import annotations

import json

from reconciler.desired.model import Location
from reconciler.preflight.checks import Check, DoctorReport, Status
from reconciler.render.common import plural

MARKS = {Status.OK: "✓", Status.WARNING: "!", Status.FAIL: "✗", Status.SKIPPED: "-"}


def _where(check: Check) -> str:
    """` (file:line)`, ` (file)`, or nothing for a check with no declaring file."""
    return f" ({Location(check.file, check.line)})" if check.file else ""


def check_line(check: Check) -> str:
    """`✓ message`, `! message (file:line); fix: ...`, `✗ message; fix: ...`: one line."""
    line = f"{MARKS[check.status]} {check.check}: {check.message}"
    if check.status is not Status.OK:
        line += _where(check)
        if check.fix:
            line += f"; fix: {check.fix}"
    return line


def summary_line(report: DoctorReport) -> str:
    """`doctor: ready|NOT ready to COMMAND [SCOPE ]against TARGET: N checks passed, N
    warnings, N failed` (`, N not run` when checks were skipped); SCOPE for a `--only` /
    `--shard` run, e.g. `shard 1/2 (5 of 8 groups)`."""
    counts = report.counts()
    verdict = "ready" if report.passed else "NOT ready"
    skipped = f", {counts['skipped']} not run" if counts["skipped"] else ""
    scope = f" {report.scope.describe()}" if report.scope else ""
    return (f"doctor: {verdict} to {report.command}{scope} against {report.target}: "
            f"{plural(counts['ok'], 'check')} passed, {plural(counts['warning'], 'warning')}, "
            f"{counts['fail']} failed{skipped}")


def render_text(report: DoctorReport) -> str:
    """Every check on its own line, then the summary line."""
    return "\n".join([*(check_line(c) for c in report.checks), summary_line(report)])


def render_markdown(report: DoctorReport) -> str:
    """A heading, the summary, and one list item per check (fix in italics)."""
    lines = [f"### pim-reconciler doctor ({report.command})", "", summary_line(report), ""]
    for check in report.checks:
        item = f"- {MARKS[check.status]} **{check.check}**: {_md(check.message)}"
        if check.status is not Status.OK:
            item += _md(_where(check))
            if check.fix:
                item += f" (fix: *{_md(check.fix)}*)"
        lines.append(item)
    return "\n".join(lines)


def _md(text: str) -> str:
    """Escape the markdown characters a message may contain."""
    for ch in ("\\", "*", "_", "`", "|", "<", ">"):
        text = text.replace(ch, "\\" + ch)
    return text


def render_json(report: DoctorReport) -> str:
    return json.dumps(report.to_dict(), indent=2, ensure_ascii=False)
