"""Names and ids derived once, the same way for every job kind: identity names, built-in roles,
role definition ids and deterministic role-assignment names."""

from __future__ import annotations

import uuid

from policy.aca_facts.arm_id import ArmId

# The role table lives with the facts the policy pack shares (`policy/aca_facts/roles.py`); re-exported here for
# the program's components.
from policy.aca_facts.roles import (
    ACR_PULL,
    DATA_PLANE_ROLES,
    DATA_PLANE_ROLES_BY_NAME,
    KEY_VAULT_SECRETS_USER,
    SERVICE_BUS_DATA_OWNER,
    SERVICE_BUS_DATA_RECEIVER,
    SERVICE_BUS_DATA_SENDER,
    BuiltInRole,
)

# Fixed namespace for role-assignment GUIDs: changing it would rename (replace) every assignment.
ROLE_ASSIGNMENT_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:aca-jobs:role-assignment")


__all__ = [
    "ACR_PULL",
    "DATA_PLANE_ROLES",
    "DATA_PLANE_ROLES_BY_NAME",
    "KEY_VAULT_SECRETS_USER",
    "SERVICE_BUS_DATA_OWNER",
    "SERVICE_BUS_DATA_RECEIVER",
    "SERVICE_BUS_DATA_SENDER",
    "BuiltInRole",
    "identity_name",
    "role_assignment_name",
    "role_definition_id",
    "subscription_of",
]


def subscription_of(resource_id: str) -> str:
    """The subscription id in an ARM resource id (`/subscriptions/<sub>/...`), read from the parsed id."""
    parsed = ArmId.try_parse(resource_id)
    if parsed is None or parsed.subscription is None:
        raise ValueError(f"not an ARM resource id in a subscription: {resource_id!r}")
    return parsed.subscription


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
