"""Export: live PIM state -> canonical group files (adopting an existing tenant).

A `plan` on the exported files right after the export plans nothing (peribolos `--dump`
style): each file declares all four sections (members/owners x eligible/active), so every
section is managed, and lists exactly the admin-made direct rows that have not lapsed.
Activated and inherited rows are never managed (graph-pim-reference.md section 7) and are
left out; so are rows whose end has passed (PIM removes them by itself).

Principals are written as the planner will resolve them back to the same object:
- users by UPN (unique in a tenant);
- groups and service principals as `{group: NAME}` / `{servicePrincipal: NAME}` when the
  display name resolves to exactly that one object in the tenant (checked through the
  backend), otherwise by object id (as are principals Graph could not name, e.g. deleted).
The group itself is named by display name when that is unique, by object id otherwise.
Lifetimes are `permanent: true` (no end) or `until:` (UTC, `Z`, whole seconds); a future
start is kept as `start:`. Rolling `duration` entries cannot be told from live state.

With `policies=True` each file also gets a `policy:` block: every managed PIM-settings field
of the group's two role management policies that differs from a new group's defaults
(`reconciler.config.export_policy`), approvers written like principals.

Layers: `collect` (async, reads through a `GraphBackend`), `render_group_file` (pure),
`write_exports` (files).
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from reconciler.config.export_policy import policy_block, render_policy
from reconciler.desired.model import Access, DesiredGroup, Kind, Mode, PrincipalRef, PrincipalType
from reconciler.desired.policy import Approver, ApproverType
from reconciler.graph.resolver import is_object_id
from reconciler.live.model import DirectoryObject, LiveGroup, LiveSchedule, LiveState, Resolution
from reconciler.problems import Code, Problem, error

SECTIONS = ((Access.MEMBER, "members"), (Access.OWNER, "owners"))
KINDS = (Kind.ELIGIBLE, Kind.ACTIVE)
DEFAULT_SCHEMA_PATH = Path("schemas") / "assignments.schema.json"


class ExportBackend(Protocol):
    """The narrow part of `reconciler.graph.backend.GraphBackend` export needs."""

    async def resolve(self, groups: Sequence[str], principals: Sequence[PrincipalRef]
                      ) -> Resolution: ...

    async def read(self, group_ids: Sequence[str]) -> LiveState: ...


@dataclass(frozen=True, slots=True)
class ExportedEntry:
    """One assignment as written: `principal` is a UPN / object id string, or a one-key
    mapping `{group|servicePrincipal: name}`; `until` None means permanent."""

    principal: str | tuple[str, str]
    until: datetime | None
    start: datetime | None = None

    def sort_key(self) -> tuple[str, str]:
        if isinstance(self.principal, tuple):
            return (self.principal[1].lower(), self.principal[0])
        return (self.principal.lower(), "")


@dataclass(frozen=True, slots=True)
class ExportedGroup:
    """One group file: `group` is the name or id written; `sections` maps (access, kind) to
    its entries in canonical order: all four sections, or (exported `like` an existing file)
    the sections that file manages, with its `mode` and `description`."""

    group_id: str
    display_name: str
    group: str
    sections: Mapping[tuple[Access, Kind], tuple[ExportedEntry, ...]]
    slug: str
    mode: Mode = Mode.AUTHORITATIVE
    description: str | None = None
    policy: Mapping[Access, Mapping[str, Any]] = field(default_factory=dict)
    """`policy.<access>` blocks (`reconciler.config.export_policy.policy_block`); empty
    unless exported with policies."""


def slug(name: str) -> str:
    """File-name slug of a group name: ASCII, lower case, runs of other characters -> `-`
    (`PIM-Platform-Admins` -> `pim-platform-admins`); `group` when nothing is left."""
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    text = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return text or "group"


async def collect(
    backend: ExportBackend, refs: Sequence[str], now: datetime,
    like: Mapping[str, DesiredGroup] | None = None, *, policies: bool = False,
) -> tuple[list[ExportedGroup], list[Problem]]:
    """Resolve `refs` (group names or object ids), read their live state and build one
    `ExportedGroup` per group that resolved to exactly one manageable group, in the order of
    `refs`. `now` (UTC) decides which rows have lapsed.

    Problems (errors): `group_not_found`, `group_ambiguous`, `group_not_manageable`, and
    what resolution hit (e.g. `permission_denied`). `like` maps a ref to the desired group
    file it comes from (`--all-managed`): the export keeps that file's mode, description and
    managed sections, so an unmanaged section stays unmanaged. `policies` adds each group's
    `policy:` block (fields differing from a new group's defaults). Raises
    `reconciler.graph.errors.GraphError` when the tenant cannot be read completely.
    """
    resolution = await backend.resolve(list(dict.fromkeys(refs)), [])
    problems = list(resolution.problems)
    groups: dict[str, LiveGroup] = {}
    ref_of: dict[str, str] = {}
    for ref in dict.fromkeys(refs):
        found = _one_group(ref, resolution, problems)
        if found is not None:
            groups.setdefault(found.id, found)
            ref_of.setdefault(found.id, ref)
    if not groups:
        return [], problems
    live = await backend.read(list(groups))
    rows = [r for r in live.schedules
            if r.group_id in groups and r.managed and (r.end is None or r.end > now)]

    # Display names of groups / service principals, checked for uniqueness in the tenant.
    named: dict[PrincipalRef, str] = {}
    approver_ids = {a.id for (gid, _), pol in live.policies.items() if policies and gid in groups
                    for fields in pol.settings.values() for a in fields.get("approvers") or ()}
    for principal_id in [r.principal_id for r in rows] + sorted(approver_ids):
        obj = live.principals.get(principal_id)
        if obj and obj.type in (PrincipalType.GROUP, PrincipalType.SERVICE_PRINCIPAL):
            named[PrincipalRef(obj.type, obj.display_name)] = obj.id
    group_names = [g.display_name for g in groups.values() if not is_object_id(g.display_name)]
    lookups = await backend.resolve(group_names, list(named))
    problems.extend(lookups.problems)
    unique = {ref for ref, oid in named.items()
              if _unique_match(lookups.principals.get(ref), oid)}

    exported = []
    used_slugs: set[str] = set()
    for gid, group in groups.items():
        own = [r for r in rows if r.group_id == gid]
        name_ok = (not is_object_id(group.display_name)
                   and _unique_match(lookups.groups.get(group.display_name), gid))
        file_slug = slug(group.display_name)
        if file_slug in used_slugs:
            file_slug = f"{file_slug}-{gid[:8]}"
        used_slugs.add(file_slug)
        template = (like or {}).get(ref_of[gid])
        sections = {
            (access, kind): tuple(sorted(
                (_entry(r, live.principals, unique, now) for r in own
                 if r.access is access and r.kind is kind),
                key=ExportedEntry.sort_key))
            for access, _ in SECTIONS for kind in KINDS
            if template is None or (access, kind) in template.managed
        }
        blocks = {}
        if policies:
            def approver_text(approver: Approver) -> str | tuple[str, str]:
                return _approver(approver, live.principals, unique)

            blocks = {access: policy_block(pol.settings, approver_text) for access in Access
                      if (pol := live.policies.get((gid, access))) is not None}
        exported.append(ExportedGroup(
            gid, group.display_name, group.display_name if name_ok else gid, sections,
            file_slug, mode=template.mode if template else Mode.AUTHORITATIVE,
            description=template.description if template else None, policy=blocks))
    return exported, problems


def _approver(approver: Approver, principals: Mapping[str, DirectoryObject],
              unique: set[PrincipalRef]) -> str | tuple[str, str]:
    """A user approver by UPN, a group by `{group: NAME}` when that name is unique, else
    the object id (as the planner resolves approvers back)."""
    obj = principals.get(approver.id)
    if obj is None:
        return approver.id
    if approver.type is ApproverType.USER and obj.user_principal_name:
        return obj.user_principal_name
    ref = PrincipalRef(PrincipalType.GROUP, obj.display_name)
    if (approver.type is ApproverType.GROUP and ref in unique
            and not is_object_id(obj.display_name)):
        return (str(PrincipalType.GROUP), obj.display_name)
    return approver.id


def _one_group(ref: str, resolution: Resolution, problems: list[Problem]) -> LiveGroup | None:
    if ref not in resolution.groups:
        return None  # the lookup was refused; resolution.problems says why
    matches = resolution.groups[ref]
    if not matches:
        problems.append(error(Code.GROUP_NOT_FOUND,
                              f"no group named or with id '{ref}' exists in the tenant",
                              group=ref))
        return None
    if len(matches) > 1:
        ids = ", ".join(sorted(g.id for g in matches))
        problems.append(error(Code.GROUP_AMBIGUOUS,
                              f"{len(matches)} groups are named '{ref}' ({ids}); give the "
                              "object id instead", group=ref))
        return None
    reason = matches[0].unmanageable_reason
    if reason:
        problems.append(error(Code.GROUP_NOT_MANAGEABLE,
                              f"group '{ref}' cannot be managed by PIM for Groups: {reason}",
                              group=ref))
        return None
    return matches[0]


def _unique_match(matches: Sequence[LiveGroup | DirectoryObject] | None, oid: str) -> bool:
    return bool(matches) and len(matches) == 1 and matches[0].id == oid  # type: ignore[arg-type]


def _entry(row: LiveSchedule, principals: Mapping[str, DirectoryObject],
           unique: set[PrincipalRef], now: datetime) -> ExportedEntry:
    obj = principals.get(row.principal_id)
    principal: str | tuple[str, str] = row.principal_id
    if obj is not None:
        if obj.type is PrincipalType.USER and obj.user_principal_name:
            principal = obj.user_principal_name
        elif (obj.type in (PrincipalType.GROUP, PrincipalType.SERVICE_PRINCIPAL)
              and PrincipalRef(obj.type, obj.display_name) in unique
              and not is_object_id(obj.display_name)):
            principal = (str(obj.type), obj.display_name)
    start = row.start if row.start is not None and row.start > now else None
    return ExportedEntry(principal, row.end, start)


# --- rendering (pure) ---------------------------------------------------------------------


_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_.@+-]*$")
_YAML_WORDS = {"true", "false", "yes", "no", "on", "off", "null", "y", "n", "~"}


def _scalar(text: str) -> str:
    """A YAML scalar for `text`: plain when unambiguous, else double-quoted (JSON escaping)."""
    if _PLAIN.match(text) and text.lower() not in _YAML_WORDS:
        return text
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def _instant(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def render_group_file(group: ExportedGroup, schema_ref: str | None) -> str:
    """The canonical YAML text of one group file (see `schemas/assignments.schema.json`),
    with a `# yaml-language-server: $schema=<schema_ref>` modeline when `schema_ref` is given.
    Sections in the order members, owners x eligible, active; an empty section is `[]`."""
    lines = []
    if schema_ref:
        lines.append(f"# yaml-language-server: $schema={schema_ref}")
    lines.append(f"# Exported by pim-reconciler from group {group.group_id}.")
    lines.append(f"group: {_scalar(group.group)}")
    if group.description:
        lines.append(f"description: {_scalar(group.description)}")
    elif group.group != group.display_name:
        lines.append(f"description: {_scalar(group.display_name)}")
    if group.mode is not Mode.AUTHORITATIVE:
        lines.append(f"mode: {group.mode}")
    lines += render_policy(group.policy, _scalar)
    for access, key in SECTIONS:
        kinds = [kind for kind in KINDS if (access, kind) in group.sections]
        if not kinds:
            continue  # not managed by the file this export follows
        lines.append(f"{key}:")
        for kind in kinds:
            entries = group.sections[(access, kind)]
            if not entries:
                lines.append(f"  {kind}: []")
                continue
            lines.append(f"  {kind}:")
            for e in entries:
                if isinstance(e.principal, tuple):
                    who = f"{{ {e.principal[0]}: {_scalar(e.principal[1])} }}"
                else:
                    who = _scalar(e.principal)
                lines.append(f"    - principal: {who}")
                if e.start is not None:
                    lines.append(f"      start: {_instant(e.start)}")
                if e.until is None:
                    lines.append("      permanent: true")
                else:
                    lines.append(f"      until: {_instant(e.until)}")
    return "\n".join(lines) + "\n"


def default_schema_ref(out_dir: str | Path, schema: str | Path = DEFAULT_SCHEMA_PATH) -> str:
    """The modeline path from `out_dir/groups/` to `schema` (relative to the working
    directory, i.e. a repository root holding `schemas/`), with forward slashes."""
    groups_dir = Path(out_dir) / "groups"
    return Path(os.path.relpath(Path(schema).absolute(), groups_dir.absolute())).as_posix()


# --- files --------------------------------------------------------------------------------


def target_paths(groups: Sequence[ExportedGroup], out_dir: str | Path) -> list[Path]:
    """`out_dir/groups/<slug>.yaml` for each group, in order."""
    return [Path(out_dir) / "groups" / f"{g.slug}.yaml" for g in groups]


def write_exports(groups: Sequence[ExportedGroup], out_dir: str | Path, *,
                  schema_ref: str | None, force: bool = False) -> list[Path]:
    """Write one file per group under `out_dir/groups/`; returns the paths written.

    Raises `FileExistsError` naming every existing file (before writing any) unless `force`.
    """
    paths = target_paths(groups, out_dir)
    existing = [p for p in paths if p.exists()]
    if existing and not force:
        raise FileExistsError(", ".join(str(p) for p in existing))
    for group, path in zip(groups, paths, strict=True):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render_group_file(group, schema_ref), encoding="utf-8")
    return paths
