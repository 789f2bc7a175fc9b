"""The platform contract is plain and serialisable: what a platform stack would export (issue 17)."""

from __future__ import annotations

import json

import pytest

from components.platform_contract import (
    CONTRACT_VERSION,
    PlatformContract,
    RegistryContract,
    ServiceBusContract,
    StorageContract,
    WorkloadProfileContract,
    contract_from_output,
)

SUB = "/subscriptions/00000000-0000-0000-0000-000000000000"
RG = f"{SUB}/resourceGroups/rg-aca-prod"


def contract(**changes: object) -> PlatformContract:
    values: dict[str, object] = {
        "subscription_id": "00000000-0000-0000-0000-000000000000",
        "location": "koreacentral",
        "environment_id": f"{RG}/providers/Microsoft.App/managedEnvironments/aca-env-prod",
        "workload_profiles": (WorkloadProfileContract("dedicated-d4", "D4", 0, 2, 4, 16),),
        "core_quota": 100,
        "workspace_id": f"{RG}/providers/Microsoft.OperationalInsights/workspaces/log-aca-env-prod",
        "workspace_customer_id": "11111111-1111-1111-1111-111111111111",
        "registry": RegistryContract(
            "acrsharedprod.azurecr.io",
            f"{SUB}/resourceGroups/rg-shared/providers/Microsoft.ContainerRegistry/registries/acrsharedprod",
        ),
        "service_bus": ServiceBusContract(
            "sb-aca-prod",
            "00000000-0000-0000-0000-000000000000",
            "sb-aca-prod",
            f"{RG}/providers/Microsoft.ServiceBus/namespaces/sb-aca-prod",
            "sb-aca-prod.servicebus.windows.net",
            "rg-aca-prod",
            "rg-aca-prod",
            "Standard",
            False,
        ),
        "key_vault_id": f"{SUB}/resourceGroups/rg-shared/providers/Microsoft.KeyVault/vaults/kv-aca-prod",
        "action_group_id": f"{RG}/providers/Microsoft.Insights/actionGroups/ag-aca-env-prod",
        "tags": {"owner": "platform-team"},
        "protect": True,
    }
    values.update(changes)
    return PlatformContract(**values)  # type: ignore[arg-type]


def test_the_contract_serialises_to_plain_json_with_its_version() -> None:
    output = contract().to_output()
    assert json.loads(json.dumps(output)) == output
    assert output["version"] == CONTRACT_VERSION
    assert output["serviceBus"]["localAuthAllowed"] is False
    assert output["environment"]["workloadProfiles"][0] == {
        "name": "dedicated-d4",
        "workloadProfileType": "D4",
        "minimumCount": 0,
        "maximumCount": 2,
        "nodeCores": 4,
        "nodeMemoryGib": 16,
    }


def test_optional_pieces_are_null_not_missing() -> None:
    output = contract(service_bus=None, key_vault_id=None, action_group_id=None).to_output()
    assert output["serviceBus"] is None and output["keyVault"] is None and output["actionGroupId"] is None


def test_a_secret_scope_is_one_secret_of_the_platforms_vault() -> None:
    assert (
        contract().key_vault_secret_id("orders-db-password").endswith("/vaults/kv-aca-prod/secrets/orders-db-password")
    )
    with pytest.raises(ValueError):
        contract(key_vault_id=None).key_vault_secret_id("x")


def test_storages_are_exported_by_name_and_read_back() -> None:
    output = contract(storages=(StorageContract("reports", "ReadOnly"),)).to_output()
    assert output["environment"]["storages"] == [{"name": "reports", "accessMode": "ReadOnly"}]
    read = contract_from_output(json.loads(json.dumps(output)), "the platform stack")
    assert read.storages == (StorageContract("reports", "ReadOnly"),)
