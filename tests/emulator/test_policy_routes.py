"""Contract tests of the policy rule routes (graph-pim-reference.md 4.1-4.5): rules listed and
read one by one, `PATCH` answering 204 with no body, and the refusals written from the wire
facts (wrong `@odata.type`, expiration required without `maximumDuration`, approval without
an approver, mfa with an authentication context)."""

from __future__ import annotations

import json
from typing import Any

import httpx

from reconciler.emulator.tenant import Tenant

from .helpers import raw_client, run


async def _rule_url(client: httpx.AsyncClient, gid: str, access: str, rule_id: str) -> str:
    body = (await client.get("/v1.0/policies/roleManagementPolicyAssignments", params={
        "$filter": f"scopeId eq '{gid}' and scopeType eq 'Group' and roleDefinitionId eq "
                   f"'{access}'", "$expand": "policy($expand=rules)"})).json()
    policy_id = body["value"][0]["policy"]["id"]
    return f"/v1.0/policies/roleManagementPolicies/{policy_id}/rules/{rule_id}"


def _patch(client: httpx.AsyncClient, url: str, body: dict[str, Any]) -> Any:
    return client.patch(url, content=json.dumps(body),
                        headers={"Content-Type": "application/json"})


def test_rules_are_listed_and_read_one_by_one(tenant: Tenant) -> None:
    async def go() -> None:
        async with raw_client(tenant) as client:
            gid = tenant.id_of("grp-app")
            url = await _rule_url(client, gid, "member", "Expiration_EndUser_Assignment")
            listed = (await client.get(url.rsplit("/", 1)[0])).json()["value"]
            assert len(listed) == 17  # 8 rules + 9 notification rules (reference 4.2)
            rule = (await client.get(url)).json()
            assert rule["maximumDuration"] == "PT8H" and rule["target"]["caller"] == "EndUser"
    run(go())


def test_patch_answers_204_and_the_rule_reads_back(tenant: Tenant) -> None:
    async def go() -> None:
        async with raw_client(tenant) as client:
            url = await _rule_url(client, tenant.id_of("grp-app"), "owner",
                                  "Expiration_EndUser_Assignment")
            rule = (await client.get(url)).json()
            ok = await _patch(client, url, {**rule, "maximumDuration": "PT1H45M"})
            assert ok.status_code == 204 and ok.content == b""
            # the update gave the policy a new id (reference 3.2): the old one is gone, the
            # policy is found again through its assignment
            gone = await client.get(url)
            assert (gone.status_code, gone.json()["error"]["code"]) == (404, "ResourceNotFound")
            again = await _rule_url(client, tenant.id_of("grp-app"), "owner",
                                    "Expiration_EndUser_Assignment")
            assert again != url
            assert (await client.get(again)).json()["maximumDuration"] == "PT1H45M"
            member = await _rule_url(client, tenant.id_of("grp-app"), "member",
                                     "Expiration_EndUser_Assignment")
            assert (await client.get(member)).json()["maximumDuration"] == "PT8H"
    run(go())


def test_rule_updates_refused_from_the_wire_facts(tenant: Tenant) -> None:
    async def go() -> None:
        async with raw_client(tenant) as client:
            gid = tenant.id_of("grp-app")
            url = await _rule_url(client, gid, "member", "Expiration_EndUser_Assignment")
            rule = (await client.get(url)).json()
            wrong = await _patch(client, url, {
                **rule, "@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyApprovalRule"})
            assert wrong.status_code == 400
            untyped = await _patch(client, url, {k: v for k, v in rule.items()
                                                 if k != "@odata.type"})
            assert untyped.status_code == 400
            missing = await _patch(client, url, {**rule, "maximumDuration": None})
            assert (missing.status_code, missing.json()["error"]["code"]) == (
                400, "InvalidPolicyRule")
            approval_url = await _rule_url(client, gid, "member", "Approval_EndUser_Assignment")
            approval = (await client.get(approval_url)).json()
            approval["setting"]["isApprovalRequired"] = True
            assert (await _patch(client, approval_url, approval)).status_code == 400
            context_url = await _rule_url(client, gid, "member",
                                          "AuthenticationContext_EndUser_Assignment")
            enable_url = await _rule_url(client, gid, "member", "Enablement_EndUser_Assignment")
            enable = (await client.get(enable_url)).json()
            assert (await _patch(client, enable_url, {
                **enable, "enabledRules": ["MultiFactorAuthentication"]})).status_code == 204
            context_url = await _rule_url(client, gid, "member",  # the policy's new id
                                          "AuthenticationContext_EndUser_Assignment")
            context = (await client.get(context_url)).json()
            both = await _patch(client, context_url, {**context, "isEnabled": True,
                                                      "claimValue": "c1"})
            assert both.status_code == 400
    run(go())


def test_rule_update_needs_the_write_permission(tenant: Tenant) -> None:
    tenant.granted_permissions = {"RoleManagementPolicy.Read.AzureADGroup"}

    async def go() -> None:
        async with raw_client(tenant) as client:
            url = await _rule_url(client, tenant.id_of("grp-app"), "member",
                                  "Expiration_EndUser_Assignment")
            rule = (await client.get(url)).json()
            denied = await _patch(client, url, {**rule, "maximumDuration": "PT2H"})
            assert denied.status_code == 403
            assert "RoleManagementPolicy.ReadWrite.AzureADGroup" in denied.text
    run(go())
