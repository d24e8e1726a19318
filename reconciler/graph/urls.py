"""Graph request URLs, built with msgraph-sdk request builders (their URL templates).

Only this module and `reconciler.graph.decode` know Graph paths and field names. `$batch`
items take the URL relative to the version root (`GraphHttp.relative`). Filters follow
graph-pim-reference.md section 1.2 (schedules: `groupId eq`, optionally `and principalId eq`;
string literals in single quotes, a `'` doubled) and section 4.1 (policy assignments by
`scopeId`/`scopeType`, `$expand=policy($expand=rules)`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph.generated.directory_objects.get_by_ids.get_by_ids_request_builder import (
    GetByIdsRequestBuilder,
)
from msgraph.generated.groups.groups_request_builder import GroupsRequestBuilder
from msgraph.generated.groups.item.group_item_request_builder import GroupItemRequestBuilder
from msgraph.generated.identity_governance.privileged_access.group.assignment_schedule_requests.assignment_schedule_requests_request_builder import (  # noqa: E501
    AssignmentScheduleRequestsRequestBuilder,
)
from msgraph.generated.identity_governance.privileged_access.group.assignment_schedules.assignment_schedules_request_builder import (  # noqa: E501
    AssignmentSchedulesRequestBuilder,
)
from msgraph.generated.identity_governance.privileged_access.group.eligibility_schedule_requests.eligibility_schedule_requests_request_builder import (  # noqa: E501
    EligibilityScheduleRequestsRequestBuilder,
)
from msgraph.generated.identity_governance.privileged_access.group.eligibility_schedules.eligibility_schedules_request_builder import (  # noqa: E501
    EligibilitySchedulesRequestBuilder,
)
from msgraph.generated.policies.role_management_policy_assignments.role_management_policy_assignments_request_builder import (  # noqa: E501
    RoleManagementPolicyAssignmentsRequestBuilder,
)
from msgraph.generated.service_principals.item.service_principal_item_request_builder import (
    ServicePrincipalItemRequestBuilder,
)
from msgraph.generated.service_principals.service_principals_request_builder import (
    ServicePrincipalsRequestBuilder,
)
from msgraph.generated.users.users_request_builder import UsersRequestBuilder
from stduritemplate import StdUriTemplate

from reconciler.desired.model import Kind
from reconciler.graph.transport import GraphHttp

USER_FIELDS = ["id", "displayName", "userPrincipalName", "assignedPlans"]
"""`assignedPlans` rides on the lookups resolution makes anyway (no extra round trip): the
licence check (`reconciler.plan.licences`) reads it. Not a default property, so `$select`ed."""
GROUP_FIELDS = ["id", "displayName", "groupTypes", "onPremisesSyncEnabled", "isAssignableToRole"]
SP_FIELDS = ["id", "displayName", "appId"]


def quote(value: str) -> str:
    """An OData string literal: single quotes, embedded `'` doubled (section 1.2)."""
    return "'" + value.replace("'", "''") + "'"


MAX_IN_VALUES = 15
"""Values in one `in (…)` clause: Graph's default limit (section 1.7)."""


def in_clause(field: str, values: Sequence[str]) -> str:
    """`field in ('a','b')` with each literal quoted (section 1.7). Raises `ValueError` for
    no value or more than `MAX_IN_VALUES`."""
    if not values or len(values) > MAX_IN_VALUES:
        raise ValueError(f"an 'in' clause takes 1 to {MAX_IN_VALUES} values, not {len(values)}")
    return f"{field} in ({','.join(quote(v) for v in values)})"


def _cfg(builder_cls: Any, params_name: str, **params: Any) -> RequestConfiguration:
    query = getattr(builder_cls, params_name)(**params)
    return RequestConfiguration(query_parameters=query)


_UNRESERVED = re.compile(r"^[A-Za-z0-9._~-]*$")
_SENTINELS = ("zqsentinelzero0zq", "zqsentinelone1zq")
"""Stand-ins for filter values: unreserved characters only, so URI-template expansion copies
them verbatim and they can be swapped for the (encoded) real value afterwards."""
_SENTINEL_RE = re.compile("|".join(_SENTINELS))


def _encode_query_value(text: str) -> str:
    """`text` as RFC 6570 form-style query expansion (`{?name}`) encodes it: what the request
    builders' std-uritemplate does to each character of a query parameter value."""
    if _UNRESERVED.match(text):
        return text  # unreserved characters are never percent-encoded
    return str(StdUriTemplate.expand("{?v}", {"v": text}))[len("?v="):]


class Urls:
    """Absolute and `$batch`-relative URLs for the calls the adapter makes.

    The per-object URLs (thousands per plan) come from a per-shape cache: the request builder
    expands the URL once with sentinel values, and each call swaps in its own values, encoded
    exactly as the builder would (`_encode_query_value`) - the same string, without a full
    URI-template expansion per URL.
    """

    def __init__(self, http: GraphHttp) -> None:
        self._http = http
        self._adapter = http.adapter
        self._params = http.path_parameters
        self._shapes: dict[str, str | None] = {}

    def _cached(self, shape: str, build: Callable[..., str], *values: str) -> str:
        """`build(*values)`, through the cache of `shape` (values are OData literal contents,
        placed where `build` puts them)."""
        if shape not in self._shapes:
            template: str | None = build(*_SENTINELS[: len(values)])
            if template is None or any(template.count(s) != 1 for s in _SENTINELS[: len(values)]):
                template = None
            self._shapes[shape] = template
        template = self._shapes[shape]
        if template is None:
            return build(*values)
        encoded = {s: _encode_query_value(v.replace("'", "''"))
                   for s, v in zip(_SENTINELS, values, strict=False)}
        return _SENTINEL_RE.sub(lambda m: encoded[m.group(0)], template)  # one pass

    def _rel(self, builder_cls: Any, **query: Any) -> str:
        builder = builder_cls(self._adapter, dict(self._params))
        name = builder_cls.__name__ + "GetQueryParameters"
        info = builder.to_get_request_information(_cfg(builder_cls, name, **query))
        return self._http.relative(info.url)

    def schedules(self, kind: Kind, group_id: str, principal_id: str | None = None) -> str:
        """`GET PAG/eligibilitySchedules` or `assignmentSchedules` filtered by group (and
        principal): the source of truth, never requests (section 1.2)."""
        cls = (EligibilitySchedulesRequestBuilder if kind is Kind.ELIGIBLE
               else AssignmentSchedulesRequestBuilder)
        if principal_id:
            return self._cached(
                f"schedules:{kind}:principal",
                lambda g, p: self._rel(
                    cls, filter=f"groupId eq {quote(g)} and principalId eq {quote(p)}"),
                group_id, principal_id)
        return self._cached(f"schedules:{kind}",
                            lambda g: self._rel(cls, filter=f"groupId eq {quote(g)}"), group_id)

    def policy_assignments(self, group_id: str) -> str:
        """Both policy assignments (member and owner) of a group, rules inlined (section 4.1)."""
        return self._cached("policy_assignments", lambda g: self._rel(
            RoleManagementPolicyAssignmentsRequestBuilder,
            filter=f"scopeId eq {quote(g)} and scopeType eq 'Group'",
            expand=["policy($expand=rules)"],
        ), group_id)

    def users_by_upn(self, upn: str) -> str:
        return self._cached("users_by_upn", lambda u: self._rel(
            UsersRequestBuilder, filter=f"userPrincipalName eq {quote(u)}", select=USER_FIELDS),
            upn)

    def groups_by_name(self, name: str) -> str:
        return self._cached("groups_by_name", lambda n: self._rel(
            GroupsRequestBuilder, filter=f"displayName eq {quote(n)}", select=GROUP_FIELDS),
            name)

    def users_in(self, upns: Sequence[str]) -> str:
        """`GET /users?$filter=userPrincipalName in (…)` for at most `MAX_IN_VALUES` UPNs
        (section 1.7). Raises `ValueError` for more."""
        return self._rel(UsersRequestBuilder, filter=in_clause("userPrincipalName", upns),
                         select=USER_FIELDS)

    def groups_in(self, names: Sequence[str]) -> str:
        """`GET /groups?$filter=displayName in (…)` (section 1.7). Raises `ValueError` for
        more than `MAX_IN_VALUES` names."""
        return self._rel(GroupsRequestBuilder, filter=in_clause("displayName", names),
                         select=GROUP_FIELDS)

    def service_principals_in(self, field: str, values: Sequence[str]) -> str:
        """`GET /servicePrincipals?$filter={field} in (…)`, `field` "displayName" or "appId"
        (section 1.7). Raises `ValueError` for more than `MAX_IN_VALUES` values."""
        return self._rel(ServicePrincipalsRequestBuilder, filter=in_clause(field, values),
                         select=SP_FIELDS)

    def group_by_id(self, object_id: str) -> str:
        builder = GroupItemRequestBuilder(self._adapter, {**self._params, "group%2Did": object_id})
        info = builder.to_get_request_information(_cfg(
            GroupItemRequestBuilder, "GroupItemRequestBuilderGetQueryParameters",
            select=GROUP_FIELDS))
        return self._http.relative(info.url)

    def service_principals_by(self, field: str, value: str) -> str:
        return self._cached(f"service_principals_by:{field}", lambda v: self._rel(
            ServicePrincipalsRequestBuilder, filter=f"{field} eq {quote(v)}", select=SP_FIELDS),
            value)

    def service_principal_by_id(self, object_id: str) -> str:
        builder = ServicePrincipalItemRequestBuilder(
            self._adapter, {**self._params, "servicePrincipal%2Did": object_id})
        info = builder.to_get_request_information(_cfg(
            ServicePrincipalItemRequestBuilder,
            "ServicePrincipalItemRequestBuilderGetQueryParameters", select=SP_FIELDS))
        return self._http.relative(info.url)

    def get_by_ids(self) -> str:
        """`POST /directoryObjects/getByIds` (body `{"ids": [...], "types": [...]}`)."""
        builder = GetByIdsRequestBuilder(self._adapter, dict(self._params))
        return self._http.relative(builder.url_template.replace("{+baseurl}", self._http.base_url))

    def schedule_requests(self, kind: Kind) -> str:
        """Absolute URL of `POST PAG/eligibilityScheduleRequests` / `assignmentScheduleRequests`."""
        cls = (EligibilityScheduleRequestsRequestBuilder if kind is Kind.ELIGIBLE
               else AssignmentScheduleRequestsRequestBuilder)
        template = cls(self._adapter, dict(self._params)).url_template
        return template.split("{?", 1)[0].replace("{+baseurl}", self._http.base_url)

    def first_of(self, collection: str) -> str:
        """`GET /users|groups|servicePrincipals?$top=1&$select=id`: the cheapest read of a
        directory collection (a reachability and permission probe)."""
        cls = {"users": UsersRequestBuilder, "groups": GroupsRequestBuilder,
               "servicePrincipals": ServicePrincipalsRequestBuilder}[collection]
        return self._rel(cls, top=1, select=["id"])

    def schedule_requests_of(self, kind: Kind, group_id: str) -> str:
        """`GET PAG/eligibilityScheduleRequests` / `assignmentScheduleRequests` filtered by
        group (section 1.2): listing requests needs the ReadWrite permission (section 5)."""
        cls = (EligibilityScheduleRequestsRequestBuilder if kind is Kind.ELIGIBLE
               else AssignmentScheduleRequestsRequestBuilder)
        return self._rel(cls, filter=f"groupId eq {quote(group_id)}")

    def absolute(self, relative: str) -> str:
        return self._http.base_url + relative
