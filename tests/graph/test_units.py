"""Unit tests of the adapter over httpx.MockTransport (real SDK adapter and middleware)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from reconciler.desired.model import Access, Kind, PrincipalType
from reconciler.graph.auth import GitHubOidcAssertion, token_roles
from reconciler.graph.batch import Batcher, SubRequest
from reconciler.graph.errors import GraphError, ReadIncompleteError, error_from_body
from reconciler.graph.permissions import missing_write_permissions
from reconciler.graph.urls import Urls
from reconciler.graph.writer import Writer, request_body
from reconciler.plan.changes import Action, Change, GraphAction

from .helpers import NOW, FakeSleeper, mock_http

pytestmark = pytest.mark.anyio

GID = "11111111-1111-1111-1111-111111111111"
PID = "22222222-2222-2222-2222-222222222222"


def change(**kw) -> Change:  # type: ignore[no-untyped-def]
    base = dict(action=Action.CREATE, graph_action=GraphAction.ADMIN_ASSIGN, group_id=GID,
                group="grp", access=Access.MEMBER, kind=Kind.ELIGIBLE, principal_id=PID,
                principal="alex@contoso.example", principal_type=PrincipalType.USER,
                reason="declared")
    base.update(kw)
    return Change(**base)  # type: ignore[arg-type]


# --- errors -----------------------------------------------------------------------------

def test_unknown_error_embedded_permission_code_is_parsed() -> None:
    inner = json.dumps({"errorCode": "PermissionScopeNotGranted",
                        "message": "Authorization failed due to missing permission scope X."})
    err = error_from_body(403, {"error": {"code": "UnknownError", "message": inner,
                                          "innerError": {"request-id": "rid-1"}}})
    assert (err.status, err.code, err.inner_code, err.request_id) == (
        403, "UnknownError", "PermissionScopeNotGranted", "rid-1")
    assert err.message == "Authorization failed due to missing permission scope X."
    assert err.permission_denied and not err.transient


def test_retry_after_header_is_read() -> None:
    err = error_from_body(429, b'{"error":{"code":"TooManyRequests","message":"slow"}}',
                          {"Retry-After": "7"})
    assert err.retry_after == 7.0 and err.transient


# --- request bodies ---------------------------------------------------------------------

def test_duration_goes_out_as_iso_string_with_start_now() -> None:
    body = request_body(change(duration="P180D", justification="why",
                               ticket_number="CHG-1", ticket_system="SNOW"), NOW)
    assert body == {
        "accessId": "member", "principalId": PID, "groupId": GID, "action": "adminAssign",
        "scheduleInfo": {"startDateTime": "2026-12-01T12:00:00Z",
                         "expiration": {"type": "afterDuration", "duration": "P180D"}},
        "justification": "why",
        "ticketInfo": {"ticketNumber": "CHG-1", "ticketSystem": "SNOW"},
    }


def test_end_permanent_and_remove_bodies() -> None:
    end = datetime(2027, 6, 30, tzinfo=UTC)
    start = datetime(2026, 12, 5, tzinfo=UTC)
    body = request_body(change(end=end, start=start, graph_action=GraphAction.ADMIN_UPDATE), NOW)
    assert body["scheduleInfo"] == {
        "startDateTime": "2026-12-05T00:00:00Z",
        "expiration": {"type": "afterDateTime", "endDateTime": "2027-06-30T00:00:00Z"}}
    assert body["action"] == "adminUpdate"
    perm = request_body(change(permanent=True), NOW)
    assert perm["scheduleInfo"]["expiration"] == {"type": "noExpiration"}
    rm = request_body(change(action=Action.REMOVE, graph_action=GraphAction.ADMIN_REMOVE), NOW)
    assert "scheduleInfo" not in rm and rm["action"] == "adminRemove"


def test_non_iso_duration_is_refused() -> None:
    with pytest.raises(ValueError):
        request_body(change(duration="90 days, 0:00:00"), NOW)


# --- batching ---------------------------------------------------------------------------

def batch_handler(answer):  # type: ignore[no-untyped-def]
    """A $batch endpoint answering each item with answer(item) -> (status, headers, body)."""
    envelopes: list[list[dict]] = []

    def handle(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/v1.0/$batch"
        items = json.loads(request.content)["requests"]
        envelopes.append(items)
        out = []
        for item in items:
            status, headers, body = answer(item)
            out.append({"id": item["id"], "status": status, "headers": headers, "body": body})
        return httpx.Response(200, json={"responses": out})

    return handle, envelopes


async def test_batches_hold_at_most_twenty_items() -> None:
    handle, envelopes = batch_handler(lambda item: (200, {}, {"value": [{"u": item["url"]}]}))
    http = mock_http(handle)
    sleeper = FakeSleeper()
    batcher = Batcher(http, sleep=sleeper.sleep, timer=sleeper.timer)
    reqs = [SubRequest(f"k{n}", "GET", f"/x/{n}") for n in range(45)]
    answers = await batcher.run(reqs)
    assert sorted(len(e) for e in envelopes) == [5, 20, 20]
    assert http.request_count == 3
    assert answers["k44"].body == {"value": [{"u": "/x/44"}]}
    assert sleeper.delays == []


async def test_throttled_item_retried_after_its_retry_after() -> None:
    seen: dict[str, int] = {}

    def answer(item):  # type: ignore[no-untyped-def]
        seen[item["url"]] = seen.get(item["url"], 0) + 1
        if item["url"] == "/x/1" and seen["/x/1"] == 1:
            return 429, {"Retry-After": "3"}, {"error": {"code": "TooManyRequests"}}
        return 200, {"Content-Type": "application/json"}, {"value": []}

    handle, envelopes = batch_handler(answer)
    sleeper = FakeSleeper()
    batcher = Batcher(mock_http(handle), sleep=sleeper.sleep, timer=sleeper.timer)
    answers = await batcher.run([SubRequest(f"k{n}", "GET", f"/x/{n}") for n in range(3)])
    assert all(a.status == 200 for a in answers.values())
    assert sleeper.delays == [3.0]
    assert [len(e) for e in envelopes] == [3, 1]


async def test_throttling_past_deadline_is_an_incomplete_read() -> None:
    handle, _ = batch_handler(lambda item: (429, {"Retry-After": "50"}, {"error": {
        "code": "TooManyRequests", "message": "slow down"}}))
    sleeper = FakeSleeper()
    batcher = Batcher(mock_http(handle), sleep=sleeper.sleep, timer=sleeper.timer,
                      deadline_s=120)
    with pytest.raises(ReadIncompleteError) as info:
        await batcher.run([SubRequest("k", "GET", "/x")])
    assert info.value.status == 429 and info.value.code == "TooManyRequests"
    assert sleeper.delays == [50.0, 50.0]


async def test_next_links_are_followed_in_later_batches() -> None:
    def answer(item):  # type: ignore[no-untyped-def]
        if "skiptoken" in item["url"]:
            return 200, {}, {"value": [{"id": "b"}]}
        return 200, {}, {"value": [{"id": "a"}],
                         "@odata.nextLink": BASE_NEXT}

    handle, envelopes = batch_handler(answer)
    sleeper = FakeSleeper()
    batcher = Batcher(mock_http(handle), sleep=sleeper.sleep, timer=sleeper.timer)
    lists = await batcher.fetch_lists([SubRequest("k", "GET", "/x")])
    assert [i["id"] for i in lists["k"].items] == ["a", "b"]
    assert envelopes[1][0]["url"] == "/x?$skiptoken=abc"


BASE_NEXT = "http://graph.test/v1.0/x?%24skiptoken=abc"


# --- writer retry policy ---------------------------------------------------------------

async def test_503_after_committed_write_rereads_and_does_not_resend() -> None:
    posts: list[dict] = []
    end = NOW + timedelta(days=30)
    row = {"id": f"{GID}_member_x", "groupId": GID, "principalId": PID, "accessId": "member",
           "memberType": "Direct", "status": "Provisioned",
           "scheduleInfo": {"startDateTime": "2026-12-01T12:00:00Z",
                            "expiration": {"type": "afterDateTime",
                                           "endDateTime": "2026-12-31T12:00:00Z"}}}

    def handle(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            posts.append(json.loads(request.content))
            return httpx.Response(503, json={"error": {"code": "ServiceUnavailable",
                                                       "message": "busy"}})
        assert "$filter" in str(request.url) or "%24filter" in str(request.url)
        return httpx.Response(200, json={"value": [row]})

    sleeper = FakeSleeper()
    http = mock_http(handle)
    writer = Writer(http, Urls(http), clock=sleeper.clock, sleep=sleeper.sleep,
                    timer=sleeper.timer)
    result = await writer.submit(change(end=end))
    assert result.outcome == "applied" and result.verified and result.attempts == 1
    assert len(posts) == 1  # the SDK RetryHandler did not resend the POST


# --- auth and permissions ---------------------------------------------------------------

def test_github_assertion_is_fetched_fresh_every_call() -> None:
    calls: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(200, json={"value": f"jwt-{len(calls)}"})

    assertion = GitHubOidcAssertion(
        {"ACTIONS_ID_TOKEN_REQUEST_URL": "https://gh.test/token?x=1",
         "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "req-token"}, transport=httpx.MockTransport(handle))
    assert assertion() == "jwt-1" and assertion() == "jwt-2"
    assert calls[0].url.params["audience"] == "api://AzureADTokenExchange"
    assert calls[0].url.params["x"] == "1"
    assert calls[0].headers["Authorization"] == "bearer req-token"


def test_token_roles_and_missing_permissions() -> None:
    payload = base64.urlsafe_b64encode(json.dumps(
        {"roles": ["PrivilegedEligibilitySchedule.ReadWrite.AzureADGroup"]}).encode()).decode()
    roles = token_roles(f"e30.{payload.rstrip('=')}.sig")
    assert roles == frozenset({"PrivilegedEligibilitySchedule.ReadWrite.AzureADGroup"})
    assert missing_write_permissions(roles, [Kind.ELIGIBLE, Kind.ACTIVE]) == [
        "PrivilegedAssignmentSchedule.ReadWrite.AzureADGroup"]
    assert missing_write_permissions(roles, [Kind.ELIGIBLE]) == []
    assert missing_write_permissions(frozenset({"PrivilegedAccess.ReadWrite.AzureADGroup"}),
                                     [Kind.ACTIVE]) == []
    assert missing_write_permissions(None, [Kind.ACTIVE]) == []
    assert token_roles("not-a-jwt") is None


async def test_sdk_error_bodies_become_typed_errors() -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, json={"error": {
            "code": "RoleAssignmentExists", "message": "The Role assignment already exists.",
            "innerError": {"request-id": "rid-9"}}})

    http = mock_http(handle)
    with pytest.raises(GraphError) as info:
        await http.get_json(BASE_NEXT)
    assert (info.value.status, info.value.code, info.value.request_id) == (
        400, "RoleAssignmentExists", "rid-9")


async def test_role_assignment_exists_on_first_try_is_a_failure() -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        assert request.method == "POST"
        return httpx.Response(400, json={"error": {
            "code": "RoleAssignmentExists", "message": "The Role assignment already exists."}})

    sleeper = FakeSleeper()
    http = mock_http(handle)
    writer = Writer(http, Urls(http), clock=sleeper.clock, sleep=sleeper.sleep,
                    timer=sleeper.timer)
    result = await writer.submit(change(duration="P30D"))
    assert result.outcome == "failed" and result.attempts == 1
    assert result.error is not None and result.error.code == "RoleAssignmentExists"
    assert http.request_count == 1


async def test_timeout_on_post_rereads_then_resends() -> None:
    posts: list[int] = []

    def handle(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            posts.append(1)
            if len(posts) == 1:
                raise httpx.ReadTimeout("slow", request=request)
            return httpx.Response(201, json={"id": "req-2", "status": "Provisioned",
                                             "targetScheduleId": f"{GID}_member_req-2"})
        rows = [] if len(posts) < 2 else [{
            "id": f"{GID}_member_req-2", "groupId": GID, "principalId": PID,
            "accessId": "member", "memberType": "Direct", "status": "Provisioned",
            "scheduleInfo": {"startDateTime": "2026-12-01T12:00:00Z",
                             "expiration": {"type": "noExpiration"}}}]
        return httpx.Response(200, json={"value": rows})

    sleeper = FakeSleeper()
    http = mock_http(handle)
    writer = Writer(http, Urls(http), clock=sleeper.clock, sleep=sleeper.sleep,
                    timer=sleeper.timer)
    result = await writer.submit(change(permanent=True))
    assert (result.outcome, result.attempts, result.verified, result.request_id) == (
        "applied", 2, True, "req-2")
    assert http.request_count == 4  # POST (timeout), GET re-read, POST, GET verify


def test_credentials_are_built_from_the_environment() -> None:
    from azure.identity import aio

    from reconciler.graph.auth import CredentialConfigError, build_credential

    env = {"AZURE_CLIENT_ID": "cid", "AZURE_CLIENT_SECRET": "s3cret",
           "AZURE_FEDERATED_TOKEN_FILE": "/var/run/token", "AZURE_TENANT_ID": "env-tenant",
           "ACTIONS_ID_TOKEN_REQUEST_URL": "https://gh.test/t",
           "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "x"}
    assert isinstance(build_credential("client-secret", "tid", env).inner,
                      aio.ClientSecretCredential)
    assert isinstance(build_credential("workload-identity", None, env).inner,
                      aio.WorkloadIdentityCredential)
    assert isinstance(build_credential("github-oidc", "tid", env).inner,
                      aio.ClientAssertionCredential)
    with pytest.raises(CredentialConfigError, match="AZURE_CLIENT_SECRET"):
        build_credential("client-secret", "tid", {"AZURE_CLIENT_ID": "cid"})
    with pytest.raises(CredentialConfigError, match="tenant"):
        build_credential("certificate", None, {"AZURE_CLIENT_ID": "cid"})
