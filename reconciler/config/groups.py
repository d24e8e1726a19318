"""One group file -> `DesiredGroup`, with the offline semantic checks of format.md:
ambiguous principals, lifetimes (missing, conflicting, unsupported or too short durations),
`start` after `until`, and the same (access, kind, principal) written twice. The group's
`policy:` is read by `reconciler.config.policy`.

Runs after the schema pass on data of any shape: whatever has the wrong shape is skipped
here (the schema pass reported it), so the two passes never report the same thing twice.
"""

from __future__ import annotations

from typing import Any

from reconciler.config.fields import (
    entry_principal_text,
    principal_key,
    principal_text,
    read_instant,
    read_lifetime,
    read_principal,
)
from reconciler.config.policy import read_policies
from reconciler.config.report import FileReport, path_text
from reconciler.config.yamlsafe import Path_
from reconciler.desired.model import (
    Access,
    DesiredAssignment,
    DesiredGroup,
    Kind,
    Location,
    Mode,
    PrincipalRef,
    Settings,
    Ticket,
)
from reconciler.problems import Code

SECTIONS = (("members", Access.MEMBER), ("owners", Access.OWNER))

_Seen = dict[tuple[Access, Kind, tuple[str, str]], Location]


def read_group(
    report: FileReport,
    data: dict[str, Any],
    settings: Settings,
    defaults_stated: frozenset[Kind] = frozenset(),
) -> DesiredGroup | None:
    """Build the group of one file (top level already known to be a mapping).

    `defaults_stated` holds the kinds whose default lifetime the settings file states, even
    if it was invalid (so a broken default is reported once, not as `lifetime_missing` on
    every entry). Returns None when the file names no usable group.
    """
    group = data.get("group")
    group = group if isinstance(group, str) and group else None
    report.group = group
    mode_text = data.get("mode", Mode.AUTHORITATIVE.value)
    modes = {m.value: m for m in Mode}
    mode = (
        modes.get(mode_text, Mode.AUTHORITATIVE)
        if isinstance(mode_text, str)
        else Mode.AUTHORITATIVE
    )
    description = data.get("description")

    managed: set[tuple[Access, Kind]] = set()
    read: list[tuple[Path_, list[DesiredAssignment]]] = []
    seen: _Seen = {}
    for section_key, access in SECTIONS:
        section = data.get(section_key)
        if not isinstance(section, dict):
            continue
        for kind in Kind:
            entries = section.get(kind.value)
            if not isinstance(entries, list):
                continue
            managed.add((access, kind))
            for index, entry in enumerate(entries):
                if isinstance(entry, dict):
                    path = (section_key, kind.value, index)
                    read.append((path, _read_entry(
                            report,
                            entry,
                            path,
                            access,
                            kind,
                            settings,
                            kind in defaults_stated,
                            group or "",
                            seen,
                        )))
    policies, templates_usable = read_policies(report, data, settings)
    if group is None:
        return None
    assignments, incomplete, whole, policy_ok = _valid_parts(report, read)
    return DesiredGroup(
        group=group,
        mode=mode,
        managed=frozenset(managed),
        assignments=tuple(assignments),
        incomplete=incomplete,
        usable=whole,
        location=Location(report.file, report.line(("group",), key=True)),
        description=description if isinstance(description, str) else None,
        policies=policies if policy_ok and templates_usable else (),
    )


def _valid_parts(
    report: FileReport, read: list[tuple[Path_, list[DesiredAssignment]]]
) -> tuple[list[DesiredAssignment], frozenset[tuple[Access, Kind]], bool, bool]:
    """Split a file with errors into what can still be planned: the assignments of entries
    without an error, the (access, kind) sections holding an entry with an error (their
    removals are withheld: the broken entry may name a live assignment), whether the file
    is usable at all (False when an error is not inside an entry, a section or `policy:`,
    e.g. `group:`, `mode:`, an unknown top-level key or a parse error), and whether its
    `policy:` is (False on any error under it: none of the group's settings is planned,
    its assignments still are)."""
    accesses = dict(SECTIONS)
    kinds = {k.value: k for k in Kind}
    bad_entries: set[Path_] = set()
    incomplete: set[tuple[Access, Kind]] = set()
    usable = True
    policy_ok = True
    for path in report.error_paths:
        if path and path[0] == "policy":
            policy_ok = False
        elif len(path) >= 2 and path[0] in accesses and path[1] in kinds:
            incomplete.add((accesses[str(path[0])], kinds[str(path[1])]))
            if len(path) >= 3 and isinstance(path[2], int):
                bad_entries.add(path[:3])
        elif len(path) == 1 and path[0] in accesses:
            incomplete.update((accesses[str(path[0])], k) for k in Kind)
        else:
            usable = False
    kept = [a for path, got in read if path not in bad_entries for a in got]
    return kept, frozenset(incomplete), usable, policy_ok


def _principals(
    report: FileReport, entry: dict[str, Any], path: Path_
) -> list[tuple[PrincipalRef | None, str | None, Path_]]:
    out: list[tuple[PrincipalRef | None, str | None, Path_]] = []
    if "principal" in entry:
        p = (*path, "principal")
        value = entry["principal"]
        out.append((read_principal(report, value, p), principal_text(value), p))
    many = entry.get("principals")
    if isinstance(many, list):
        for i, value in enumerate(many):
            p = (*path, "principals", i)
            out.append((read_principal(report, value, p), principal_text(value), p))
    return out


def _read_entry(
    report: FileReport,
    entry: dict[str, Any],
    path: Path_,
    access: Access,
    kind: Kind,
    settings: Settings,
    default_stated: bool,
    group: str,
    seen: _Seen,
) -> list[DesiredAssignment]:
    who = entry_principal_text(entry)
    if ("principal" in entry) == ("principals" in entry):  # see schema.PRINCIPAL_ONE_OF
        report.add(
            Code.SCHEMA,
            f"{path_text(path)}: give exactly one of principal or principals",
            path,
            principal=who,
        )
    principals = _principals(report, entry, path)
    lifetime, stated = read_lifetime(report, entry, path, principal=who)
    if not stated:
        lifetime = settings.defaults.eligible if kind is Kind.ELIGIBLE else settings.defaults.active
        if lifetime is None and not default_stated:
            report.add(
                Code.LIFETIME_MISSING,
                f"no lifetime for this {kind} {access}: give permanent: true, until or duration "
                f"(or set defaults.{kind} in pim-reconciler.yaml)",
                path,
                principal=who,
            )
    start = read_instant(report, entry.get("start"), (*path, "start"), principal=who)
    if start and lifetime and lifetime.until and lifetime.until <= start:
        report.add(
            Code.SCHEMA,
            f"{path_text((*path, 'until'))}: until ({entry.get('until')}) must be after "
            f"start ({entry.get('start')})",
            (*path, "until"),
            principal=who,
        )
    justification = entry.get("justification")
    if not (isinstance(justification, str) and justification):
        justification = settings.defaults.justification
    ticket = _ticket(entry.get("ticket"))

    out: list[DesiredAssignment] = []
    for ref, text, p in principals:
        if ref is None:
            continue
        location = Location(report.file, report.line(p))
        key = (access, kind, principal_key(ref))
        first = seen.get(key)
        if first is not None:
            report.add(
                Code.DUPLICATE_ASSIGNMENT,
                f"{text} is declared twice as {kind} {access} of {group}: at {first} and at "
                f"{location}; keep one entry",
                p,
                principal=text,
            )
            continue
        seen[key] = location
        if lifetime is None:
            continue
        out.append(
            DesiredAssignment(
                access=access,
                kind=kind,
                principal=ref,
                lifetime=lifetime,
                location=location,
                start=start,
                justification=justification,
                ticket=ticket,
            )
        )
    return out


def _ticket(value: Any) -> Ticket | None:
    if not isinstance(value, dict):
        return None
    system, number = value.get("system"), value.get("number")
    system = system if isinstance(system, str) and system else None
    if isinstance(number, int) and not isinstance(number, bool):
        number = str(number)
    number = number if isinstance(number, str) and number else None
    return Ticket(system, number) if system or number else None
