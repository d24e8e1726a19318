"""The pre-flight checks of `doctor`: one `Check` each, in a fixed order.

1. credential: which target; for Graph which `--credential` (azure-identity class) got a
   token, for which app (`appid`/`azp` claim) and tenant (`tid`), with which roles (`roles`);
2. Graph reachable: one cheap GET (`GraphBackend.ping`), Graph's error code if it fails;
3. clock: the injected clock against the answer's `Date` header: more than 5 minutes apart
   fails (PIM's five-minute rules and every planned time depend on it), more than 1 warns;
4. permissions: each one the command needs (`reconciler.graph.permissions.REQUIRED`), from
   the token's roles where known, else by probing the read that needs it (a 403 names it);
5. groups: each declared group found exactly once, not dynamic, not synced from on-premises,
   and onboarded to PIM (it has role management policies: reference 3.2, 4.1);
6. licences: each user made eligible holds Entra ID P2 or ID Governance
   (`license_missing`, a warning, as in `plan`).

Time is injected (`now`); the backend is the only door to the tenant. Nothing here prints.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from reconciler.clock import Clock, SystemClock
from reconciler.desired.model import DesiredState, Kind, PrincipalType
from reconciler.graph.auth import WHAT_TO_SET, AuthenticationFailed, CredentialConfigError
from reconciler.graph.backend import GraphBackend, Probe
from reconciler.graph.errors import GraphError
from reconciler.graph.permissions import Requirement, required_permissions
from reconciler.live.model import Resolution
from reconciler.plan.licences import REQUIRED_LICENCE, licence_problem
from reconciler.plan.resolve import collect_principals
from reconciler.targets import Target, TargetError, open_backend

SKEW_FAIL = timedelta(minutes=5)
"""Clock skew that fails: PIM's five-minute rules (format.md) cannot be judged past it."""
SKEW_WARN = timedelta(minutes=1)
COMMANDS = ("plan", "apply")


class Status(StrEnum):
    OK = "ok"
    WARNING = "warning"
    FAIL = "fail"


@dataclass(frozen=True, slots=True)
class Check:
    """One line of the report. `check` is the kind (`credential`, `graph`, `clock`,
    `permission`, `group`, `licence`), `message` what was checked and found, `fix` what to
    grant, set or change (for a warning or failure), `subject` the permission or group it is
    about, `file`/`line` the declaring file where there is one."""

    check: str
    status: Status
    message: str
    fix: str | None = None
    subject: str | None = None
    file: str | None = None
    line: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"check": self.check, "status": str(self.status), "message": self.message,
                "fix": self.fix, "subject": self.subject, "file": self.file, "line": self.line}


@dataclass(frozen=True, slots=True)
class DoctorReport:
    """Every check of one run: `command` checked for ("plan" | "apply"), `target` named,
    `checked_at` the injected clock's time (UTC)."""

    command: str
    target: str
    checked_at: datetime
    checks: tuple[Check, ...] = field(default_factory=tuple)

    @property
    def passed(self) -> bool:
        """No check failed (warnings allowed)."""
        return not any(c.status is Status.FAIL for c in self.checks)

    def exit_code(self) -> int:
        """0 when every check passed (warnings allowed), 1 otherwise."""
        return 0 if self.passed else 1

    def counts(self) -> dict[str, int]:
        return {str(s): sum(1 for c in self.checks if c.status is s) for s in Status}

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: command, target, checked_at (ISO 8601 UTC), passed, counts, checks."""
        return {
            "command": self.command,
            "target": self.target,
            "checked_at": _iso(self.checked_at),
            "passed": self.passed,
            "counts": self.counts(),
            "checks": [c.to_dict() for c in self.checks],
        }


def describe_target(target: Target) -> str:
    """One phrase naming the target: the emulator's tenant file, the URL, or Graph."""
    if target.kind == "emulator":
        return f"in-process emulator serving {target.emulator_file}"
    if target.kind == "url":
        return f"Graph-compatible URL {target.graph_url} (anonymous)"
    return "Microsoft Graph" + (f" (tenant {target.tenant})" if target.tenant else "")


async def run_doctor(desired: DesiredState, target: Target, now: datetime | None,
                     command: str = "plan", clock: Clock | None = None) -> DoctorReport:
    """Open `target` and run every check for `command`.

    `now` (UTC) is the pinned clock (`--now`); None means the clock a plan would use: the
    system clock for Graph, the tenant file's own clock for the emulator. The emulator keeps
    its file's clock either way, so a pinned clock far from the tenant's shows as skew. A
    credential or target that cannot be opened is the failed first check, not an exception
    (the report is then dated by `clock`, default the system clock). Raises `ValueError` for
    an unknown command."""
    if command not in COMMANDS:
        raise ValueError(f"command must be one of {COMMANDS}, not {command!r}")
    name = describe_target(target)
    at = now
    try:
        async with open_backend(target) as backend:
            at = now or backend.clock.now()
            checks = await run_checks(desired, backend, command=command, target=target,
                                      now=at)
    except CredentialConfigError as exc:
        checks = [Check("credential", Status.FAIL,
                        f"--credential {target.credential}: cannot be built: {exc}",
                        fix=WHAT_TO_SET.get(target.credential, "choose --credential"))]
    except TargetError as exc:
        checks = [Check("credential", Status.FAIL, f"target {name}: {exc}",
                        fix="check the tenant file (--emulator FILE)")]
    return DoctorReport(command, name, at or (clock or SystemClock()).now(), tuple(checks))


async def run_checks(desired: DesiredState, backend: GraphBackend, *, command: str,
                     target: Target, now: datetime) -> list[Check]:
    """The checks in order (module docstring), against an open `backend`; `now` is the
    injected clock's time (UTC). Stops after a failed credential or an unreachable Graph
    (nothing after them can be judged)."""
    checks: list[Check] = []
    roles, credential = await _credential(backend, target)
    checks.append(credential)
    if credential.status is Status.FAIL:
        return checks

    ping = await backend.ping()
    if ping.status is None or ping.status == 401:
        err = ping.error
        detail = f"{err.code or 'error'}: {err.message}" if err else "no answer"
        checks.append(Check(
            "graph", Status.FAIL, f"Graph at {backend.base_url} did not answer ({detail})",
            fix="check the network, proxy or --graph-url" if ping.status is None
            else "the token was refused: check the tenant and the app's sign-in"))
        return checks
    checks.append(Check("graph", Status.OK,
                        f"Graph at {backend.base_url} answered (HTTP {ping.status})"))
    checks.append(_clock(now, ping.server_time))

    try:
        resolution = await backend.resolve(list(dict.fromkeys(g.group for g in desired.groups)),
                                           collect_principals(desired))
    except GraphError as exc:
        resolution = None
        checks.append(Check("group", Status.FAIL,
                            f"resolving the files' groups and principals failed: {exc}",
                            fix="see the error; run doctor again"))
    group_ids = _group_ids(desired, resolution)
    checks.extend(await _permissions(desired, backend, command, roles, group_ids))
    if resolution is not None:
        checks.extend(await _groups(desired, backend, resolution))
        checks.extend(_licences(desired, resolution))
    return checks


# --- 1. credential -----------------------------------------------------------------------


async def _credential(backend: GraphBackend, target: Target
                      ) -> tuple[frozenset[str] | None, Check]:
    """(the token's roles, None when unknown; the credential check)."""
    try:
        claims = await backend.token_claims()
    except AuthenticationFailed as exc:
        return None, Check("credential", Status.FAIL, f"no token: {exc.line()}",
                           fix=WHAT_TO_SET.get(exc.kind, "choose --credential"))
    roles: frozenset[str] | None = None
    if claims is not None:
        raw = claims.get("roles")
        roles = frozenset(str(r) for r in raw) if isinstance(raw, list) else frozenset()
    else:
        roles = await backend.granted_permissions()
    who = ""
    if claims is not None:
        app = claims.get("appid") or claims.get("azp") or "?"
        who = f" for app {app} in tenant {claims.get('tid') or '?'}"
    roles_text = (f"; token roles: {', '.join(sorted(roles))}" if roles
                  else "; the token carries no roles" if roles is not None
                  else "; token roles unknown (permissions are probed)")
    named = backend.credential_name
    if target.kind == "graph" and named is not None:
        what = f"token obtained with --credential {named[0]} ({named[1]}){who}"
    elif named is not None:
        what = f"target: {describe_target(target)}; token obtained ({named[1]}){who}"
    else:
        what = f"target: {describe_target(target)}, anonymous (no sign-in)"
    return roles, Check("credential", Status.OK, what + roles_text)


# --- 3. clock ----------------------------------------------------------------------------


def _clock(now: datetime, server_time: datetime | None) -> Check:
    if server_time is None:
        return Check("clock", Status.WARNING, "Graph's answer had no Date header: clock skew "
                     "not checked", fix="none needed unless plans show odd times")
    skew = now - server_time
    ahead = "ahead of" if skew > timedelta(0) else "behind"
    size = abs(skew)
    text = (f"this clock ({_iso(now)}) is {_span(size)} {ahead} Graph's (Date header "
            f"{_iso(server_time)})")
    fix = ("synchronise this machine's clock (NTP), or pass a --now close to the tenant's "
           "time; PIM's five-minute rules and every planned time depend on it")
    if size > SKEW_FAIL:
        return Check("clock", Status.FAIL, text + "; more than 5 minutes", fix=fix)
    if size > SKEW_WARN:
        return Check("clock", Status.WARNING, text + "; more than 1 minute", fix=fix)
    return Check("clock", Status.OK, f"clock within {_span(size)} of Graph's (Date header)")


def _iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def _span(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 172800:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} days"


# --- 4. permissions ----------------------------------------------------------------------


def conditions(desired: DesiredState) -> set[str]:
    """Which `Requirement.when` conditions the files meet: principals by type (`users`,
    `service_principals`, `ids`), sections managed (`eligible`, `active`), `policies`."""
    met: set[str] = set()
    for ref in collect_principals(desired):
        met.add({PrincipalType.USER: "users", PrincipalType.SERVICE_PRINCIPAL:
                 "service_principals", PrincipalType.ID: "ids"}.get(ref.type, "groups"))
    for group in desired.groups:
        for _access, kind in group.managed:
            met.add("eligible" if kind is Kind.ELIGIBLE else "active")
        if group.policies:
            met.add("policies")
    if desired.settings.defaults.policy:
        met.add("policies")
    return met


async def _permissions(desired: DesiredState, backend: GraphBackend, command: str,
                       roles: frozenset[str] | None, group_ids: Sequence[str]) -> list[Check]:
    needed = required_permissions(command, conditions(desired))
    if roles is not None:
        return [_by_roles(req, roles) for req in needed]
    names = [r.probe for r in needed if r.probe]
    try:
        probes = await backend.probe(names, group_ids[0] if group_ids else None)
    except GraphError as exc:
        return [Check("permission", Status.WARNING, f"{r.permission}: not checked ({exc})",
                      fix="run doctor again", subject=r.permission) for r in needed]
    return [_by_probe(req, probes.get(req.probe) if req.probe else None) for req in needed]


def _grant(req: Requirement) -> str:
    also = f" (or one that covers it: {', '.join(req.covered_by)})" if req.covered_by else ""
    return f"grant the application permission {req.permission}{also} and give admin consent"


def _by_roles(req: Requirement, roles: frozenset[str]) -> Check:
    if req.granted(roles):
        via = req.permission if req.permission in roles else next(
            c for c in req.covered_by if c in roles)
        extra = "" if via == req.permission else f" (through {via})"
        return Check("permission", Status.OK, f"{req.permission}{extra}: {req.need}",
                     subject=req.permission)
    return Check("permission", Status.FAIL,
                 f"{req.permission} missing: needed to {req.need}",
                 fix=_grant(req), subject=req.permission)


def _by_probe(req: Requirement, probe: Probe | None) -> Check:
    if probe is None:
        return Check("permission", Status.WARNING,
                     f"{req.permission}: not checked (the token's roles are unknown and no "
                     f"read needs it); needed to {req.need}",
                     fix=f"make sure the application has {req.permission}",
                     subject=req.permission)
    err = probe.error
    if err is None:
        return Check("permission", Status.OK,
                     f"{req.permission}: {req.need} (a probe read was allowed)",
                     subject=req.permission)
    if err.status == 403:
        said = err.inner_code or err.code or "Forbidden"
        return Check("permission", Status.FAIL,
                     f"{req.permission} missing: needed to {req.need}; Graph refused the "
                     f"probe read (403 {said}: {err.message})",
                     fix=_grant(req), subject=req.permission)
    return Check("permission", Status.WARNING,
                 f"{req.permission}: not checked; the probe read failed "
                 f"({err.status or ''} {err.code or 'error'}: {err.message})",
                 fix="run doctor again", subject=req.permission)


# --- 5. groups ---------------------------------------------------------------------------


def _group_ids(desired: DesiredState, resolution: Resolution | None) -> list[str]:
    if resolution is None:
        return []
    ids = []
    for group in desired.groups:
        matches = resolution.groups.get(group.group) or ()
        if len(matches) == 1:
            ids.append(matches[0].id)
    return list(dict.fromkeys(ids))


async def _groups(desired: DesiredState, backend: GraphBackend,
                  resolution: Resolution) -> list[Check]:
    checks: list[Check] = []
    manageable: dict[str, tuple[str, str, int | None]] = {}  # id -> (name, file, line)
    for group in desired.groups:
        loc = {"subject": group.group, "file": group.location.file, "line": group.location.line}
        if group.group not in resolution.groups:
            checks.append(Check("group", Status.FAIL,
                                f"'{group.group}': the lookup was refused",
                                fix="grant Group.Read.All (see the permission checks)", **loc))
            continue
        matches = resolution.groups[group.group]
        if not matches:
            checks.append(Check("group", Status.FAIL,
                                f"'{group.group}' not found in the tenant",
                                fix=f"correct the name or object id in {group.location}, or "
                                "create the group", **loc))
            continue
        if len(matches) > 1:
            ids = ", ".join(sorted(g.id for g in matches))
            checks.append(Check("group", Status.FAIL,
                                f"'{group.group}' is ambiguous: {len(matches)} groups "
                                f"have that name ({ids})",
                                fix=f"write the object id instead of the name in "
                                f"{group.location}", **loc))
            continue
        live = matches[0]
        reason = live.unmanageable_reason
        if reason:
            checks.append(Check("group", Status.FAIL,
                                f"'{group.group}' cannot be managed by PIM for Groups: "
                                f"{reason}",
                                fix="PIM for Groups manages cloud-only groups with assigned "
                                "membership: use such a group, or remove this file", **loc))
            continue
        manageable[live.id] = (group.group, group.location.file, group.location.line)
    try:
        counts = await backend.policy_counts(list(manageable))
    except GraphError as exc:
        return checks + [Check("group", Status.WARNING,
                               f"'{name}': onboarding to PIM not checked ({exc})",
                               subject=name, file=file, line=line)
                         for name, file, line in manageable.values()]
    for gid, (name, file, line) in manageable.items():
        loc = {"subject": name, "file": file, "line": line}
        probe = counts.get(gid)
        if probe is not None and probe.error is not None:
            checks.append(Check("group", Status.WARNING,
                                f"'{name}' ({gid}) found and manageable; onboarding to "
                                f"PIM not checked ({probe.error.code or probe.error.status})",
                                fix="see the permission checks", **loc))
        elif probe is not None and probe.items == 0:
            checks.append(Check("group", Status.FAIL,
                                f"'{name}' ({gid}) is not onboarded to PIM: it has no "
                                "role management policy yet",
                                fix="onboard it (Entra admin center: ID Governance > "
                                "Privileged Identity Management > Groups > Discover groups), "
                                "or, if that was just done, wait a few minutes for it to "
                                "replicate", **loc))
        else:
            checks.append(Check("group", Status.OK,
                                f"'{name}' ({gid}) found, manageable, onboarded to PIM",
                                **loc))
    return checks


# --- 6. licences -------------------------------------------------------------------------


def _licences(desired: DesiredState, resolution: Resolution) -> list[Check]:
    checks: list[Check] = []
    checked: set[str] = set()
    unknown: set[str] = set()
    for group in desired.groups:
        matches = resolution.groups.get(group.group) or ()
        group_name = matches[0].display_name if len(matches) == 1 else group.group
        for entry in group.assignments:
            if entry.kind is not Kind.ELIGIBLE:
                continue
            objs = resolution.principals.get(entry.principal) or ()
            if len(objs) != 1 or objs[0].type is not PrincipalType.USER:
                continue
            obj = objs[0]
            if obj.service_plans is None:
                unknown.add(obj.id)
                continue
            checked.add(obj.id)
            problem = licence_problem(obj, group_name, file=entry.location.file,
                                      line=entry.location.line, group=group.group,
                                      principal=entry.principal.value)
            if problem is not None:
                checks.append(Check("licence", Status.WARNING,
                                    f"license_missing: {problem.message}",
                                    fix=f"assign {obj.name} a {REQUIRED_LICENCE} licence",
                                    subject=obj.name, file=problem.file, line=problem.line))
    if not checks:
        note = f"; {len(unknown)} not read" if unknown else ""
        checks.append(Check("licence", Status.OK,
                            f"{len(checked)} eligible user(s) hold "
                            f"{REQUIRED_LICENCE}{note}"))
    return checks
