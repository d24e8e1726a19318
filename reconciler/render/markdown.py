"""Plan as GitHub-flavoured markdown for a PR comment or job summary.

GitHub refuses comments over 65,536 characters, so the text is cut at group boundaries
below `LIMIT` with a note saying how much was left out.
"""

from __future__ import annotations

from collections import defaultdict

from reconciler.durations import format_shown_instant
from reconciler.plan.changes import Action, Plan, PolicyChange
from reconciler.render.common import (
    DEFERRED_NOTE,
    flags,
    lifetime_text,
    plural,
    policy_fields,
)

LIMIT = 60_000
LOOSENS_MARK = "⚠️ loosens"
_LISTED_LOOSENING = 10  # loosening rule changes named in the top-line warning
COMMENT_MARKER = "<!-- pim-reconciler-plan -->"
_FLAG_LABELS = {
    "owner": "🔑 owner",
    "permanent": "♾️ permanent",
    "active": "⚡ active",
    "removal": "🗑️ removal",
    "deferred": "⏳ deferred",
}


def _cell(text: str) -> str:
    """Text safe inside a table cell: no pipes, newlines, HTML or stray backticks (names come
    from the tenant, and a crafted display name must not reshape the comment)."""
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace("|", "\\|").replace("`", "'").replace("\n", " "))


def _policy_table(changes: list[PolicyChange]) -> list[str]:
    """The group's PIM settings changes: one row per rule field, `before` and `after`."""
    lines = [
        "**PIM settings**",
        "",
        "| | access | rule | field | before | after | why |",
        "|---|---|---|---|---|---|---|",
    ]
    for c in changes:
        why = c.reason + (f" ({c.file}:{c.line})" if c.file and c.line else "")
        for i, (name, before, after) in enumerate(policy_fields(c)):
            lines.append(
                f"| {LOOSENS_MARK if c.loosens else ''} | {c.access} | `{_cell(c.rule)}` "
                f"| {_cell(name)} | {_cell(before)} | {_cell(after)} "
                f"| {_cell(why) if i == 0 else ''} |"
            )
    lines.append("")
    return lines


def _loosening_warning(plan: Plan) -> list[str]:
    """A top-line warning naming the rule changes that loosen control; empty when none do."""
    loosening = [c for c in plan.policy_changes if c.loosens]
    if not loosening:
        return []
    named = ", ".join(f"{_cell(c.group)} {c.access} `{_cell(c.rule)}`"
                      for c in loosening[:_LISTED_LOOSENING])
    more = len(loosening) - _LISTED_LOOSENING
    if more > 0:
        named += f" and {more} more"
    verb = "loosens" if len(loosening) == 1 else "loosen"
    return [f"> ⚠️ **{plural(len(loosening), 'PIM settings change')} {verb} control:** {named} "
            f"(marked {LOOSENS_MARK} below).", ""]


def render_markdown(plan: Plan, *, title: str = "PIM plan") -> str:
    """A summary table, flags, per-group tables of PIM settings changes and assignment
    changes, information and problems."""
    now = plan.generated_at
    s = plan.summary()
    head = [COMMENT_MARKER, f"## {title}", ""]
    verdict = (
        "❌ **The plan has errors: apply will refuse it.**"
        if plan.errors
        else "✅ No changes."
        if not plan.changes and not plan.policy_changes
        else "Changes below need review."
    )
    head += [verdict, "", *_loosening_warning(plan)]
    if plan.scope is not None:  # a shard's or --only's comment says what it covers
        head += [f"**Scope:** {_cell(plan.scope.describe())}", ""]
    if s["policy"]:  # the columns appear only when there are policy changes
        head += [
            "| create | renew | update | remove | deferred | policy rules | loosening "
            "| errors | warnings |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
            f"| {s['create']} | {s['renew']} | {s['update']} | {s['remove']} | {s['deferred']} "
            f"| {s['policy']} | {s['loosening']} | {s['errors']} | {s['warnings']} |",
            "",
        ]
    else:
        head += [
            "| create | renew | update | remove | deferred | errors | warnings |",
            "|---:|---:|---:|---:|---:|---:|---:|",
            f"| {s['create']} | {s['renew']} | {s['update']} | {s['remove']} | {s['deferred']} "
            f"| {s['errors']} | {s['warnings']} |",
            "",
        ]
    flagged = defaultdict(int)
    for change in plan.changes:
        for flag in flags(change):
            flagged[flag] += 1
    if flagged:
        head.append(
            "Flags: " + ", ".join(f"{_FLAG_LABELS[f]} × {n}" for f, n in sorted(flagged.items()))
        )
        head.append("")
    if s["deferred"]:
        head += [f"⏳ {DEFERRED_NOTE[0].upper()}{DEFERRED_NOTE[1:]}.", ""]
    valid = f"; valid until {format_shown_instant(plan.valid_until)}" if plan.valid_until else ""
    head += [
        f"<sub>generated {format_shown_instant(now)}{valid}; checksum `{plan.checksum[:12]}`</sub>",
        "",
    ]

    sections: list[str] = []
    if plan.problems:
        lines = ["### Problems", "", "| severity | code | where | message |", "|---|---|---|---|"]
        for p in plan.problems:
            lines.append(
                f"| {p.severity} | `{p.code}` | `{_cell(p.where())}` | {_cell(p.message)} |"
            )
        sections.append("\n".join(lines) + "\n")
    groups: dict[str, list] = defaultdict(list)
    for change in plan.changes:
        groups[change.group].append(change)
    policies: dict[str, list[PolicyChange]] = defaultdict(list)
    for rule_change in plan.policy_changes:
        policies[rule_change.group].append(rule_change)
    infos: dict[str, list] = defaultdict(list)
    for item in plan.info:
        infos[item.group or "(tenant)"].append(item)
    for name in sorted(set(groups) | set(infos) | set(policies), key=str.lower):
        lines = [f"### {_cell(name)}", ""]
        if policies.get(name):
            lines += _policy_table(policies[name])
            if groups.get(name):
                lines += ["**Assignments**", ""]
        if groups.get(name):
            lines += [
                "| | action | kind | access | principal | lifetime | why | flags |",
                "|---|---|---|---|---|---|---|---|",
            ]
            for c in groups[name]:
                when = f"; not before {format_shown_instant(c.not_before)}" if c.not_before else ""
                why = c.reason
                if c.action is not Action.REMOVE and c.justification:
                    why += f"; justification: {c.justification}"
                if c.action is not Action.REMOVE and c.ticket_number:
                    why += f"; ticket: {c.ticket_system or ''} {c.ticket_number}".replace("  ", " ")
                lines.append(
                    f"| {'⏳' if c.not_before else ''} | **{c.action}** | {c.kind} | {c.access} "
                    f"| `{_cell(c.principal)}` ({c.principal_type}) "
                    f"| {_cell(lifetime_text(c, now))}{when} | {_cell(why)} "
                    f"| {', '.join(_FLAG_LABELS[f] for f in flags(c))} |"
                )
            lines.append("")
        for item in infos.get(name, []):
            lines.append(f"- ℹ️ `{item.code}`: {_cell(item.message)}")
        sections.append("\n".join(lines) + "\n")

    out = "\n".join(head)
    for i, section in enumerate(sections):
        if len(out) + len(section) > LIMIT:
            left = len(sections) - i
            out += (
                f"\n> ⚠️ Output truncated: {left} more section(s) left out to stay under "
                "GitHub's comment limit. See the JSON plan artifact for everything.\n"
            )
            break
        out += "\n" + section
    return out
