"""Policy rule writes: one `PATCH /policies/roleManagementPolicies/{id}/rules/{ruleId}` per
`PolicyChange`, then a read-back of every managed field (graph-pim-reference.md 4.5).

- The policy is found again through its assignment for (group, accessId) on every write:
  policy ids change on onboarding and on update (reference 3.2), so no id is kept across
  runs or taken from a plan file. A group whose policy assignment is not there yet (just
  onboarded, TF-1769) is retried with back-off for a bounded time.
- The body is the whole rule as read with only the managed fields changed (DOCS-16689).
- 204 is not proof (TFMSGRAPH-75): the policy is read back and each managed field compared;
  a rule that reads back different is `not_applied` (problem code `policy_not_applied`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import quote

from kiota_abstractions.method import Method
from kiota_abstractions.request_information import RequestInformation

from reconciler.desired.model import Access
from reconciler.desired.policy import field_from_json, field_to_json, same_value
from reconciler.graph import decode
from reconciler.graph.batch import Sleep, Timer
from reconciler.graph.errors import GraphError
from reconciler.graph.policy_rules import rule_body
from reconciler.graph.transport import GraphHttp
from reconciler.graph.urls import Urls
from reconciler.live.model import GroupPolicy
from reconciler.plan.changes import PolicyChange


@dataclass(frozen=True, slots=True)
class PolicyWriteResult:
    """`applied` (PATCH accepted and every managed field reads back as sent), `not_applied`
    (accepted but a field reads back different: `mismatched` field -> (sent, read), both in
    the plan's JSON form) or `failed` (`error` from Graph, or the policy was not found)."""

    outcome: Literal["applied", "not_applied", "failed"]
    error: GraphError | None = None
    mismatched: dict[str, tuple[object, object]] = field(default_factory=dict)
    attempts: int = 0


class PolicyWriter:
    """`provision_window_s` bounds waiting for a policy that is not there yet;
    `verify_window_s` bounds re-reading until a written rule shows (seconds)."""

    def __init__(self, http: GraphHttp, urls: Urls, *, sleep: Sleep, timer: Timer,
                 provision_window_s: float = 120.0, verify_window_s: float = 30.0) -> None:
        self._http = http
        self._urls = urls
        self._sleep = sleep
        self._timer = timer
        self._provision_window_s = provision_window_s
        self._verify_window_s = verify_window_s

    async def update(self, change: PolicyChange) -> PolicyWriteResult:
        """Write one rule change; never raises for Graph errors."""
        try:
            policy = await self._find(change.group_id, change.access, self._provision_window_s)
        except GraphError as err:
            return PolicyWriteResult("failed", error=err)
        if policy is None:
            return PolicyWriteResult("failed", error=GraphError(
                404, "PolicyNotFound", f"no {change.access} policy assignment for group "
                f"{change.group_id} (not provisioned yet?)"))
        wanted = {k: field_from_json(k, v) for k, v in change.after.items()}
        try:
            body = rule_body(change.rule, policy.raw_rules.get(change.rule), wanted)
        except ValueError as exc:
            return PolicyWriteResult("failed", error=GraphError(None, "InvalidRule", str(exc)))
        try:
            await self._patch(policy.policy_id, change.rule, body)
        except GraphError as err:
            return PolicyWriteResult("failed", error=err, attempts=1)
        return await self._verify(change, wanted)

    async def _find(self, group_id: str, access: Access, window: float) -> GroupPolicy | None:
        started = self._timer()
        delay = 1.0
        while True:
            url = self._urls.absolute(self._urls.policy_assignments(group_id))
            body = await self._http.get_json(url) or {}
            for item in body.get("value") or []:
                pol = decode.policy(item, group_id)
                if pol is not None and pol.access is access:
                    return pol
            if self._timer() - started + delay > window:
                return None
            await self._sleep(delay)
            delay = min(delay * 2, 15.0)

    async def _patch(self, policy_id: str, rule_id: str, body: dict[str, object]) -> None:
        info = RequestInformation(Method.PATCH)
        info.url = (f"{self._http.base_url}/policies/roleManagementPolicies/"
                    f"{quote(policy_id, safe='')}/rules/{quote(rule_id, safe='')}")
        info.headers.try_add("Content-Type", "application/json")
        info.headers.try_add("Accept", "application/json")
        info.content = json.dumps(body).encode()
        await self._http.send(info)

    async def _verify(self, change: PolicyChange, wanted: dict[str, object]
                      ) -> PolicyWriteResult:
        started = self._timer()
        delay = 1.0
        while True:
            try:
                policy = await self._find(change.group_id, change.access, 0)
            except GraphError as err:
                return PolicyWriteResult("failed", error=err, attempts=1)
            read = dict((policy.settings.get(change.rule) if policy else None) or {})
            mismatched = {
                k: (field_to_json(v), field_to_json(read.get(k)))
                for k, v in wanted.items() if not same_value(read.get(k), v)
            }
            if not mismatched:
                return PolicyWriteResult("applied", attempts=1)
            if self._timer() - started + delay > self._verify_window_s:
                return PolicyWriteResult("not_applied", mismatched=mismatched, attempts=1)
            await self._sleep(delay)
            delay = min(delay * 2, 8.0)
