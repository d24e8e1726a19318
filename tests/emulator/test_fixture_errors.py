"""A tenant file that does not load says which entry is wrong, in one line, in-process and under
`emulator serve`; what loads is served as JSON (YAML timestamps written as Graph's strings) and
its schedule ids have Graph's shape, so listing instances works."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from reconciler.clock import SystemClock
from reconciler.emulator import ids
from reconciler.emulator.cli import emulator, load_for_serving
from reconciler.emulator.fixture import load_tenant, save_tenant

from ..cliutil import run_cli
from .helpers import NOW, PAG, raw_client, run

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = str(ROOT / "examples" / "assignments")
GID = ids.derived_id("group", "grp-app")
GUID = "8c4f2a1e-7d6b-4c5a-9e8f-0a1b2c3d4e5f"
APP = "5c1d7d65-4d5e-4b8a-9f4b-3f2d1a0c9e01"
SCHEDULE = {"group": "grp-app", "kind": "eligible", "principal": "alex@contoso.example"}


def base() -> dict[str, Any]:
    """A valid tenant with one good entry in every list section, so a broken entry appended
    to a section is at position 1."""
    return {
        "now": "2026-12-01T12:00:00Z",
        "users": [{"userPrincipalName": "alex@contoso.example"}],
        "groups": [{"displayName": "grp-app"}],
        "servicePrincipals": [{"displayName": "deploy-pipeline"}],
        "policies": [{"group": "grp-app", "rules": {}}],
        "schedules": [dict(SCHEDULE)],
        "requests": [dict(SCHEDULE)],
        "faults": [{"match": "GET /users", "status": 429, "times": 0}],
        "applications": [{"appId": APP, "passwordCredentials": [{"secretText": "s"}],
                          "federatedIdentityCredentials": [{"issuer": "i", "subject": "s"}]}],
    }


def write(tmp_path: Path, data: dict[str, Any]) -> Path:
    path = tmp_path / "tenant.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def load_error(data: dict[str, Any]) -> str:
    with pytest.raises(ValueError) as caught:
        load_tenant(data)
    return str(caught.value)


# 1. Missing required keys: the entry and the key, for every required key of every section.

FED = {"issuer": "i", "subject": "s"}
MISSING = [
    ("users", {"displayName": "no upn"}, "users[1]: missing userPrincipalName"),
    ("groups", {"description": "no name"}, "groups[1]: missing displayName"),
    ("servicePrincipals", {"appId": "a"}, "servicePrincipals[1]: missing displayName"),
    ("policies", {"access": "owner"}, "policies[1]: missing group"),
    *[("schedules", {k: v for k, v in SCHEDULE.items() if k != key}, f"schedules[1]: missing {key}")
      for key in ("group", "kind", "principal")],
    *[("requests", {k: v for k, v in SCHEDULE.items() if k != key}, f"requests[1]: missing {key}")
      for key in ("group", "kind", "principal")],
    ("faults", {"status": 429}, "faults[1]: missing match"),
    ("applications", {"displayName": "no id"}, "applications[1]: missing appId"),
    ("applications", {"appId": "b", "passwordCredentials": [{"secretText": "x"}, {}]},
     "applications[1].passwordCredentials[1]: missing secretText"),
    ("applications", {"appId": "b", "federatedIdentityCredentials": [{"subject": "s"}]},
     "applications[1].federatedIdentityCredentials[0]: missing issuer"),
    ("applications", {"appId": "b", "federatedIdentityCredentials": [FED, {"issuer": "i"}]},
     "applications[1].federatedIdentityCredentials[1]: missing subject"),
]


def test_the_base_tenant_loads() -> None:
    tenant = load_tenant(base())
    assert (len(tenant.users), len(tenant.schedules), len(tenant.requests)) == (1, 1, 1)


@pytest.mark.parametrize(("section", "entry", "reason"), MISSING,
                         ids=[reason for _, _, reason in MISSING])
def test_a_missing_required_key_names_the_entry_and_the_key(
    section: str, entry: dict[str, Any], reason: str
) -> None:
    data = base()
    data[section].append(entry)
    assert load_error(data) == reason


def test_a_required_key_given_as_null_is_missing() -> None:
    data = base()
    data["users"] += [{"userPrincipalName": "b@contoso.example"}, {"userPrincipalName": None},
                      {"userPrincipalName": "c@contoso.example"}]
    assert load_error(data) == "users[2]: missing userPrincipalName"


def test_in_process_a_missing_key_is_one_line_naming_the_entry(tmp_path: Path) -> None:
    data = base()
    data["users"] += [{"userPrincipalName": f"u{i}@contoso.example"} for i in range(2)]
    data["users"].append({"displayName": "Nobody"})
    path = write(tmp_path, data)
    outcome = run_cli("plan", EXAMPLES, "--emulator", str(path))
    assert outcome.exit_code == 1
    assert outcome.stderr == (
        f"error: cannot load tenant file {path}: users[3]: missing userPrincipalName\n")


# 1. `emulator serve` with a file that does not load: one line, exit 1, no traceback.

def serve_outcome(path: Path) -> tuple[int, str]:
    result = CliRunner().invoke(emulator, ["serve", "--state", str(path)])
    assert isinstance(result.exception, SystemExit), result.exception  # not a crash
    return result.exit_code, result.stderr


def test_serve_with_a_missing_key_is_one_error_line_and_exit_1(tmp_path: Path) -> None:
    data = base()
    data["users"] += [{"userPrincipalName": f"u{i}@contoso.example"} for i in range(2)]
    data["users"].append({"displayName": "Nobody"})
    path = write(tmp_path, data)
    assert serve_outcome(path) == (
        1, f"Error: cannot load tenant file {path}: users[3]: missing userPrincipalName\n")


@pytest.mark.parametrize(("text", "reason"), [
    ("now: [\n", "not valid YAML: expected the node content, but found '<stream end>' "
                 "at line 2, column 1"),
    ("- a list\n", "{path}: a tenant fixture must be a mapping"),
    ("users: alex@contoso.example\n",
     "users must be a list of mappings, not 'alex@contoso.example'"),
    ("users: [alex@contoso.example]\n", "users[0] must be a mapping, not 'alex@contoso.example'"),
    ("page_size: lots\n", "page_size must be an integer, not 'lots'"),
    ("now: 2026-13-01T00:00:00Z\n",
     "an impossible YAML date or timestamp: month must be in 1..12"),
    ("now: '2026-13-01T00:00:00Z'\n",
     "'2026-13-01T00:00:00Z' is not a valid date-time: month must be in 1..12"),
])
def test_serve_with_a_malformed_file_is_one_error_line(
    tmp_path: Path, text: str, reason: str
) -> None:
    path = tmp_path / "tenant.yaml"
    path.write_text(text, encoding="utf-8")
    expected = f"Error: cannot load tenant file {path}: {reason.format(path=path)}\n"
    assert serve_outcome(path) == (1, expected)


def test_the_product_cli_serve_is_one_line_too(tmp_path: Path) -> None:
    path = write(tmp_path, {"groups": [{"displayName": "g"}, {"id": "x"}]})
    outcome = run_cli("emulator", "serve", "--state", str(path))
    assert outcome.exit_code == 1
    assert outcome.stderr == (
        f"Error: cannot load tenant file {path}: groups[1]: missing displayName\n")


# 2. YAML timestamps in values served as written become Graph's ISO 8601 UTC strings.

STAMPED = """\
now: 2026-12-01T12:00:00Z
users:
  - userPrincipalName: governance@contoso.example
    assignedPlans:
      - { servicePlanId: e866a266-3cff-43a3-acca-0c90a7e00c8b, capabilityStatus: Enabled,
          service: AADPremiumService, assignedDateTime: 2025-03-01T00:00:00Z }
      - { servicePlanId: eec0eb4f-6444-4f95-aba0-50c24d67f998, capabilityStatus: Enabled,
          service: AADPremiumService, assignedDateTime: 2025-03-01 10:30:00.5 }
groups: [{ displayName: grp-app }]
policies:
  - group: grp-app
    rules: { Expiration_Admin_Eligibility: { maximumDuration: P90D, reviewed: 2026-11-01 } }
requests:
  - kind: eligible
    group: grp-app
    principal: governance@contoso.example
    status: PendingProvisioning
    justification: 2026-11-30T09:00:00Z
    ticketInfo: { ticketNumber: 2026-11-30, ticketSystem: ServiceNow }
    scheduleInfo:
      startDateTime: 2026-12-01T13:30:00+01:00
      expiration: { type: afterDuration, duration: P30D }
"""


def _served(tenant: Any) -> tuple[list[Any], list[Any], list[Any]]:
    async def fetch() -> tuple[list[Any], list[Any], list[Any]]:
        async with raw_client(tenant) as client:
            users = await client.get("/v1.0/users?$select=userPrincipalName,assignedPlans")
            requests = await client.get(f"{PAG}/eligibilityScheduleRequests"
                                        f"?$filter=groupId eq '{GID}'")
            policy = next(p for p in tenant.policies.values() if p.access == "member")
            rules = await client.get(f"/v1.0/policies/roleManagementPolicies/"
                                     f"{policy.policy_id}/rules")
            for answer in (users, requests, rules):
                assert answer.status_code == 200, answer.text
            return users.json()["value"], requests.json()["value"], rules.json()["value"]
    return run(fetch())


def test_yaml_timestamps_served_as_written_are_graph_utc_strings(tmp_path: Path) -> None:
    tenant = load_tenant(yaml.safe_load(STAMPED))
    users, requests, rules = _served(tenant)
    assert [p["assignedDateTime"] for p in users[0]["assignedPlans"]] == [
        "2025-03-01T00:00:00Z", "2025-03-01T10:30:00.500000Z"]
    (request,) = requests
    assert request["scheduleInfo"] == {
        "startDateTime": "2026-12-01T12:30:00Z",
        "expiration": {"type": "afterDuration", "duration": "P30D"},
    }
    assert request["justification"] == "2026-11-30T09:00:00Z"
    assert request["ticketInfo"] == {"ticketNumber": "2026-11-30", "ticketSystem": "ServiceNow"}
    rule = next(r for r in rules if r["id"] == "Expiration_Admin_Eligibility")
    assert (rule["maximumDuration"], rule["reviewed"]) == ("P90D", "2026-11-01")
    saved = tmp_path / "saved.json"  # JSON saving needs JSON values too
    save_tenant(tenant, saved)
    again = json.loads(saved.read_text(encoding="utf-8"))
    assert again["requests"][0]["scheduleInfo"]["startDateTime"] == "2026-12-01T12:30:00Z"


@pytest.mark.parametrize(("value", "reason"), [
    (float("nan"), "requests[0].scheduleInfo.duration: nan is not a JSON number"),
    ({1, 2}, "requests[0].scheduleInfo.duration: {1, 2} cannot be served as JSON"),
])
def test_a_value_no_json_answer_can_hold_is_refused(value: object, reason: str) -> None:
    data = base()
    data["requests"][0]["scheduleInfo"] = {"duration": value}
    assert load_error(data) == reason


# 3. Schedule ids must have Graph's shape for their group and access.

BAD_IDS = [
    "not-a-schedule-id",
    f"{GID}_member",
    f"{GID}_both_{GUID}",
    f"{GID}_owner_{GUID}",  # the entry's access is member
    f"{ids.derived_id('group', 'other')}_member_{GUID}",
    f"{GID}_member_not-a-guid",
]


@pytest.mark.parametrize("bad", BAD_IDS)
def test_a_schedule_id_not_shaped_like_graphs_is_refused(bad: str) -> None:
    data = base()
    data["schedules"].append({**SCHEDULE, "principal": "deploy-pipeline", "id": bad})
    derived = ids.derived_id("schedule", f"{GID}:member:eligible:"
                             f"{ids.derived_id('servicePrincipal', 'deploy-pipeline')}:1")
    assert load_error(data) == (
        f"schedules[1]: id {bad!r} must have Graph's shape {{groupId}}_{{member|owner}}_{{guid}} "
        f"for its group and access, e.g. '{GID}_member_{derived}'")


def test_a_well_shaped_schedule_id_loads_and_its_instance_is_listed() -> None:
    data = base()
    sid = f"{GID}_owner_{GUID.upper()}"
    data["schedules"].append({**SCHEDULE, "access": "OWNER", "id": sid})
    tenant = load_tenant(data)
    assert tenant.schedules[sid].access == "owner"
    assert tenant.schedules[sid].created_using == GUID.upper()

    async def instances() -> list[dict[str, Any]]:
        async with raw_client(tenant) as client:
            answer = await client.get(f"{PAG}/eligibilityScheduleInstances"
                                      f"?$filter=groupId eq '{GID}'")
            assert answer.status_code == 200, answer.text
            return answer.json()["value"]

    owner = [i for i in run(instances()) if i["eligibilityScheduleId"] == sid]
    assert [i["id"] for i in owner] == [ids.instance_id(sid)]
    assert owner[0]["id"].startswith(f"{GID}_owner_")


# 4. A list-valued key given a single string is refused, not split into characters.

@pytest.mark.parametrize(("edit", "reason"), [
    (lambda d: d.update(granted_permissions="User.Read.All"),
     "granted_permissions must be a list of strings, not 'User.Read.All'"),
    (lambda d: d.update(granted_permissions=["User.Read.All", ["Group.Read.All"]]),
     "granted_permissions[1] must be a string, not ['Group.Read.All']"),
    (lambda d: d.update(domains="contoso.example"),
     "domains must be a list of strings, not 'contoso.example'"),
    (lambda d: d["groups"][0].update(groupTypes="DynamicMembership"),
     "groups[0].groupTypes must be a list of strings, not 'DynamicMembership'"),
    (lambda d: d["applications"][0].update(grantedPermissions="User.Read.All"),
     "applications[0].grantedPermissions must be a list of strings, not 'User.Read.All'"),
    (lambda d: d["applications"][0]["federatedIdentityCredentials"][0].update(audiences="aud"),
     "applications[0].federatedIdentityCredentials[0].audiences must be a list of strings, "
     "not 'aud'"),
    (lambda d: d["applications"][0].update(passwordCredentials="s3cret"),
     "applications[0].passwordCredentials must be a list of mappings, not 's3cret'"),
    (lambda d: d.update(schedules={"group": "grp-app"}),
     "schedules must be a list of mappings, not {'group': 'grp-app'}"),
    (lambda d: d["policies"][0].update(rules=["Expiration_Admin_Eligibility"]),
     "policies[0].rules must be a mapping, not ['Expiration_Admin_Eligibility']"),
    (lambda d: d["requests"][0].update(scheduleInfo="P30D"),
     "requests[0].scheduleInfo must be a mapping, not 'P30D'"),
    (lambda d: d["users"][0].update(assignedPlans="P2"),
     "users[0].assignedPlans must be a list of mappings, not 'P2'"),
    (lambda d: d["users"][0].update(assignedPlans=[{"servicePlanId": GUID}, "P2"]),
     "users[0].assignedPlans[1] must be a mapping, not 'P2'"),
    (lambda d: d.update(applications={"appId": APP}),
     f"applications must be a list of mappings, not {{'appId': '{APP}'}}"),
    (lambda d: d["applications"][0].update(keyCredentials=["-----BEGIN CERTIFICATE-----"]),
     "applications[0].keyCredentials[0] must be a mapping, not '-----BEGIN CERTIFICATE-----'"),
])
def test_a_list_or_mapping_key_given_the_wrong_type_is_refused(edit: Any, reason: str) -> None:
    data = base()
    edit(data)
    assert load_error(data) == reason


@pytest.mark.parametrize(("key", "reason"), [
    ("not a certificate", "applications[0].keyCredentials[0].key is not a PEM certificate"),
    ("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
     "applications[0].keyCredentials[0].key is not a PEM certificate"),
])
def test_a_certificate_key_that_is_no_pem_certificate_is_refused_at_load(
    key: str, reason: str
) -> None:
    """Found when the file loads, not as a server error at the first certificate sign-in."""
    data = base()
    data["applications"][0]["keyCredentials"] = [{"key": key}]
    assert load_error(data) == reason


def test_a_bad_secret_end_names_the_credential() -> None:
    data = base()
    data["applications"][0]["passwordCredentials"][0]["endDateTime"] = "P1M"
    assert load_error(data) == ("applications[0].passwordCredentials[0].endDateTime: bad "
                                "relative time 'P1M': 'P1M' uses years, months or weeks")


def test_granted_permissions_as_a_list_are_kept_whole() -> None:
    data = base()
    data["granted_permissions"] = ["User.Read.All", "Group.Read.All"]
    data["applications"][0]["grantedPermissions"] = ["User.Read.All"]
    tenant = load_tenant(data)
    assert tenant.granted_permissions == {"User.Read.All", "Group.Read.All"}
    assert tenant.identity.applications[APP].roles == ["User.Read.All"]


# 5, 6. Docstrings: the tenant file's doc, and what `--clock system` does with relative times.

def test_emulator_docstrings_point_to_docs_emulator_md() -> None:
    package = ROOT / "reconciler" / "emulator"
    assert [p.name for p in package.glob("*.py") if "cases/README" in p.read_text()] == []
    for name in ("fixture.py", "faults.py", "tenant.py"):
        assert "docs/emulator.md" in (package / name).read_text(), name


def test_clock_system_counts_relative_times_from_the_files_now(tmp_path: Path) -> None:
    data = base()
    data["schedules"][0].update(created="-P20D", end="P10D")
    path = write(tmp_path, data)
    tenant = load_for_serving(path, clock_choice="system")
    assert isinstance(tenant.clock, SystemClock)
    (row,) = tenant.schedules.values()
    assert (row.created, row.end) == (NOW - timedelta(days=20), NOW + timedelta(days=10))
