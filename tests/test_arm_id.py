"""ARM ids are parsed into scope levels and compared structurally (`policy/aca_facts/arm_id.py`)."""

from __future__ import annotations

import pytest

from policy.aca_facts.arm_id import MANAGEMENT_GROUP, RESOURCE, RESOURCE_GROUP, SUBSCRIPTION, ArmId, ArmIdError
from policy.aca_facts.roles import role_guid_of

SUB = "/subscriptions/00000000-0000-0000-0000-000000000000"
VAULT = f"{SUB}/resourceGroups/rg-shared/providers/Microsoft.KeyVault/vaults/kv-aca-prod"
SECRET = f"{VAULT}/secrets/orders-db-password"


@pytest.mark.parametrize(
    ("text", "level"),
    [
        ("/providers/Microsoft.Management/managementGroups/mg-root", MANAGEMENT_GROUP),
        (SUB, SUBSCRIPTION),
        (f"{SUB}/resourceGroups/rg-shared", RESOURCE_GROUP),
        (VAULT, RESOURCE),
        (SECRET, RESOURCE),
    ],
)
def test_levels(text: str, level: str) -> None:
    assert ArmId.parse(text).level == level


@pytest.mark.parametrize(
    "text",
    [
        f"{SECRET}/..",  # normalises to the whole vault
        f"{VAULT}/secrets/.",
        f"{SUB}//resourceGroups/rg",
        f"{VAULT}/secrets/ orders",
        f"{VAULT}/secrets/orders\t",
        f"{SUB}/resourceGroups/rg/providers/Microsoft.KeyVault::/vaults/v",
        f"{VAULT}/",
        f"{VAULT}/secrets",  # a type without a name
        "subscriptions/00000000-0000-0000-0000-000000000000",
        "/subscriptions/not-a-guid/resourceGroups/rg",
        "",
        f"{VAULT}/providers/Microsoft.Authorization/roleAssignments/x",
        "/providers/Microsoft.Management/managementGroups/mg/subscriptions/x",
    ],
)
def test_refuses_what_arm_never_produces(text: str) -> None:
    with pytest.raises(ArmIdError):
        ArmId.parse(text)


def test_compares_case_insensitively_and_by_structure() -> None:
    assert ArmId.parse(SECRET) == ArmId.parse(SECRET.upper().replace("SUBSCRIPTIONS", "subscriptions"))
    assert ArmId.parse(SECRET).is_within(ArmId.parse(VAULT))
    assert not ArmId.parse(VAULT).is_within(ArmId.parse(SECRET))
    assert ArmId.parse(VAULT).is_within(ArmId.parse(SUB))
    other_sub = VAULT.replace("00000000-0000-0000-0000-000000000000", "11111111-1111-1111-1111-111111111111")
    assert not ArmId.parse(other_sub).is_within(ArmId.parse(SUB))


def test_a_resource_group_named_secrets_is_not_a_secret() -> None:
    """Text matching took `/resourceGroups/secrets/...` for a secret scope."""
    tricky = ArmId.parse(f"{SUB}/resourceGroups/secrets/providers/Microsoft.KeyVault/vaults/kv-aca-prod")
    assert not tricky.is_type("Microsoft.KeyVault/vaults/secrets")
    assert ArmId.parse(SECRET).is_type("microsoft.keyvault/VAULTS/secrets")
    assert ArmId.parse(SECRET).name_of("vaults") == "kv-aca-prod"


def test_parent_and_child() -> None:
    secret = ArmId.parse(SECRET)
    assert secret.parent == ArmId.parse(VAULT)
    assert ArmId.parse(VAULT).child("secrets", "orders-db-password") == secret
    assert ArmId.parse(VAULT).parent == ArmId.parse(f"{SUB}/resourceGroups/rg-shared")
    with pytest.raises(ArmIdError):
        ArmId.parse(VAULT).child("secrets", "..")


@pytest.mark.parametrize(
    ("text", "guid"),
    [
        (
            f"{SUB}/providers/Microsoft.Authorization/roleDefinitions/4633458B-17DE-408A-B874-0445C86B69E6",
            "4633458b-17de-408a-b874-0445c86b69e6",
        ),
        (
            "/providers/Microsoft.Authorization/roleDefinitions/4633458b-17de-408a-b874-0445c86b69e6",
            "4633458b-17de-408a-b874-0445c86b69e6",
        ),
        (f"{SUB}/providers/Microsoft.Authorization/roleDefinitions/not-a-guid", None),
        (f"{SUB}/providers/Microsoft.Foo/roleDefinitions/4633458b-17de-408a-b874-0445c86b69e6", None),
        (None, None),
    ],
)
def test_role_definitions_compare_by_guid(text: str | None, guid: str | None) -> None:
    assert role_guid_of(text) == guid
