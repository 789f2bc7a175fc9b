"""Names and ids derived once, the same way for every job kind: identity names, built-in roles,
role definition ids and deterministic role-assignment names."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

# Fixed namespace for role-assignment GUIDs: changing it would rename (replace) every assignment.
ROLE_ASSIGNMENT_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:aca-jobs:role-assignment")


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
    "Azure Service Bus Data Owner", "sb-data-owner", "090c5cfd-751d-490a-894a-3ce6f1109419"
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
# the resource or its access control). GUIDs from Microsoft Learn "Azure built-in roles"
# (MicrosoftDocs/azure-docs `articles/role-based-access-control/built-in-roles.md`), cross-checked against
# `az role definition list` output and the AVM role tables.
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


def subscription_of(resource_id: str) -> str:
    """The subscription id in an ARM resource id (`/subscriptions/<sub>/...`)."""
    parts = resource_id.split("/")
    if len(parts) < 3 or parts[1].lower() != "subscriptions" or not parts[2]:
        raise ValueError(f"not an ARM resource id: {resource_id!r}")
    return parts[2]


def role_definition_id(role: BuiltInRole, scope: str) -> str:
    """The role definition id in the scope's own subscription (ARM rejects a definition from another one)."""
    subscription = subscription_of(scope)
    return f"/subscriptions/{subscription}/providers/Microsoft.Authorization/roleDefinitions/{role.guid}"


def role_assignment_name(scope: str, principal_id: str, role: BuiltInRole) -> str:
    """A role assignment's name must be a GUID; deriving it from what it grants makes re-runs idempotent
    and gives a new name (a clean replace) when the principal is recreated."""
    return str(uuid.uuid5(ROLE_ASSIGNMENT_NAMESPACE, f"{scope.lower()}|{principal_id}|{role.guid}"))


def identity_name(job_name: str, purpose: str) -> str:
    """Physical name of a job's user-assigned identity, e.g. `id-job-orders-backfill-pull`."""
    return f"id-{job_name}-{purpose}"
