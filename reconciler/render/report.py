"""Apply reports as text, markdown and JSON: PIM settings (policy rule) results first, in the
order apply wrote them, then assignment results."""

from __future__ import annotations

import json

from rich.console import Console
from rich.markup import escape

from reconciler.apply.executor import ApplyReport, ChangeResult, Outcome, PolicyResult
from reconciler.durations import format_shown_instant
from reconciler.render.common import LOOSENS, policy_fields
from reconciler.render.markdown import LOOSENS_MARK, _cell

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


def policy_change_text(result: PolicyResult) -> str:
    """`max_duration PT8H -> PT4H; require mfa -> mfa, ticket` for the rule change."""
    return "; ".join(f"{name} {before} -> {after}"
                     for name, before, after in policy_fields(result.change))


def policy_result_line(result: PolicyResult) -> str:
    """`applied  policy member <rule> in <group> (<field> before -> after) - <message>`, with
    Graph's code (or `policy_not_applied`) and the loosening tag."""
    c = result.change
    text = (f"{result.outcome:<8} policy {c.access} {c.rule} in {c.group} "
            f"({policy_change_text(result)})")
    if c.loosens:
        text += f" {LOOSENS} control"
    if result.graph_code:
        text += f": {result.graph_code}"
    if result.message:
        text += f" - {result.message}"
    return text


def summary_line(report: ApplyReport) -> str:
    if report.refused:
        return f"Apply refused: {report.refused}"
    counts = ", ".join(f"{report.count(o)} {o}" for o in Outcome)
    text = f"Apply: {counts}"
    if report.policy_results:
        policy = ", ".join(
            f"{n} {o}" for o in Outcome
            if (n := sum(1 for r in report.policy_results if r.outcome is o)))
        text += f" (policy rules: {policy})"
    return text


def render_report_text(report: ApplyReport, console: Console) -> None:
    for policy_result in report.policy_results:
        console.print(
            f"[{_STYLE[policy_result.outcome]}]{escape(policy_result_line(policy_result))}[/]",
            highlight=False,
            soft_wrap=True,
        )
    for result in report.results:
        console.print(
            f"[{_STYLE[result.outcome]}]{escape(result_line(result))}[/]",
            highlight=False,
            soft_wrap=True,
        )
    style = "bold red" if report.exit_code() == 1 else "bold"
    console.print(f"[{style}]{escape(summary_line(report))}[/]", highlight=False)


def render_report_markdown(report: ApplyReport) -> str:
    lines = ["## PIM apply", "", _cell(summary_line(report)), ""]
    if report.policy_results:
        lines += [
            "**PIM settings**",
            "",
            "| outcome | | access | rule | group | change | detail |",
            "|---|---|---|---|---|---|---|",
        ]
        for p in report.policy_results:
            c = p.change
            detail = " ".join(x for x in (f"`{_cell(p.graph_code)}`" if p.graph_code else "",
                                          _cell(p.message)) if x)
            lines.append(
                f"| {p.outcome} | {LOOSENS_MARK if c.loosens else ''} | {c.access} "
                f"| `{_cell(c.rule)}` | {_cell(c.group)} | {_cell(policy_change_text(p))} "
                f"| {detail} |"
            )
        lines.append("")
        if report.results:
            lines += ["**Assignments**", ""]
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
                f"`{_cell(c.principal)}` | {_cell(c.group)} | {_cell(detail)} |"
            )
    return "\n".join(lines) + "\n"


def render_report_json(report: ApplyReport) -> str:
    """`ApplyReport.to_dict`: `refused`, `summary`, `policy_results` (before) `results`."""
    return json.dumps(report.to_dict(), indent=2, ensure_ascii=False)
