"""Names and ids derived once, the same way for every job kind: identity names, built-in roles,
role definition ids and deterministic role-assignment names."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

# Fixed namespace for role-assignment GUIDs: changing it would rename (replace) every assignment.
ROLE_ASSIGNMENT_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:aca-jobs:role-assignment")


@dataclass(frozen=True)
class BuiltInRole:
    """An Azure built-in role: display name, the slug used in logical names, and its fixed GUID."""

    display_name: str
    slug: str
    guid: str


ACR_PULL = BuiltInRole("AcrPull", "acr-pull", "7f951dda-4ed3-4680-a7ca-43fe172d538d")
SERVICE_BUS_DATA_OWNER = BuiltInRole(
    "Azure Service Bus Data Owner", "sb-data-owner", "090c5cfd-751d-490a-894a-3ce6f1109419"
)
SERVICE_BUS_DATA_RECEIVER = BuiltInRole(
    "Azure Service Bus Data Receiver", "sb-data-receiver", "4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0"
)
SERVICE_BUS_DATA_SENDER = BuiltInRole(
    "Azure Service Bus Data Sender", "sb-data-sender", "69a216fc-b8fb-44d8-bc22-1f3c2cd27a39"
)


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
