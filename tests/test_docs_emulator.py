"""docs/emulator.md against the emulator: every example marked `<!-- tenant-file -->` loads
with `fixture.load_tenant`, gives the objects it declares and is served as Graph JSON; the
examples together use every top-level key, fault kind and fault field the loader knows; every
graph-variant switch is in the doc with its options; the sign-in examples sign in (and are
refused) as the doc says."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
import yaml
from cryptography import x509

from reconciler.emulator import fixture, variants
from reconciler.emulator.app import create_app
from reconciler.emulator.faults import KINDS, Fault
from reconciler.emulator.fixture import load_tenant

DOC = Path(__file__).resolve().parents[1] / "docs" / "emulator.md"
MARKER = "<!-- tenant-file -->"
BLOCK = re.compile(r"<!-- tenant-file -->\n```yaml\n(.*?)\n```", re.DOTALL)
GRAPH_SCOPE = "https://graph.microsoft.com/.default"


def _text() -> str:
    return DOC.read_text(encoding="utf-8")


def _examples() -> list[tuple[int, str]]:
    """(line number, YAML text) of each tenant-file example."""
    text = _text()
    return [(text.count("\n", 0, m.start()) + 2, m.group(1)) for m in BLOCK.finditer(text)]


def _parsed() -> list[dict[str, Any]]:
    return [yaml.safe_load(body) for _, body in _examples()]


def _example_with(key: str, value: object) -> dict[str, Any]:
    """The one example whose application list has an app with `key` == `value`."""
    hits = [d for d in _parsed()
            if any(a.get(key) == value for a in d.get("applications") or [])]
    assert len(hits) == 1, f"expected one example with {key}={value!r}, found {len(hits)}"
    return hits[0]


def test_every_marker_is_followed_by_a_yaml_block() -> None:
    assert _text().count(MARKER) == len(_examples()) > 0


@pytest.mark.parametrize(("line", "body"), _examples(), ids=[f"line{n}" for n, _ in _examples()])
def test_tenant_file_example_loads_with_what_it_declares(line: int, body: str) -> None:
    data = yaml.safe_load(body)
    assert isinstance(data, dict), f"docs/emulator.md:{line}: not a mapping"
    tenant = load_tenant(data)
    assert len(tenant.users) == len(data.get("users") or [])
    assert len(tenant.groups) == len(data.get("groups") or [])
    assert len(tenant.service_principals) == len(data.get("servicePrincipals") or [])
    assert len(tenant.schedules) == len(data.get("schedules") or [])
    assert len(tenant.requests) == len(data.get("requests") or [])
    assert len(tenant.faults) == len(data.get("faults") or [])
    assert len(tenant.identity.applications) == len(data.get("applications") or [])
    for entry in data.get("policies") or []:
        gid = tenant.id_of(entry["group"])
        policy = tenant.policies[(gid, entry.get("access", "member"))]
        for rule_id, values in entry["rules"].items():
            assert policy.overrides[rule_id].items() >= values.items()
    if "page_size" in data:
        assert tenant.page_size == data["page_size"]
    if "granted_permissions" in data:
        assert tenant.granted_permissions == set(data["granted_permissions"])
    if "graph_variants" in data:
        assert tenant.pinned_variants == data["graph_variants"]


PIM = "/v1.0/identityGovernance/privilegedAccess/group"
PIM_COLLECTIONS = ("eligibilitySchedules", "eligibilityScheduleInstances",
                   "eligibilityScheduleRequests", "assignmentSchedules",
                   "assignmentScheduleInstances", "assignmentScheduleRequests")


async def _get_all(tenant: Any, paths: list[str]) -> list[httpx.Response]:
    transport = httpx.ASGITransport(app=create_app(tenant))
    async with httpx.AsyncClient(transport=transport, base_url="http://emulator") as client:
        return [await client.get(path) for path in paths]


@pytest.mark.parametrize(("line", "body"), _examples(), ids=[f"line{n}" for n, _ in _examples()])
def test_tenant_file_example_is_served_as_graph_json(line: int, body: str) -> None:
    """What an example seeds is served: every user (with `assignedPlans`), group, service
    principal, schedule, instance, request and policy rule answers 200 with JSON. Faults,
    latency, permission limits and applications are left out here (they shape answers and
    sign-in, not the data served)."""
    data = {k: v for k, v in yaml.safe_load(body).items()
            if k not in ("faults", "latency_ms", "granted_permissions", "applications")}
    tenant = load_tenant(data)
    paths = ["/v1.0/users?$select=id,userPrincipalName,assignedPlans", "/v1.0/groups",
             "/v1.0/servicePrincipals"]
    paths += [f"{PIM}/{c}?$filter=groupId eq '{gid}'" for gid in tenant.groups
              for c in PIM_COLLECTIONS]
    paths += [f"/v1.0/policies/roleManagementPolicies/{p.policy_id}/rules"
              for p in tenant.policies.values()]
    answers = asyncio.run(_get_all(tenant, paths))
    for path, answer in zip(paths, answers, strict=True):
        assert answer.status_code == 200, f"docs/emulator.md:{line}: {path}: {answer.text}"
        assert isinstance(answer.json()["value"], list)
    users = answers[0].json()["value"]
    assert len(users) == min(len(data.get("users") or []), tenant.page_size)
    schedules = sum(len(a.json()["value"]) for p, a in zip(paths, answers, strict=True)
                    if "Schedules?" in p)
    assert schedules == len(tenant.schedules)


def test_examples_use_every_top_level_key_and_the_table_lists_each() -> None:
    used = set().union(*(d.keys() for d in _parsed()))
    assert used == fixture._KNOWN_KEYS
    text = _text()
    for key in fixture._KNOWN_KEYS:
        assert re.search(rf"^\| `{key}` \|", text, re.MULTILINE), f"{key} not in a key table"


def test_examples_use_every_fault_kind_and_the_doc_names_every_fault_field() -> None:
    kinds = {f.get("kind", "error") for d in _parsed() for f in d.get("faults") or []}
    assert kinds == set(KINDS)
    text = _text()
    for name in Fault.__dataclass_fields__:
        assert f"| `{name}` |" in text, f"fault field {name} not documented"


def test_every_graph_variant_switch_is_documented_with_its_options() -> None:
    text = _text()
    for switch in variants.SWITCHES:
        options = " | ".join(f"`{o}`" for o in switch.options)
        assert f"| `{switch.name}` | {options} |" in text, switch.name


def test_certificates_in_examples_are_real_pem_certificates() -> None:
    keys = [k["key"] for d in _parsed() for a in d.get("applications") or []
            for k in a.get("keyCredentials") or []]
    assert keys
    for pem in keys:
        cert = x509.load_pem_x509_certificate(pem.encode("ascii"))
        assert cert.subject.rfc4514_string() == "CN=pim-reconciler-cert"


def _token(data: dict[str, Any], tenant_name: str, client_id: str,
           secret: str) -> tuple[int, dict[str, Any]]:
    tenant = load_tenant(data)
    url = f"https://127.0.0.1:8443/{tenant_name}/oauth2/v2.0/token"
    body = urlencode({"grant_type": "client_credentials", "client_id": client_id,
                      "client_secret": secret, "scope": GRAPH_SCOPE}).encode()
    return tenant.identity.token_response(tenant_name, body, url)


def test_the_sign_in_example_signs_in_by_domain_and_refuses_a_wrong_secret() -> None:
    app = "5c1d7d65-4d5e-4b8a-9f4b-3f2d1a0c9e01"
    data = _example_with("displayName", "pim-reconciler-reader")
    status, body = _token(data, "contoso.onmicrosoft.com", app, "not-a-real-secret")
    assert status == 200 and body["token_type"] == "Bearer"
    tenant = load_tenant(data)
    assert tenant.identity.tenant_id == "72f988bf-86f1-41af-91ab-2d7cd011db47"
    status, body = _token(data, "contoso.onmicrosoft.com", app, "wrong")
    assert (status, body["error_codes"]) == (401, [7000215])
    status, body = _token(data, "fabrikam.example", app, "not-a-real-secret")
    assert (status, body["error_codes"]) == (400, [90002])


def test_the_secrets_example_refuses_the_expired_secret_only() -> None:
    app = "5c1d7d65-4d5e-4b8a-9f4b-3f2d1a0c9e02"
    data = _example_with("appId", app)
    tenant_id = load_tenant(data).identity.tenant_id
    assert _token(data, tenant_id, app, "current-secret")[0] == 200
    assert _token(data, tenant_id, app, "forever-secret")[0] == 200
    status, body = _token(data, tenant_id, app, "old-secret")
    assert (status, body["error_codes"]) == (401, [7000222])


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation but `-` and `_` dropped, spaces
    to `-`."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_every_in_page_link_names_a_heading() -> None:
    text = _text()
    anchors = {_slug(h) for h in re.findall(r"^#+ (.+)$", text, re.MULTILINE)}
    links = set(re.findall(r"\]\(#([^)]+)\)", text))
    assert links and links <= anchors, sorted(links - anchors)
