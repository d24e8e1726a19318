"""The pre-flight checks of `doctor`: one `Check` each, in a fixed order.

1. credential: which target; for Graph which `--credential` (azure-identity class) got a
   token, for which app (`appid`/`azp` claim) and tenant (`tid`), with which roles (`roles`);
2. Graph reachable: one cheap GET (`GraphBackend.ping`) that Graph itself must answer: 2xx,
   or 403 (a permission is missing; the permission checks name it), 429 a warning; a 404,
   any other 4xx, a 5xx or an answer without Graph's JSON error body fails (a wrong
   `--graph-url`, typically one without `/v1.0`), and so does a 401 (the token refused);
3. clock: the injected clock against the answer's `Date` header: more than 5 minutes apart
   fails (PIM's five-minute rules and every planned time depend on it), more than 1 warns;
4. permissions: each one the command needs (`reconciler.graph.permissions.REQUIRED`), from
   the token's roles where known, else by probing the read that needs it (a 403 names it);
5. groups: each declared group found exactly once, not dynamic, not synced from on-premises,
   and onboarded to PIM (it has role management policies: reference 3.2, 4.1);
6. licences: each user made eligible holds Entra ID P2 or ID Governance
   (`license_missing`, a warning, as in `plan`).

When the credential or the Graph check fails, the checks after it are reported once, as one
`not run` line (`Status.SKIPPED`), so the report points at the cause.

A `Scope` narrows the run as it narrows `plan`: `--only` selects the groups before any check;
`--shard I/N` keeps, once every selected group is resolved, the groups of the shard (the
planner's `reconciler.plan.scope.shard_groups`, so doctor checks exactly the groups `plan
--shard` plans; a group that does not resolve to one group is checked by one shard only). The
group and licence checks cover those groups and their principals; the credential, Graph,
clock and permission checks are the same for every shard.

Time is injected (`now`); the backend is the only door to the tenant. Nothing here prints.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from reconciler.clock import Clock, SystemClock
from reconciler.desired.model import DesiredGroup, DesiredState, Kind, PrincipalType
from reconciler.desired.select import Scope, Shard, select_only
from reconciler.graph.auth import AuthenticationFailed, CredentialConfigError
from reconciler.graph.backend import GraphBackend, Ping, Probe
from reconciler.graph.errors import GraphError
from reconciler.graph.permissions import Requirement, required_permissions
from reconciler.live.model import Resolution
from reconciler.plan.licences import REQUIRED_LICENCE, licence_problem
from reconciler.plan.resolve import collect_principals
from reconciler.plan.scope import shard_groups
from reconciler.targets import Target, TargetError, open_backend

SKEW_FAIL = timedelta(minutes=5)
"""Clock skew that fails: PIM's five-minute rules (format.md) cannot be judged past it."""
SKEW_WARN = timedelta(minutes=1)
COMMANDS = ("plan", "apply")
BASE_URL_FIX = ("the Graph base URL must end in /v1.0 (e.g. https://graph.microsoft.com/v1.0, "
                "or http://127.0.0.1:PORT/v1.0 for `pim-reconciler emulator serve`): check "
                "--graph-url")
"""The fix for an answer that is not Graph's: `GET {base}/groups` answers 2xx or 403 on Graph."""


class Status(StrEnum):
    """`ok`, `warning`, `fail`; `skipped`: not run, because a check it depends on failed."""

    OK = "ok"
    WARNING = "warning"
    FAIL = "fail"
    SKIPPED = "skipped"


@dataclass(frozen=True, slots=True)
class Check:
    """One line of the report. `check` is the kind (`credential`, `graph`, `clock`,
    `permission`, `group`, `licence`, or `not run` for the checks skipped after a failed
    credential or Graph check), `message` what was checked and found, `fix` what to
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
        """Every field by name, `status` as its string (as `Problem.to_dict`)."""
        return {**asdict(self), "status": str(self.status)}


@dataclass(frozen=True, slots=True)
class DoctorScope:
    """What a scoped doctor run checked: the `--only` globs, the shard (`I/N`), the declared
    references of the groups it checked (file order; None when the groups could not be
    resolved, so the shard's are not known) and how many groups the directory declares. JSON
    as a plan's `scope` (`reconciler.plan.scope.PlanScope`)."""

    only: tuple[str, ...]
    shard: Shard | None
    groups: tuple[str, ...] | None
    declared: int

    def describe(self) -> str:
        """`shard 1/2, --only 'groups/platform-*' (4 of 8 groups)`; `(groups not resolved: 8
        declared)` when the shard's groups are not known."""
        parts = [f"shard {self.shard}"] if self.shard else []
        parts += [f"--only {' '.join(repr(g) for g in self.only)}"] if self.only else []
        count = (f"{len(self.groups)} of {self.declared} groups" if self.groups is not None
                 else f"groups not resolved: {self.declared} declared")
        return f"{', '.join(parts)} ({count})"

    def to_dict(self) -> dict[str, Any]:
        """`{"only": [...], "shard": {"index": I, "count": N} | null, "groups": [...] | null,
        "declared": N}`."""
        return {
            "only": list(self.only),
            "shard": ({"index": self.shard.index, "count": self.shard.count}
                      if self.shard else None),
            "groups": list(self.groups) if self.groups is not None else None,
            "declared": self.declared,
        }


@dataclass(frozen=True, slots=True)
class DoctorReport:
    """Every check of one run: `command` checked for ("plan" | "apply"), `target` named,
    `checked_at` the injected clock's time (UTC), `scope` what a `--only` / `--shard` run
    covered (None: the whole directory)."""

    command: str
    target: str
    checked_at: datetime
    checks: tuple[Check, ...] = field(default_factory=tuple)
    scope: DoctorScope | None = None

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
        """The JSON form: command, target, scope (`DoctorScope.to_dict`, null when unscoped),
        checked_at (ISO 8601 UTC), passed, counts, checks."""
        return {
            "command": self.command,
            "target": self.target,
            "scope": self.scope.to_dict() if self.scope else None,
            "checked_at": _iso(self.checked_at),
            "passed": self.passed,
            "counts": self.counts(),
            "checks": [c.to_dict() for c in self.checks],
        }


def describe_target(target: Target) -> str:
    """One phrase naming the target: the emulator's tenant file, the URL, or Graph. A URL
    says how it is called: `URL, anonymous (no sign-in)` with no credential (`--credential
    default`, which stays anonymous there), else `URL, signed in with --credential NAME`."""
    if target.kind == "emulator":
        return f"in-process emulator serving {target.emulator_file}"
    if target.kind == "url":
        how = ("anonymous (no sign-in)" if target.credential == "default"
               else f"signed in with --credential {target.credential}")
        return f"Graph-compatible URL {target.graph_url}, {how}"
    return "Microsoft Graph" + (f" (tenant {target.tenant})" if target.tenant else "")


async def run_doctor(desired: DesiredState, target: Target, now: datetime | None,
                     command: str = "plan", clock: Clock | None = None,
                     scope: Scope | None = None) -> DoctorReport:
    """Open `target` and run every check for `command`, on the groups in `scope` (None: all;
    module docstring).

    `now` (UTC) is the pinned clock (`--now`); None means the clock a plan would use: the
    system clock for Graph, the tenant file's own clock for the emulator. The emulator keeps
    its file's clock either way, so a pinned clock far from the tenant's shows as skew. A
    credential or target that cannot be opened is the failed first check, not an exception
    (the report is then dated by `clock`, default the system clock). Raises `ValueError` for
    an unknown command, `SelectError` for an `--only` glob that matches nothing."""
    if command not in COMMANDS:
        raise ValueError(f"command must be one of {COMMANDS}, not {command!r}")
    scope = scope if scope is not None and not scope.whole else None
    selected = select_only(desired, scope.only) if scope else desired
    shard = scope.shard if scope else None
    name = describe_target(target)
    at = now
    checked: DesiredState | None = selected if shard is None else None
    try:
        async with open_backend(target) as backend:
            at = now or backend.clock.now()
            checks, checked = await run_checks(selected, backend, command=command,
                                               target=target, now=at, shard=shard)
    except CredentialConfigError as exc:
        checks = [Check("credential", Status.FAIL, f"cannot be built: {exc.problem}",
                        fix=exc.fix or "choose another --credential"), _not_run(AFTER_CREDENTIAL)]
    except TargetError as exc:
        checks = [Check("credential", Status.FAIL, f"target {name}: {exc}",
                        fix="check the tenant file (--emulator FILE)"), _not_run(AFTER_CREDENTIAL)]
    recorded = None if scope is None else DoctorScope(
        scope.only, shard, tuple(g.group for g in checked.groups) if checked else None,
        len(desired.groups))
    return DoctorReport(command, name, at or (clock or SystemClock()).now(), tuple(checks),
                        recorded)


async def run_checks(desired: DesiredState, backend: GraphBackend, *, command: str,
                     target: Target, now: datetime, shard: Shard | None = None
                     ) -> tuple[list[Check], DesiredState | None]:
    """The checks in order (module docstring), against an open `backend`; `now` is the
    injected clock's time (UTC); `shard` None checks every group of `desired`. Stops after a
    failed credential or a failed Graph check (nothing after them can be judged), with one
    `not run` line for the rest.

    Returns `(checks, the desired state whose groups were checked)`: `desired` itself
    without a shard; with one, its groups in the shard, or None when the groups could not
    be resolved (nor so sharded)."""
    checks: list[Check] = []
    mine: DesiredState | None = desired if shard is None else None
    roles, credential = await _credential(backend, target)
    checks.append(credential)
    if credential.status is Status.FAIL:
        return [*checks, _not_run(AFTER_CREDENTIAL)], mine

    ping = await backend.ping()
    graph = _graph(backend.base_url, ping)
    checks.append(graph)
    if graph.status is Status.FAIL:
        return [*checks, _not_run(AFTER_GRAPH)], mine
    checks.append(_clock(now, ping.server_time))

    group_refs = list(dict.fromkeys(g.group for g in desired.groups))
    resolution: Resolution | None = None
    try:
        if shard is None:
            resolution = await backend.resolve(group_refs, collect_principals(desired))
        else:  # as `plan --shard`: every group, then the principals of the shard's groups
            found = await backend.resolve(group_refs, [])
            mine = shard_groups(desired, found.groups, shard)
            principals = await backend.resolve([], collect_principals(mine))
            resolution = Resolution(groups=found.groups, principals=principals.principals,
                                    problems=found.problems + principals.problems)
    except GraphError as exc:
        checks.append(Check("group", Status.FAIL,
                            f"resolving the files' groups and principals failed: {exc}",
                            fix="see the error; run doctor again"))
    group_ids = _group_ids(desired, resolution)
    permissions = await _permissions(desired, backend, command, roles, group_ids)
    if ping.status == 403:
        checks[checks.index(graph)] = _graph_refused(backend.base_url, ping, permissions)
    checks.extend(permissions)
    if resolution is not None and mine is not None:
        checks.extend(await _groups(mine, backend, resolution))
        checks.extend(_licences(mine, resolution))
    return checks, mine


# --- 1. credential -----------------------------------------------------------------------


async def _credential(backend: GraphBackend, target: Target
                      ) -> tuple[frozenset[str] | None, Check]:
    """(the token's roles, None when unknown; the credential check)."""
    try:
        claims = await backend.token_claims()
    except AuthenticationFailed as exc:
        # the hint goes to `fix` only (`line()` would say it a second time)
        return None, Check("credential", Status.FAIL, f"no token: {exc.failure()}",
                           fix=exc.hint)
    except CredentialConfigError as exc:  # e.g. GitHub refused the OIDC token request
        return None, Check("credential", Status.FAIL, f"no token: {exc.problem}",
                           fix=exc.fix or "choose another --credential")
    # no claims (anonymous, or a token that is no JWT): the roles are unknown; asking
    # `backend.granted_permissions()` would only fetch the same token again to say so
    roles: frozenset[str] | None = None
    who = ""
    if claims is not None:
        raw = claims.get("roles")
        roles = frozenset(str(r) for r in raw) if isinstance(raw, list) else frozenset()
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
    elif target.kind == "url":  # describe_target already says "anonymous (no sign-in)"
        what = f"target: {describe_target(target)}"
    else:
        what = f"target: {describe_target(target)}, anonymous (no sign-in)"
    return roles, Check("credential", Status.OK, what + roles_text)


AFTER_CREDENTIAL = ("graph", "clock", "permissions", "groups", "licences")
AFTER_GRAPH = ("clock", "permissions", "groups", "licences")


def _not_run(kinds: Sequence[str]) -> Check:
    """The one line for every check skipped after a failed credential or Graph check."""
    cause = "the graph check" if kinds == AFTER_GRAPH else "the credential check"
    return Check("not run", Status.SKIPPED,
                 f"{', '.join(kinds)}: they need answers from Graph (see {cause} above)",
                 subject=",".join(kinds))


# --- 2. Graph reachable ------------------------------------------------------------------


def _graph(base_url: str, ping: Ping) -> Check:
    """The Graph check from the ping's answer (module docstring). A 403 is reachable and
    first reported as ✓; `_graph_refused` settles it once the permission checks are in."""
    err = ping.error
    at = f"Graph at {base_url}"
    if ping.status is None:
        detail = f"{err.code or 'error'}: {err.message}" if err else "no answer"
        return Check("graph", Status.FAIL, f"{at} did not answer ({detail})",
                     fix="check the network, proxy or --graph-url")
    if err is None:
        return Check("graph", Status.OK, f"{at} answered (HTTP {ping.status})")
    said = f"HTTP {ping.status} {err.code}: {err.message}" if err.code else ""
    if not err.code:  # no Graph error envelope: something else answered at that URL
        return Check("graph", Status.FAIL,
                     f"{at} answered HTTP {ping.status} without Graph's JSON error body: "
                     "not Graph's answer", fix=BASE_URL_FIX)
    if ping.status == 401:
        return Check("graph", Status.FAIL, f"{at} refused the token ({said})",
                     fix="check the tenant (--tenant) and the app's sign-in")
    if ping.status == 403:
        return Check("graph", Status.OK,
                     f"{at} answered (HTTP 403: a permission is missing, see below)")
    if ping.status == 429:
        return Check("graph", Status.WARNING, f"{at} answered but throttled ({said})",
                     fix="wait a minute and run doctor again")
    if ping.status >= 500:
        return Check("graph", Status.FAIL, f"{at} failed to answer ({said})",
                     fix="if --graph-url is right (it must end in /v1.0), Graph itself failed: "
                     "try again in a few minutes")
    return Check("graph", Status.FAIL,
                 f"{at} answered {said}, which Graph never answers to `GET /groups`",
                 fix=BASE_URL_FIX)


def _graph_refused(base_url: str, ping: Ping, permissions: Sequence[Check]) -> Check:
    """The Graph check for a ping answered 403, given the permission checks.

    It stays ✓ ("answered (HTTP 403: a permission is missing, see below)") when a permission
    check below fails: the question here is whether Graph is reachable, and it is; the
    missing permission is reported once, as the ✗ of the permission check that names it and
    how to grant it, so a warning here would count the same cause twice and carry a fix that
    only points elsewhere. When no permission check fails (the token's roles cover the read
    yet Graph refused it), nothing below explains the 403, so it is a warning of its own."""
    if any(c.status is Status.FAIL for c in permissions):
        return _graph(base_url, ping)
    err = ping.error
    said = f"{err.code}: {err.message}" if err else "Forbidden"
    return Check("graph", Status.WARNING,
                 f"Graph at {base_url} answered HTTP 403 ({said}) although no permission "
                 "below is missing",
                 fix="a permission granted minutes ago may not be in tokens yet: run doctor "
                 "again in a few minutes; else check the app's admin consent")


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


def _about(group: DesiredGroup) -> dict[str, Any]:
    """The `subject`, `file` and `line` of a check about the declared `group`."""
    return {"subject": group.group, "file": group.location.file, "line": group.location.line}


async def _groups(desired: DesiredState, backend: GraphBackend,
                  resolution: Resolution) -> list[Check]:
    checks: list[Check] = []
    manageable: dict[str, DesiredGroup] = {}  # live id -> the declaring group
    for group in desired.groups:
        loc = _about(group)
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
        manageable[live.id] = group
    try:
        counts = await backend.policy_counts(list(manageable))
    except GraphError as exc:
        return checks + [Check("group", Status.WARNING,
                               f"'{group.group}': onboarding to PIM not checked ({exc})",
                               **_about(group))
                         for group in manageable.values()]
    for gid, group in manageable.items():
        name, loc = group.group, _about(group)
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
    """A `license_missing` warning per eligible user without the licence; a warning for the
    eligible users whose `assignedPlans` could not be read, one per cause (their lookup was
    refused; or the answer carried no plans, as `directoryObjects/getByIds` for a user named
    by object id), never counted as licensed; ✓ only for users whose plans were read and all
    hold it, or when no user is made eligible."""
    checks: list[Check] = []
    checked: set[str] = set()
    refused: set[str] = set()
    unknown: set[str] = set()
    for group in desired.groups:
        matches = resolution.groups.get(group.group) or ()
        group_name = matches[0].display_name if len(matches) == 1 else group.group
        for entry in group.assignments:
            if entry.kind is not Kind.ELIGIBLE:
                continue
            objs = resolution.principals.get(entry.principal)
            if objs is None and entry.principal.type is PrincipalType.USER:
                refused.add(entry.principal.value.lower())  # the lookup was refused
                continue
            if not objs or len(objs) != 1 or objs[0].type is not PrincipalType.USER:
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
    if not checks and checked:
        checks.append(Check("licence", Status.OK,
                            f"{len(checked)} eligible user(s) hold {REQUIRED_LICENCE}"))
    if refused:
        checks.append(Check("licence", Status.WARNING,
                            f"not checked for {len(refused)} eligible user(s): their "
                            "assignedPlans could not be read (User.Read.All)",
                            fix="grant User.Read.All (see the permission checks) and run "
                            "doctor again"))
    if unknown:
        checks.append(Check("licence", Status.WARNING,
                            f"not checked for {len(unknown)} eligible user(s): Graph's answer "
                            "carried no assignedPlans for them (as for a user named by object "
                            "id: getByIds returns none)",
                            fix="name those users by userPrincipalName to have their "
                            "licences checked, or check them in the Entra admin center"))
    if not (checked or refused or unknown):
        checks.append(Check("licence", Status.OK,
                            "no user is made eligible: no licence to check"))
    return checks
