"""Drift reports as text (rich), markdown (a GitHub issue body) and JSON, from one
`DriftReport`. Pure: the text renderer writes to the console it is given, nothing else."""

from __future__ import annotations

import json

from rich.console import Console
from rich.markup import escape

from reconciler.durations import format_duration, format_shown_instant
from reconciler.plan.drift import (
    DRIFT_CLASSES,
    DriftClass,
    DriftItem,
    DriftReport,
    PolicyDriftItem,
)
from reconciler.render.common import end_text, policy_fields
from reconciler.render.text import print_problems

ISSUE_MARKER = "<!-- pim-reconciler-drift -->"
"""First line of the markdown: the drift workflow finds its one issue by it."""

LIMIT = 60_000
"""Markdown is cut below this many characters (GitHub refuses bodies over 65,536); the
truncation note that follows stays under 200."""

TITLES = {
    DriftClass.OUT_OF_BAND: "Out of band (undeclared, made outside the files)",
    DriftClass.MISSING: "Missing (declared, not assigned)",
    DriftClass.LIFETIME_CHANGED: "Lifetime changed",
    DriftClass.RENEWAL_DUE: "Renewal due",
    DriftClass.PENDING_DEFERRALS: "Pending deferrals (PIM's five-minute rule)",
    DriftClass.POLICY_CHANGED: "Policy changed (PIM settings differ from the files)",
    DriftClass.EXPIRING_SOON: "Expiring soon (not drift)",
}
_STYLE = {
    DriftClass.OUT_OF_BAND: "red",
    DriftClass.MISSING: "green",
    DriftClass.LIFETIME_CHANGED: "yellow",
    DriftClass.RENEWAL_DUE: "cyan",
    DriftClass.PENDING_DEFERRALS: "magenta",
    DriftClass.POLICY_CHANGED: "yellow",
    DriftClass.EXPIRING_SOON: "blue",
}


def verdict(report: DriftReport) -> str:
    """One line: error, drift (with counts) or none."""
    counts = report.counts()
    drift = ", ".join(
        f"{counts[str(c)]} {str(c).replace('_', ' ')}" for c in DRIFT_CLASSES if counts[str(c)]
    )
    if report.errors:
        return f"Drift check failed: {counts['errors']} errors" + (f"; {drift}" if drift else "")
    if drift:
        return f"Drift: {drift}"
    return "No drift"


def lifetimes(item: DriftItem, report: DriftReport) -> str:
    """`live -> declared` for changes, the live lifetime for rows, the declared for creates."""
    now = report.generated_at
    live = end_text(item.live_permanent, item.live_end, now)
    after = end_text(item.permanent, item.end, now)
    if item.duration:
        after += f" [rolling {item.duration}]"
    if not item.live:
        return f"declared {after}"
    if item.action is None or str(item.action) == "remove":
        return f"live {live}"
    return f"{live} -> {after}"


LIVE_LOOSER = "LIVE IS LOOSER"
"""Tag of a policy drift item whose live value is weaker than the file."""


def _print_policy_item(console: Console, item: PolicyDriftItem) -> None:
    tag = f"  [bold red]{LIVE_LOOSER}[/]" if item.live_looser else ""
    console.print(f"  {escape(item.group)}  {item.access:<6} {escape(item.rule)}{tag}",
                  highlight=False, soft_wrap=True)
    for name, live, declared in policy_fields(item.source):
        console.print(f"      {escape(name)}: live {escape(live)} -> declared {escape(declared)}",
                      highlight=False, soft_wrap=True)
    console.print(f"      [dim]{escape(item.detail)}  planned: update rule[/]", highlight=False,
                  soft_wrap=True)


def _planned(item: DriftItem) -> str:
    text = str(item.action) if item.action else "none"
    if item.not_before:
        text += f" (not before {format_shown_instant(item.not_before)})"
    return text


# --- text ---------------------------------------------------------------------------------


def render_drift_text(report: DriftReport, console: Console) -> None:
    """Verdict, the scope line of a scoped run, then one block per non-empty class,
    information and problems."""
    style = "bold red" if report.errors else "bold"
    console.print(f"[{style}]{escape(verdict(report))}[/]", highlight=False)
    console.print(
        f"generated at {format_shown_instant(report.generated_at)}; expiring window "
        f"{format_duration(report.expiring_within)}",
        style="dim",
        highlight=False,
    )
    if report.scope is not None:  # a shard's or --only's report says what it covers
        console.print(f"scope: {escape(report.scope.describe())}", highlight=False)
    for cls in DriftClass:
        items = report.items(cls)
        if not items:
            continue
        console.print()
        console.print(
            f"[bold {_STYLE[cls]}]{escape(TITLES[cls])}[/] ({len(items)})", highlight=False
        )
        if cls is DriftClass.POLICY_CHANGED:
            for policy_item in report.policy_changed:
                _print_policy_item(console, policy_item)
            continue
        for item in items:
            console.print(
                f"  {escape(item.group)}  {item.kind:<8} {item.access:<6} "
                f"{escape(item.principal)} [dim]({item.principal_type})[/]  "
                f"{escape(lifetimes(item, report))}  [dim]planned: {escape(_planned(item))}[/]",
                highlight=False,
                soft_wrap=True,
            )
            console.print(f"      [dim]{escape(item.detail)}[/]", highlight=False, soft_wrap=True)
    if report.information:
        console.print()
        console.print(f"[bold]Information[/] ({len(report.information)})")
        for info in report.information:
            group = f"{info.group}: " if info.group else ""
            console.print(
                f"  [blue]i {info.code}[/] {escape(group + info.message)}",
                highlight=False,
                soft_wrap=True,
            )
    if report.problems:
        console.print()
        console.print("[bold]Problems[/]")
        print_problems(console, report.problems)


# --- markdown -----------------------------------------------------------------------------


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_drift_markdown(report: DriftReport, *, title: str = "PIM drift report") -> str:
    """A GitHub issue body: `ISSUE_MARKER`, a verdict (and, for a `--shard` / `--only` run, a
    `**Scope:** shard 1/2: 4 of 8 groups` line) and count table, one table per class,
    information and problems; at most `LIMIT` characters plus a note counting the rows left
    out when the report is larger."""
    counts = report.counts()
    head = [ISSUE_MARKER, f"## {title}", ""]
    if report.errors:
        head.append(f"❌ **{verdict(report)}.** The files or the tenant need attention first.")
    elif report.has_drift:
        head.append(f"⚠️ **{verdict(report)}.** Review, then apply the files or update them.")
    else:
        head.append("✅ **No drift.** Live PIM state matches the files.")
    if report.scope is not None:  # one issue per shard: say which groups it covers
        head += ["", f"**Scope:** {_cell(report.scope.describe())}"]
    head += [
        "",
        "| "
        + " | ".join(str(c).replace("_", " ") for c in DriftClass)
        + " | information | errors |",
        "|" + "---:|" * (len(DriftClass) + 2),
        "| "
        + " | ".join(str(counts[str(c)]) for c in DriftClass)
        + f" | {counts['information']} | {counts['errors']} |",
        "",
        f"<sub>generated {format_shown_instant(report.generated_at)}; expiring window "
        f"{format_duration(report.expiring_within)}; expiring soon is reported but is "
        "not drift</sub>",
        "",
    ]

    sections: list[tuple[list[str], list[str]]] = []  # (heading lines, row lines)
    if report.problems:
        sections.append(
            (
                ["### Problems", "", "| severity | code | where | message |", "|---|---|---|---|"],
                [
                    f"| {p.severity} | `{p.code}` | `{_cell(p.where())}` | {_cell(p.message)} |"
                    for p in report.problems
                ],
            )
        )
    for cls in DriftClass:
        items = report.items(cls)
        if not items:
            continue
        if cls is DriftClass.POLICY_CHANGED:
            sections.append(_policy_section(report.policy_changed))
            continue
        sections.append(
            (
                [
                    f"### {TITLES[cls]} ({len(items)})",
                    "",
                    "| group | kind | access | principal | lifetime | planned | detail |",
                    "|---|---|---|---|---|---|---|",
                ],
                [
                    f"| {_cell(item.group)} | {item.kind} | {item.access} "
                    f"| `{_cell(item.principal)}` ({item.principal_type}) "
                    f"| {_cell(lifetimes(item, report))} | {_cell(_planned(item))} "
                    f"| {_cell(item.detail)} |"
                    for item in items
                ],
            )
        )
    if report.information:
        sections.append(
            (
                [f"### Information ({len(report.information)})", ""],
                [
                    f"- ℹ️ `{info.code}` "
                    + (f"**{_cell(info.group)}**: " if info.group else "")
                    + _cell(info.message)
                    for info in report.information
                ],
            )
        )

    out = "\n".join(head)
    left_out = 0
    for heading, rows in sections:
        if left_out:
            left_out += len(rows)
            continue
        block = "\n" + "\n".join(heading)
        if len(out) + len(block) > LIMIT:
            left_out += len(rows)
            continue
        out += block
        for n, row in enumerate(rows):
            if len(out) + len(row) + 1 > LIMIT:
                left_out += len(rows) - n
                break
            out += "\n" + row
        out += "\n"
    if left_out:
        out += (
            f"\n> ⚠️ Output truncated: {left_out} more row(s) left out to stay under "
            "GitHub's size limit. Run `drift --format json` for everything.\n"
        )
    return out


def _policy_section(items: tuple[PolicyDriftItem, ...]) -> tuple[list[str], list[str]]:
    """One row per differing field; the first row of a rule names it (⚠️ when live is
    looser than the file)."""
    rows = []
    for item in items:
        for n, (name, live, declared) in enumerate(policy_fields(item.source)):
            if n == 0:
                tag = " ⚠️ live is looser" if item.live_looser else ""
                head = (f"| {_cell(item.group)} | {item.access} | `{item.rule}`{tag} ")
            else:
                head = "| | | "
            rows.append(f"{head}| {name} | {_cell(live)} | {_cell(declared)} |")
    heading = [
        f"### {TITLES[DriftClass.POLICY_CHANGED]} ({len(items)})",
        "",
        "| group | access | rule | field | live | declared |",
        "|---|---|---|---|---|---|",
    ]
    return heading, rows


# --- json ---------------------------------------------------------------------------------


def render_drift_json(report: DriftReport) -> str:
    """`DriftReport.to_dict()` as indented JSON (`schemas/drift.schema.json`)."""
    return json.dumps(report.to_dict(), indent=2, ensure_ascii=False)
