"""Azure built-in roles this project grants, allows or flags: one table, read by the program and the policy pack.

GUIDs are fixed by Azure for every built-in role (Microsoft Learn "Azure built-in roles", MicrosoftDocs/azure-docs
`articles/role-based-access-control/built-in-roles.md`), cross-checked against `az role definition list` output and
the AVM role tables.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BuiltInRole:
    """An Azure built-in role: display name, the slug used in logical names, its fixed GUID and, for a data-plane
    role, the resource provider whose resources it applies to."""

    display_name: str
    slug: str
    guid: str
    provider: str | None = None


ACR_PULL = BuiltInRole("AcrPull", "acr-pull", "7f951dda-4ed3-4680-a7ca-43fe172d538d")
SERVICE_BUS_DATA_OWNER = BuiltInRole(
    "Azure Service Bus Data Owner", "sb-data-owner", "090c5cfd-751d-490a-894a-3ce6f1109419", "Microsoft.ServiceBus"
)
SERVICE_BUS_DATA_RECEIVER = BuiltInRole(
    "Azure Service Bus Data Receiver",
    "sb-data-receiver",
    "4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0",
    "Microsoft.ServiceBus",
)
SERVICE_BUS_DATA_SENDER = BuiltInRole(
    "Azure Service Bus Data Sender", "sb-data-sender", "69a216fc-b8fb-44d8-bc22-1f3c2cd27a39", "Microsoft.ServiceBus"
)
KEY_VAULT_SECRETS_USER = BuiltInRole(
    "Key Vault Secrets User", "kv-secrets-user", "4633458b-17de-408a-b874-0445c86b69e6", "Microsoft.KeyVault"
)

# The roles `azureAccess` may grant a job's code: built-in *data-plane* roles only (they act on data, never on
# the resource or its access control).
DATA_PLANE_ROLES: tuple[BuiltInRole, ...] = (
    BuiltInRole("Storage Blob Data Reader", "blob-reader", "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1", "Microsoft.Storage"),
    BuiltInRole(
        "Storage Blob Data Contributor", "blob-contributor", "ba92f5b4-2d11-453d-a403-e96b0029c9fe", "Microsoft.Storage"
    ),
    BuiltInRole(
        "Storage Queue Data Reader", "queue-reader", "19e7f393-937e-4f77-808e-94535e297925", "Microsoft.Storage"
    ),
    BuiltInRole(
        "Storage Queue Data Message Processor",
        "queue-processor",
        "8a0f0c08-91a1-4084-bc3d-661d67233fed",
        "Microsoft.Storage",
    ),
    BuiltInRole(
        "Storage Queue Data Message Sender", "queue-sender", "c6a89b2d-59bc-44d0-9896-0f6e12d7b80a", "Microsoft.Storage"
    ),
    BuiltInRole(
        "Storage Queue Data Contributor",
        "queue-contributor",
        "974c5e8b-45b9-4653-ba55-5f855dd0fb88",
        "Microsoft.Storage",
    ),
    BuiltInRole(
        "Storage Table Data Reader", "table-reader", "76199698-9eea-4c19-bc75-cec21354c6b6", "Microsoft.Storage"
    ),
    BuiltInRole(
        "Storage Table Data Contributor",
        "table-contributor",
        "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3",
        "Microsoft.Storage",
    ),
    SERVICE_BUS_DATA_SENDER,
    SERVICE_BUS_DATA_RECEIVER,
    BuiltInRole(
        "Azure Event Hubs Data Sender", "eh-data-sender", "2b629674-e913-4c01-ae53-ef4638d8f975", "Microsoft.EventHub"
    ),
    BuiltInRole(
        "Azure Event Hubs Data Receiver",
        "eh-data-receiver",
        "a638d3c7-ab3a-418d-83e6-5f17a39d4fde",
        "Microsoft.EventHub",
    ),
    KEY_VAULT_SECRETS_USER,
)
DATA_PLANE_ROLES_BY_NAME = {role.display_name: role for role in DATA_PLANE_ROLES}
DATA_PLANE_ROLES_BY_GUID = {role.guid: role for role in DATA_PLANE_ROLES}
SERVICE_BUS_DATA_ROLES = {
    role.guid: role for role in (SERVICE_BUS_DATA_OWNER, SERVICE_BUS_DATA_RECEIVER, SERVICE_BUS_DATA_SENDER)
}

# The one resource type each data-plane provider's roles may be granted at, beyond "a resource of the provider":
# Key Vault Secrets User reads every secret below its scope, so it is granted at one secret; Service Bus data roles
# at one queue or topic (a namespace scope covers every entity in it).
NARROWEST_SCOPE_TYPES: dict[str, tuple[str, ...]] = {
    KEY_VAULT_SECRETS_USER.guid: ("Microsoft.KeyVault/vaults/secrets",),
    **{
        guid: ("Microsoft.ServiceBus/namespaces/queues", "Microsoft.ServiceBus/namespaces/topics")
        for guid in SERVICE_BUS_DATA_ROLES
    },
}

# Roles that can grant roles: their definitions include `Microsoft.Authorization/roleAssignments/write` (directly or
# through `*` / `Microsoft.Authorization/*`), so a holder can grant itself anything within their scope. Flagged at
# any scope. Sources: Microsoft Learn "Azure built-in roles" (Privileged, Security, Compute), each role's definition.
ROLES_THAT_GRANT_ROLES: dict[str, str] = {
    "8e3af657-a8ff-443c-a75c-2fe8c4bcb635": "Owner",
    "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9": "User Access Administrator",
    "f58310d9-a9f6-439a-9e8d-f62e7b41a168": "Role Based Access Control Administrator",
    "8b54135c-b56d-4d72-a534-26097cfdc8d8": "Key Vault Data Access Administrator",
}
# Management roles flagged at any scope although they cannot grant roles: they change or delete the resources.
MANAGEMENT_ROLES: dict[str, str] = {
    "b24988ac-6180-42a0-ab88-20f7382dd24c": "Contributor",
}
# Key Vault data roles that write or manage vault contents, which no job needs.
KEY_VAULT_MANAGING_ROLES: dict[str, str] = {
    "00482a5a-887f-4fb3-b363-3b7fe8e74483": "Key Vault Administrator",
    "b86a8fe4-44ce-4948-aee5-eccb2c155cd7": "Key Vault Secrets Officer",
    "14b46e9e-c2b7-41b4-b07b-48a6ebf60603": "Key Vault Crypto Officer",
}


def role_guid_of(role_definition_id: object) -> str | None:
    """The GUID of `/subscriptions/<sub>/providers/Microsoft.Authorization/roleDefinitions/<guid>` (or the tenant-level
    `/providers/Microsoft.Authorization/roleDefinitions/<guid>`), lower-cased; None for anything else. Role
    definitions compare by GUID: the subscription part differs between stacks, the role does not."""
    if not isinstance(role_definition_id, str):
        return None
    segments = role_definition_id.split("/")
    lowered = [segment.lower() for segment in segments]
    if lowered[:1] != [""]:
        return None
    tail = lowered[3:] if lowered[1:2] == ["subscriptions"] and len(segments) > 2 and segments[2] else lowered[1:]
    if len(tail) != 4 or tail[:3] != ["providers", "microsoft.authorization", "roledefinitions"]:
        return None
    guid = tail[3]
    parts = guid.split("-")
    if [len(p) for p in parts] != [8, 4, 4, 4, 12] or not all(c in "0123456789abcdef-" for c in guid):
        return None
    return guid
