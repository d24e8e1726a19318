"""Licences PIM for Groups needs: every principal made eligible needs Microsoft Entra ID P2 or
Microsoft Entra ID Governance (graph-pim-reference.md section 5, ENTRA-Assign).

The one table of service plan ids that grant it. A user's licences are read from
`user.assignedPlans` (`servicePlanId`, `capabilityStatus`); a plan counts only while its
`capabilityStatus` is `Enabled` (a suspended, warned or deleted plan does not).

Source: Microsoft Entra's "Product names and service plan identifiers for licensing"
(MicrosoftDocs/entra-docs, docs/identity/users/licensing-service-plan-reference.md, updated
2025-10-29). Both ids below were confirmed there:

- `AAD_PREMIUM_P2` `eec0eb4f-6444-4f95-aba0-50c24d67f998`: the P2 plan of the product
  "Microsoft Entra ID P2" (AAD_PREMIUM_P2, SKU 84a661c4-e949-4bd2-a560-ed7766fcaf2b) and of
  the suites that contain P2 (e.g. Microsoft 365 E5).
- `Entra_Identity_Governance` `e866a266-3cff-43a3-acca-0c90a7e00c8b`: the plan of the product
  "Microsoft Entra ID Governance" (Microsoft_Entra_ID_Governance, SKU
  cf6b0d46-4093-4546-a0ab-0b1546dcc10e), also carried by "Microsoft Entra Suite Add-on for
  Microsoft Entra ID P2". That the other ID Governance products (Step Up for P2, for
  Government) carry the same plan id was not confirmed on the page.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from reconciler.desired.model import PrincipalType
from reconciler.live.model import DirectoryObject
from reconciler.problems import Code, Problem, Severity

PIM_SERVICE_PLANS: dict[str, str] = {
    "eec0eb4f-6444-4f95-aba0-50c24d67f998": "Microsoft Entra ID P2 (AAD_PREMIUM_P2)",
    "e866a266-3cff-43a3-acca-0c90a7e00c8b": "Microsoft Entra ID Governance "
                                            "(Entra_Identity_Governance)",
}
"""servicePlanId (lower case) -> product and service plan name."""

REQUIRED_LICENCE = "Microsoft Entra ID P2 or Microsoft Entra ID Governance"


def licensed_for_pim(enabled_plans: Iterable[str]) -> bool:
    """True when one of `enabled_plans` (servicePlanIds of enabled assigned plans) is in
    `PIM_SERVICE_PLANS`; compared without regard to case."""
    return any(str(plan).lower() in PIM_SERVICE_PLANS for plan in enabled_plans)


def licence_problem(obj: DirectoryObject, group_name: str, **where: Any) -> Problem | None:
    """The `license_missing` warning for `obj` made eligible in `group_name` (its display
    name), or
    None: when `obj` holds an enabled P2 / ID Governance plan, is not a user (groups and
    service principals are not licensed users), or its plans were not read (unknown).
    `where` (file, line, group, principal) goes onto the problem."""
    if obj.type is not PrincipalType.USER or obj.service_plans is None:
        return None
    if licensed_for_pim(obj.service_plans):
        return None
    return Problem(
        Severity.WARNING,
        Code.LICENSE_MISSING,
        f"{obj.name} is made eligible in '{group_name}' but holds no enabled {REQUIRED_LICENCE} "
        "service plan, which PIM requires of every eligible user; assign the user one of "
        "those licences",
        **where,
    )
