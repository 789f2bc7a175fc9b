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

STORAGE_BLOB_DATA_READER = BuiltInRole(
    "Storage Blob Data Reader", "blob-reader", "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1", "Microsoft.Storage"
)
STORAGE_BLOB_DATA_CONTRIBUTOR = BuiltInRole(
    "Storage Blob Data Contributor", "blob-contributor", "ba92f5b4-2d11-453d-a403-e96b0029c9fe", "Microsoft.Storage"
)
STORAGE_QUEUE_DATA_READER = BuiltInRole(
    "Storage Queue Data Reader", "queue-reader", "19e7f393-937e-4f77-808e-94535e297925", "Microsoft.Storage"
)
STORAGE_QUEUE_DATA_MESSAGE_PROCESSOR = BuiltInRole(
    "Storage Queue Data Message Processor",
    "queue-processor",
    "8a0f0c08-91a1-4084-bc3d-661d67233fed",
    "Microsoft.Storage",
)
STORAGE_QUEUE_DATA_MESSAGE_SENDER = BuiltInRole(
    "Storage Queue Data Message Sender", "queue-sender", "c6a89b2d-59bc-44d0-9896-0f6e12d7b80a", "Microsoft.Storage"
)
EVENT_HUBS_DATA_RECEIVER = BuiltInRole(
    "Azure Event Hubs Data Receiver", "eh-data-receiver", "a638d3c7-ab3a-418d-83e6-5f17a39d4fde", "Microsoft.EventHub"
)

# The roles `azureAccess` may grant a job's code: built-in *data-plane* roles only (they act on data, never on
# the resource or its access control).
DATA_PLANE_ROLES: tuple[BuiltInRole, ...] = (
    STORAGE_BLOB_DATA_READER,
    STORAGE_BLOB_DATA_CONTRIBUTOR,
    STORAGE_QUEUE_DATA_READER,
    STORAGE_QUEUE_DATA_MESSAGE_PROCESSOR,
    STORAGE_QUEUE_DATA_MESSAGE_SENDER,
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
    EVENT_HUBS_DATA_RECEIVER,
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

# The one entity an event source's data roles reach when they are granted to an identity only the platform uses
# (the scaler's): one queue, one blob container, one event hub, as the parsed scope's type. The account or namespace
# above it reaches every queue, container or hub in it. Scope forms: Microsoft Learn "Assign an Azure role for access
# to queue data" (`<account id>/queueServices/default/queues/<queue>`), "... to blob data" (`<account
# id>/blobServices/default/containers/<container>`), and "Authorize access to Event Hubs resources using Microsoft
# Entra ID", resource scope "Event hub" (`<namespace id>/eventhubs/<hub>`).
QUEUE_SCOPE_TYPE = "Microsoft.Storage/storageAccounts/queueServices/queues"
CONTAINER_SCOPE_TYPE = "Microsoft.Storage/storageAccounts/blobServices/containers"
HUB_SCOPE_TYPE = "Microsoft.EventHub/namespaces/eventhubs"
SOURCE_ENTITY_TYPES: dict[str, str] = {
    **{
        DATA_PLANE_ROLES_BY_NAME[name].guid: QUEUE_SCOPE_TYPE
        for name in (
            STORAGE_QUEUE_DATA_READER.display_name,
            STORAGE_QUEUE_DATA_MESSAGE_PROCESSOR.display_name,
            STORAGE_QUEUE_DATA_MESSAGE_SENDER.display_name,
            "Storage Queue Data Contributor",
        )
    },
    STORAGE_BLOB_DATA_READER.guid: CONTAINER_SCOPE_TYPE,
    STORAGE_BLOB_DATA_CONTRIBUTOR.guid: CONTAINER_SCOPE_TYPE,
    EVENT_HUBS_DATA_RECEIVER.guid: HUB_SCOPE_TYPE,
    DATA_PLANE_ROLES_BY_NAME["Azure Event Hubs Data Sender"].guid: HUB_SCOPE_TYPE,
}

# Roles that can grant roles: their definitions include `Microsoft.Authorization/roleAssignments/write` (directly or
# through `*` / `Microsoft.Authorization/*`), so a holder can grant roles within their scope. Flagged at any scope.
# Read from the role definitions themselves: the daily `az role definition list` dump easimon/azure-builtin-roles
# (`azure-roles/<name>.json`, commit db0b2258, 2026-08-22; every definition scanned for the action and wildcards over
# it, `notActions` honoured) and MicrosoftDocs/azure-docs `articles/role-based-access-control/built-in-roles/
# privileged.md` (Owner, User Access Administrator, Role Based Access Control Administrator, Reservations
# Administrator; Contributor's `notActions` exclude `Microsoft.Authorization/*/Write`, so it is not here) and
# `articles/governance/service-groups/overview.md` (Service Group Administrator).
# The first four may assign any role; the others only the roles a condition on the permission lists (Key Vault Data
# Access Administrator: every Key Vault data role, Administrator included; the drills roles: Contributor among 23).
ROLES_THAT_GRANT_ROLES: dict[str, str] = {
    "8e3af657-a8ff-443c-a75c-2fe8c4bcb635": "Owner",
    "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9": "User Access Administrator",
    "f58310d9-a9f6-439a-9e8d-f62e7b41a168": "Role Based Access Control Administrator",
    "a8889054-8d42-49c9-bc1c-52486c10e7cd": "Reservations Administrator",
    "8b54135c-b56d-4d72-a534-26097cfdc8d8": "Key Vault Data Access Administrator",
    "66f75aeb-eabe-4b70-9f1e-c350c4c9ad04": "Virtual Machine Data Access Administrator (preview)",
    "bda0d508-adf1-4af0-9c28-88919fc3ae06": "Azure Stack HCI Administrator",
    "95de85bd-744d-4664-9dde-11430bc34793": "Azure Container Storage Owner",
    "95dd08a6-00bd-4661-84bf-f6726f83a4d0": "Azure Container Storage Contributor",
    "5a382001-fe36-41ff-bba4-8bf06bd54da9": "Azure Sphere Owner",
    "92b92042-07d9-4307-87f7-36a593fc5850": "Azure File Sync Administrator",
    "7b7c71ed-33fa-4ed2-a91a-e56d5da260b5": "Azure IoT Operations Onboarding",
    "fd8ea4d5-6509-4db0-bada-356ab233b4fa": "Azure Migrate Owner",
    "fd8ea4d5-6509-4db0-bada-356ab233b4fb": "Azure Local Migrate Owner",
    "1cfa4eac-9a23-481c-a793-bfb6958e836b": "Azure Migrate Execute Expert",
    "1cfa4eac-9a23-481c-a793-bfb6958e836c": "Azure Local Migrate Execute Expert",
    "c914561b-1575-4601-af9c-a1356bf59818": "Azure Resilience Management Drills Administrator",
    "5a2ec2f1-2375-4950-9906-59ec1d979249": "ARM Drills Assets Administrator",
    "e4c7f620-39b8-4688-bba2-70dd82ef367b": "ARM Drills Target Resource Administrator",
    "a2b7cc47-30ec-462f-a2f4-9ac6e1c266af": "ARM Goals Administrator",
    "481d9636-d9f0-468b-b93d-6056318e6f36": "ARM Recovery Administrator",
    "0f641de8-0b88-4198-bdef-bd8b45ceba96": "Defender for Storage Scanner Operator",
    "8480c0f0-4509-4229-9339-7c10018cb8c4": "Defender CSPM Storage Scanner Operator",
    "4c6569b6-f23e-4295-9b90-bd4cc4ff3292": "DevCenter Owner",
    "c883944f-8b7b-4483-af10-35834be79c4a": "Foundry Owner",
    "e47c6f54-e4a2-4754-9501-8e0985b135e1": "Foundry Account Owner",
    "eadc314b-1a2d-4efa-be10-5d325db5065e": "Foundry Project Manager",
    "7a2b6e6c-472e-4b39-8878-a26eb63d75c6": "Microsoft Discovery Platform Administrator (Preview)",
    "77789c21-1643-48a2-8f27-47f858540b51": "Storage Actions Task Assignment Contributor",
    "4e50c84c-c78e-4e37-b47e-e60ffea0a775": "Service Group Administrator",
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
