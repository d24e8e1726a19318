"""Plan and problem output for a terminal (rich; colour only on a TTY)."""

from __future__ import annotations

from collections import defaultdict

from rich.console import Console
from rich.markup import escape

from reconciler.durations import format_shown_instant
from reconciler.plan.changes import Action, Plan, PolicyChange
from reconciler.problems import Problem, Severity
from reconciler.render.common import (
    DEFERRED_NOTE,
    LOOSENS,
    SYMBOLS,
    lifetime_text,
    plural,
    policy_fields,
    policy_summary,
)

_STYLE = {
    Action.CREATE: "green",
    Action.RENEW: "cyan",
    Action.UPDATE: "yellow",
    Action.REMOVE: "red",
}
_SEVERITY = {Severity.ERROR: "bold red", Severity.WARNING: "yellow", Severity.INFO: "blue"}


def problem_line(problem: Problem) -> str:
    """`file:line: code: message` (the validate format), with severity for warnings."""
    label = "" if problem.severity is Severity.ERROR else f"{problem.severity}: "
    return f"{problem.where()}: {label}{problem.code}: {problem.message}"


def print_problems(console: Console, problems: tuple[Problem, ...] | list[Problem]) -> None:
    for problem in problems:
        console.print(
            f"[{_SEVERITY[problem.severity]}]{escape(problem_line(problem))}[/]",
            highlight=False,
            soft_wrap=True,
        )


def summary_line(plan: Plan) -> str:
    s = plan.summary()
    parts = [
        f"{s['create']} to create",
        f"{s['renew']} to renew",
        f"{s['update']} to update",
        f"{s['remove']} to remove",
    ]
    text = "Plan: " + ", ".join(parts)
    if s["deferred"]:
        text += f" ({s['deferred']} deferred)"
    if s["policy"]:
        text += ", " + policy_summary(s["policy"], s["loosening"])
    return text + f"; {plural(s['errors'], 'error')}, {plural(s['warnings'], 'warning')}"


def print_policy_change(console: Console, change: PolicyChange) -> None:
    """One line per changing field, `before -> after`, loosening changes tagged on every line,
    then why (the rule change's reason)."""
    tag = f"  [bold red]{LOOSENS} control[/]" if change.loosens else ""
    for name, before, after in policy_fields(change):
        console.print(
            f"  [yellow]~ policy[/]  {change.access} {escape(change.rule)}  "
            f"{escape(name)} {escape(before)} -> {escape(after)}{tag}",
            highlight=False,
            soft_wrap=True,
        )
    if change.reason:
        console.print(f"      [dim]{escape(change.reason)}[/]", highlight=False, soft_wrap=True)


def render_plan(plan: Plan, console: Console) -> None:
    """Grouped by group; the group's PIM settings changes first (one line per rule field,
    `before -> after`, loosening ones tagged), then one line per assignment change: symbol,
    action, kind, access, principal (type), lifetime old -> new as absolute UTC with a
    relative hint, deferral time."""
    now = plan.generated_at
    by_group = defaultdict(list)
    for change in plan.changes:
        by_group[(change.group, change.group_id)].append(change)
    policy_by_group: dict[str, list[PolicyChange]] = defaultdict(list)
    policy_ids: dict[str, set[str]] = defaultdict(set)
    for rule_change in plan.policy_changes:
        policy_by_group[rule_change.group].append(rule_change)
        policy_ids[rule_change.group].add(rule_change.group_id)
    info_by_group = defaultdict(list)
    for item in plan.info:
        info_by_group[item.group].append(item)

    console.print(f"[bold]{escape(summary_line(plan))}[/]", highlight=False)
    loosening = plan.summary()["loosening"]
    if loosening:
        console.print(
            f"[bold red]Warning: {plural(loosening, 'policy rule change')} "
            f"{'loosens' if loosening == 1 else 'loosen'} control (marked {LOOSENS} below)[/]",
            highlight=False,
        )
    valid = f", valid until {format_shown_instant(plan.valid_until)}" if plan.valid_until else ""
    console.print(f"generated at {format_shown_instant(now)}{valid}", style="dim", highlight=False)
    if plan.summary()["deferred"]:
        console.print(escape(DEFERRED_NOTE), style="magenta", highlight=False, soft_wrap=True)
    if plan.scope is not None:
        console.print(f"scope: {escape(plan.scope.describe())}", highlight=False)
    names = sorted({g for g, _ in by_group} | {g for g in info_by_group if g}
                   | set(policy_by_group), key=str.lower)
    for name in names:
        console.print()
        ids = sorted({gid for g, gid in by_group if g == name} | policy_ids.get(name, set()))
        console.print(
            f"[bold]{escape(name)}[/]" + (f" [dim]({', '.join(ids)})[/]" if ids else ""),
            highlight=False,
        )
        for rule_change in policy_by_group.get(name, []):
            print_policy_change(console, rule_change)
        for (group, _gid), changes in sorted(by_group.items()):
            if group != name:
                continue
            for c in changes:
                style = _STYLE[c.action]
                deferred = (
                    f"  [magenta]deferred until {format_shown_instant(c.not_before)}[/]"
                    if c.not_before
                    else ""
                )
                console.print(
                    f"  [{style}]{SYMBOLS[c.action]} {c.action:<6}[/] {c.kind:<8} {c.access:<6} "
                    f"{escape(c.principal)} [dim]({c.principal_type})[/]  "
                    f"{escape(lifetime_text(c, now))}{deferred}",
                    highlight=False,
                    soft_wrap=True,
                )
                console.print(f"      [dim]{escape(c.reason)}[/]", highlight=False, soft_wrap=True)
        for item in info_by_group.get(name, []):
            console.print(
                f"  [blue]i {item.code}[/] {escape(item.message)}", highlight=False, soft_wrap=True
            )
    orphan_info = info_by_group.get(None, [])
    for item in orphan_info:
        console.print(f"[blue]i {item.code}[/] {escape(item.message)}", highlight=False)
    if plan.problems:
        console.print()
        console.print("[bold]Problems[/]")
        print_problems(console, plan.problems)
