"""Which application permissions each endpoint accepts (graph-pim-reference.md section 5).

A request passes when its granted permissions (`Call.granted`: the bearer token's roles, or
the tenant's `granted_permissions` for an anonymous call) are None (all granted) or hold any
one of the accepted scopes. PIM and policy endpoints refuse with 403 `UnknownError` +
embedded `PermissionScopeNotGranted` (reference 3.1, TF-1386); directory endpoints with
Graph's usual 403 `Authorization_RequestDenied`.
"""

from __future__ import annotations

from reconciler.emulator.errors import GraphError, directory_denied, permission_scope_not_granted

_LEVEL = {"eligible": "PrivilegedEligibilitySchedule", "active": "PrivilegedAssignmentSchedule"}
_DIRECTORY = ["Directory.Read.All", "Directory.ReadWrite.All"]

USERS = ["User.Read.All", "User.ReadWrite.All", *_DIRECTORY]
GROUPS = ["Group.Read.All", "Group.ReadWrite.All", "GroupMember.Read.All", *_DIRECTORY]
SERVICE_PRINCIPALS = ["Application.Read.All", "Application.ReadWrite.All", *_DIRECTORY]
DIRECTORY_OBJECTS = [*_DIRECTORY, "User.Read.All", "Group.Read.All", "Application.Read.All"]
POLICIES = ["RoleManagementPolicy.Read.AzureADGroup", "RoleManagementPolicy.ReadWrite.AzureADGroup"]
ALL = [
    "Application.Read.All",
    "Group.Read.All",
    "PrivilegedAssignmentSchedule.ReadWrite.AzureADGroup",
    "PrivilegedEligibilitySchedule.ReadWrite.AzureADGroup",
    "RoleManagementPolicy.ReadWrite.AzureADGroup",
    "User.Read.All",
]
"""Roles that pass every check here (least privilege for reading and writing everything the
emulator serves): the synthetic application's token roles when `granted_permissions` is
unset, i.e. all granted."""


def pim_read(kind: str) -> list[str]:
    """Scopes that may read schedules and instances of `kind` (eligible | active)."""
    level = _LEVEL[kind]
    return [
        f"{level}.Read.AzureADGroup",
        f"{level}.ReadWrite.AzureADGroup",
        "PrivilegedAccess.Read.AzureADGroup",
        "PrivilegedAccess.ReadWrite.AzureADGroup",
    ]


def pim_requests_read(kind: str) -> list[str]:
    """Scopes that may list or get schedule requests (ReadWrite only, reference 5)."""
    return [f"{_LEVEL[kind]}.ReadWrite.AzureADGroup", "PrivilegedAccess.ReadWrite.AzureADGroup"]


def pim_write(kind: str, action: str | None) -> list[str]:
    """Scopes that may POST a request with `action`; removals also accept `.Remove`."""
    scopes = [f"{_LEVEL[kind]}.ReadWrite.AzureADGroup", "PrivilegedAccess.ReadWrite.AzureADGroup"]
    if action and action.lower() == "adminremove":
        scopes.append(f"{_LEVEL[kind]}.Remove.AzureADGroup")
    return scopes


def require(granted: set[str] | None, accepted: list[str], *, directory: bool = False) -> None:
    """Raise the matching 403 `GraphError` unless one of `accepted` is granted."""
    if granted is None or any(scope in granted for scope in accepted):
        return
    error: GraphError = directory_denied() if directory else permission_scope_not_granted(accepted)
    raise error
