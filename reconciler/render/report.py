"""Apply reports as text, markdown and JSON."""

from __future__ import annotations

import json

from rich.console import Console
from rich.markup import escape

from reconciler.apply.executor import ApplyReport, ChangeResult, Outcome
from reconciler.durations import format_shown_instant

_STYLE = {
    Outcome.APPLIED: "green",
    Outcome.DEFERRED: "magenta",
    Outcome.FAILED: "bold red",
    Outcome.SKIPPED: "yellow",
}


def result_line(result: ChangeResult) -> str:
    c = result.change
    text = f"{result.outcome:<8} {c.action:<6} {c.kind} {c.access} {c.principal} in {c.group}"
    if result.outcome is Outcome.DEFERRED and c.not_before:
        text += f" (not before {format_shown_instant(c.not_before)})"
    if result.graph_code:
        text += f": {result.graph_code}"
    if result.message and result.outcome is not Outcome.APPLIED:
        text += f" - {result.message}"
    if (result.request_id and result.outcome is Outcome.FAILED
            and result.request_id not in result.message):
        text += f" [request-id {result.request_id}]"
    return text


def summary_line(report: ApplyReport) -> str:
    if report.refused:
        return f"Apply refused: {report.refused}"
    counts = ", ".join(f"{report.count(o)} {o}" for o in Outcome)
    return f"Apply: {counts}"


def render_report_text(report: ApplyReport, console: Console) -> None:
    for result in report.results:
        console.print(
            f"[{_STYLE[result.outcome]}]{escape(result_line(result))}[/]",
            highlight=False,
            soft_wrap=True,
        )
    style = "bold red" if report.exit_code() == 1 else "bold"
    console.print(f"[{style}]{escape(summary_line(report))}[/]", highlight=False)


def render_report_markdown(report: ApplyReport) -> str:
    lines = ["## PIM apply", "", summary_line(report), ""]
    if report.results:
        lines += [
            "| outcome | action | kind | access | principal | group | detail |",
            "|---|---|---|---|---|---|---|",
        ]
        for r in report.results:
            c = r.change
            detail = r.graph_code or ""
            if r.outcome is Outcome.DEFERRED and c.not_before:
                detail = f"not before {format_shown_instant(c.not_before)}"
            elif r.message and r.outcome is not Outcome.APPLIED:
                detail = (detail + " " + r.message).strip()
            lines.append(
                f"| {r.outcome} | {c.action} | {c.kind} | {c.access} | "
                f"`{c.principal}` | {c.group} | {detail.replace('|', '/')} |"
            )
    return "\n".join(lines) + "\n"


def render_report_json(report: ApplyReport) -> str:
    return json.dumps(report.to_dict(), indent=2, ensure_ascii=False)
