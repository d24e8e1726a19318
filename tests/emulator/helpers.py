"""Helpers for the emulator tests: a small tenant fixture and SDK / raw clients on it."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx
from kiota_abstractions.authentication.anonymous_authentication_provider import (
    AnonymousAuthenticationProvider,
)
from kiota_http.middleware.options import RetryHandlerOption
from msgraph import GraphServiceClient
from msgraph.graph_request_adapter import GraphRequestAdapter
from msgraph_core import GraphClientFactory

from reconciler.emulator.app import create_app
from reconciler.emulator.tenant import Tenant

T = TypeVar("T")
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
PAG = "/v1.0/identityGovernance/privilegedAccess/group"


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run one coroutine to completion (no pytest-asyncio in the project)."""
    return asyncio.run(coro)


def small_fixture() -> dict[str, Any]:
    return {
        "now": "2026-12-01T12:00:00Z",
        "users": [
            {"userPrincipalName": "alex@contoso.example", "displayName": "Alex Doe"},
            {"userPrincipalName": "sam@contoso.example", "displayName": "Sam Roe"},
            {"userPrincipalName": "kim@contoso.example", "displayName": "Kim Poe"},
        ],
        "groups": [
            {"displayName": "grp-app"},
            {"displayName": "grp-open"},
            {"displayName": "grp-ticket"},
            {"displayName": "grp-dyn", "groupTypes": ["DynamicMembership"]},
            {"displayName": "grp-sync", "onPremisesSyncEnabled": True},
        ],
        "servicePrincipals": [
            {"displayName": "deploy-pipeline", "appId": "00000000-0000-0000-0000-0000000000a1"}
        ],
        "policies": [
            {
                "group": "grp-open",
                "access": "member",
                "rules": {
                    "Expiration_Admin_Eligibility": {
                        "isExpirationRequired": False,
                        "maximumDuration": "P365D",
                    },
                    "Expiration_Admin_Assignment": {
                        "isExpirationRequired": False,
                        "maximumDuration": "P180D",
                    },
                    "Enablement_Admin_Assignment": {"enabledRules": []},
                },
            },
            {
                "group": "grp-ticket",
                "access": "member",
                "rules": {"Enablement_Admin_Assignment": {"enabledRules": ["Ticketing"]}},
            },
        ],
        "schedules": [
            {
                "group": "grp-app",
                "access": "member",
                "kind": "eligible",
                "principal": "alex@contoso.example",
                "created": "-P20D",
                "end": "P10D",
            },
            {
                "group": "grp-app",
                "access": "member",
                "kind": "active",
                "principal": "sam@contoso.example",
                "created": "-P1D",
                "end": "P29D",
            },
            {
                "group": "grp-app",
                "access": "member",
                "kind": "active",
                "principal": "alex@contoso.example",
                "created": "-PT1H",
                "end": "PT7H",
                "assignmentType": "activated",
            },
            {
                "group": "grp-app",
                "access": "owner",
                "kind": "eligible",
                "principal": "deploy-pipeline",
                "created": "-P1D",
                "start": "P2D",
                "end": "P30D",
            },
            {
                "group": "grp-app",
                "access": "member",
                "kind": "eligible",
                "principal": "kim@contoso.example",
                "created": "-P2D",
                "end": "P20D",
                "memberType": "group",
            },
        ],
    }


def raw_client(tenant: Tenant) -> httpx.AsyncClient:
    """A plain httpx client on the in-process app."""
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(tenant)), base_url="http://emulator"
    )


def sdk_client(
    tenant: Tenant, retry: bool = False, base_url: str | None = None
) -> GraphServiceClient:
    """The real msgraph-sdk pointed at the emulator (reference 6.1, 10).

    In-process (ASGI transport) unless `base_url` names a running server. Retries are off
    unless `retry`, so tests never sleep for the SDK's back-off.
    """
    if base_url is None:
        http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_app(tenant)), base_url="http://emulator"
        )
        base_url = "http://emulator/v1.0"
    else:
        http = httpx.AsyncClient(base_url=base_url)
    options = {} if retry else {RetryHandlerOption.get_key(): RetryHandlerOption(max_retries=0)}
    wrapped = GraphClientFactory.create_with_default_middleware(client=http, options=options)
    adapter = GraphRequestAdapter(AnonymousAuthenticationProvider(), client=wrapped)
    adapter.base_url = base_url
    return GraphServiceClient(request_adapter=adapter)


def body_for(
    tenant: Tenant,
    principal: str,
    group: str,
    action: str = "adminAssign",
    access: str = "member",
    **extra: Any,
) -> dict[str, Any]:
    """A raw request body (camelCase, as the docs send it)."""
    body: dict[str, Any] = {
        "accessId": access,
        "principalId": tenant.id_of(principal),
        "groupId": tenant.id_of(group),
        "action": action,
    }
    body.update(extra)
    return body


def after_duration(duration: str, start: str | None = None) -> dict[str, Any]:
    info: dict[str, Any] = {"expiration": {"type": "afterDuration", "duration": duration}}
    if start:
        info["startDateTime"] = start
    return info
