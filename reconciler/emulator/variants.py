"""Every choice the emulator makes where graph-pim-reference.md has no source ([unconfirmed]),
each a named switch, plus the stated choices it makes without a switch.

A switch has a default (the likeliest reading, or the stricter one where none is likelier) and
the other plausible answers. A tenant's switches come from, in order: the fixture's
`graph_variants:` mapping (a case pinning a behaviour), the environment variable
`PIM_EMULATOR_VARIANTS` (`name=value,name=value`, or `alternatives` for the first non-default
option of every switch: what the test suite runs its end-to-end tests under a second time),
and the defaults here. `emulator serve --help` lists them.

This module is the emulator's own: it shares nothing with the product, so that the product's
guesses and the judge's can differ.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

ENV = "PIM_EMULATOR_VARIANTS"
ALTERNATIVES = "alternatives"


@dataclass(frozen=True, slots=True)
class Switch:
    """One unconfirmed behaviour: `options[0]` is the default."""

    name: str
    options: tuple[str, ...]
    reference: str
    question: str

    @property
    def default(self) -> str:
        return self.options[0]


SWITCHES: tuple[Switch, ...] = (
    Switch(
        "max_duration_without_expiration",
        ("ignored", "enforced"),
        "4.4",
        "Is Expiration_*.maximumDuration enforced when isExpirationRequired is false?",
    ),
    Switch(
        "five_minute_anchor",
        ("latest_change", "made"),
        "3.1",
        "Does the five-minute floor on removal and change count from the last update "
        "(modifiedDateTime) too, or only from when the assignment was made (start or "
        "creation)?",
    ),
    Switch(
        "eligibility_enablement",
        ("enforced", "ignored"),
        "4.2, 4.3",
        "Are justification / ticket of Enablement_Admin_Eligibility enforced on eligibility "
        "requests (the admin center does not show the rule)?",
    ),
    Switch(
        "early_eligibility_removal_code",
        ("ActiveDurationTooShort", "InvalidRoleAssignmentRequest"),
        "3.1, 9",
        "Which code refuses removing or changing an eligibility within five minutes?",
    ),
    Switch(
        "short_eligibility_code",
        ("ActiveDurationTooShort", "InvalidRoleAssignmentRequest"),
        "3.1, 9",
        "Which code refuses an eligibility shorter than five minutes?",
    ),
    Switch(
        "unknown_principal_code",
        ("SubjectNotFound", "PrincipalNotFound"),
        "3.1, 9",
        "Which code refuses a request for a principal that never existed?",
    ),
    Switch(
        "unmanageable_group_code",
        ("InvalidRoleAssignmentRequest", "BadRequest"),
        "3.1, 9",
        "Which code refuses a request on a dynamic or on-premises-synced group?",
    ),
    Switch(
        "ticketing_rule_name",
        ("TicketingRule", "TicketRule"),
        "3.1",
        "Which rule name does RoleAssignmentRequestPolicyValidationFailed give for a "
        "missing ticket?",
    ),
    Switch(
        "validation_only",
        ("dry_run", "ignored"),
        "2.1, 9",
        "Does isValidationOnly: true dry-run an admin request (validate, change nothing)?",
    ),
    Switch(
        "week_durations",
        ("refused", "accepted"),
        "3.1 (TF-1464 saw P6M refused)",
        "Are week designators (P2W) refused like months and years?",
    ),
    Switch(
        "instant_without_zone",
        ("refused", "utc"),
        "2.1",
        "Is a dateTime without a zone offset refused, or read as UTC?",
    ),
    Switch(
        "batch_order",
        ("in_order", "reversed"),
        "1.6",
        "In which order does $batch run sub-requests without dependsOn?",
    ),
)
BY_NAME = {s.name: s for s in SWITCHES}

STATED_CHOICES: tuple[tuple[str, str], ...] = (
    (
        "`RoleAssignmentRequestPolicyValidationFailed` names `JustificationRule` and `MfaRule`",
        "legacy PIM status details (3.1, DOC-LegacyErr); the PIM-for-Groups strings are unseen",
    ),
    (
        "`ActiveDurationTooShort` for an active assignment shorter than five minutes",
        "3.1 'likely' (seen on activations, DCT-50)",
    ),
    (
        "a `self*` action on an admin endpoint is `InvalidRoleAssignmentRequest`",
        "no source; the admin endpoints take admin actions",
    ),
    (
        "`$batch`: a sub-request with a body and no Content-Type answers 400 on its own; a "
        "batch mixing requests with and without dependsOn (beyond the first of a sequence) is "
        "refused whole",
        "1.5; DOC-Batch requires the header and Microsoft Q&A 1532547 quotes 'Batch should be "
        "either fully sequential or fully parallel'; the exact answers are unseen",
    ),
    (
        "`$orderby` on a property the type does not have, and `ne` where the resource page does "
        "not list it, answer 400",
        "1.3 lists the operators per property; the stricter of the plausible answers",
    ),
    (
        "Approval_EndUser_Assignment requiring approval without approvers is refused with 400",
        "4.5 (admin center refuses to save); see routes_policy.UNCONFIRMED",
    ),
)
"""Choices without a switch: invented codes or messages kept because a client must see some
answer, with what supports them."""


class VariantError(ValueError):
    """An unknown switch or option (names the valid ones)."""


def parse(text: str) -> dict[str, str]:
    """`name=value,name=value` (or `alternatives`) -> switch values. Raises `VariantError`."""
    text = text.strip()
    if not text:
        return {}
    if text == ALTERNATIVES:
        return {s.name: s.options[1] for s in SWITCHES}
    out: dict[str, str] = {}
    for part in text.split(","):
        name, _, value = part.partition("=")
        out[name.strip()] = value.strip()
    return validate(out)


def validate(values: Mapping[str, object]) -> dict[str, str]:
    """Check switch names and options. Raises `VariantError`."""
    out: dict[str, str] = {}
    for name, value in values.items():
        switch = BY_NAME.get(str(name))
        if switch is None:
            raise VariantError(f"unknown graph variant '{name}'; known: " + ", ".join(BY_NAME))
        if str(value) not in switch.options:
            raise VariantError(
                f"graph variant {name}: '{value}' is not one of " + ", ".join(switch.options)
            )
        out[switch.name] = str(value)
    return out


def resolve(
    fixture: Mapping[str, object] | None = None, env: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Every switch's value: the fixture's, else the environment's, else the default."""
    environ = os.environ if env is None else env
    values = {s.name: s.default for s in SWITCHES}
    values.update(parse(environ.get(ENV, "")))
    values.update(validate(fixture or {}))
    return values


def describe() -> str:
    """The switches and stated choices as text (for `emulator serve --help` and docs)."""
    lines = ["Graph behaviours the reference leaves unconfirmed (switch: default | others):"]
    for s in SWITCHES:
        lines.append(
            f"  {s.name}: {s.default} | {' | '.join(s.options[1:])} "
            f"(reference {s.reference}) - {s.question}"
        )
    lines.append(
        "Set them in the tenant file (graph_variants: {name: value}) or with "
        f"{ENV}=name=value,... ({ALTERNATIVES}: every switch's other option)."
    )
    lines.append("Stated choices without a switch:")
    lines += [f"  {what} ({why})" for what, why in STATED_CHOICES]
    return "\n".join(lines)
