"""Real jobs: a scheduled job with a command, a Key Vault secret and an `azureAccess` grant, as registered and
sent; the workload-profiles environment; and the stack-file mistakes that must stop a preview (exit 2)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import EXPORTS_CONTAINER_ID, KEY_VAULT_ID, REGISTRY_ID, arm_id, find

from components import scheduled_job
from components.naming import ACR_PULL, KEY_VAULT_SECRETS_USER, role_definition_id
from tools import preview
from tools.offline import DEPLOYED, NEW_STACK, ProgramRun, run_program

JOB = "azure-native:app:Job"
IDENTITY = "azure-native:managedidentity:UserAssignedIdentity"
ROLE_ASSIGNMENT = "azure-native:authorization:RoleAssignment"
ENVIRONMENT = "azure-native:app:ManagedEnvironment"
NAME = "job-orders-nightly"
SECRET_ID = f"{KEY_VAULT_ID}/secrets/orders-db-password"
BLOB_DATA_CONTRIBUTOR = "ba92f5b4-2d11-453d-a403-e96b0029c9fe"


def run(config: dict[str, Any], mode: str = NEW_STACK) -> ProgramRun:
    return run_program(config, "test", stack_file="Pulumi.test.yaml", mode=mode)


@pytest.fixture
def full_run(full_config: dict[str, Any]) -> ProgramRun:
    return run(full_config)


@pytest.fixture
def deployed_full_run(full_config: dict[str, Any]) -> ProgramRun:
    return run(full_config, DEPLOYED)


def grants_to(run_: ProgramRun, identity_name: str) -> list[tuple[str, str]]:
    """(role GUID, scope) of every role assignment to one identity, read from what the engine registered."""
    identity = find(run_, IDENTITY, identity_name)
    return sorted(
        (ra.inputs["roleDefinitionId"].rsplit("/", 1)[-1], ra.inputs["scope"])
        for ra in run_.by_type(ROLE_ASSIGNMENT)
        if identity.urn in ra.property_dependencies["principalId"]
    )


def test_the_schedule_is_the_trigger(full_run: ProgramRun) -> None:
    configuration = find(full_run, JOB, NAME).wire_inputs["configuration"]
    assert configuration["triggerType"] == "Schedule"
    assert configuration["scheduleTriggerConfig"] == {
        "cronExpression": "0 2 * * *",
        "parallelism": 1.0,
        "replicaCompletionCount": 1.0,
    }
    assert "manualTriggerConfig" not in configuration and "eventTriggerConfig" not in configuration


def test_command_and_args_are_on_the_container(full_run: ProgramRun) -> None:
    container = find(full_run, JOB, NAME).inputs["template"]["containers"][0]
    assert container["command"] == ["python", "-m", "orders.nightly_export"]
    assert container["args"] == ["--since", "24h"]
    # Jobs without them keep the image's own entrypoint: nothing is sent.
    backfill = find(full_run, JOB, "job-orders-backfill").inputs["template"]["containers"][0]
    assert "command" not in backfill and "args" not in backfill


def test_the_secret_is_a_key_vault_reference_read_by_the_lifecycle_none_identity(full_run: ProgramRun) -> None:
    job = find(full_run, JOB, NAME)
    pull = find(full_run, IDENTITY, f"{NAME}-pull")
    configuration = job.inputs["configuration"]
    assert configuration["secrets"] == [
        {
            "name": "db-password",
            "keyVaultUrl": "https://kv-aca-test.vault.azure.net/secrets/orders-db-password",
            "identity": arm_id(pull),
        }
    ]
    assert {"identity": arm_id(pull), "lifecycle": "None"} in configuration["identitySettings"]
    env = {entry["name"]: entry for entry in job.inputs["template"]["containers"][0]["env"]}
    assert env["DB_PASSWORD"] == {"name": "DB_PASSWORD", "secretRef": "db-password"}
    assert env["DB_HOST"] == {"name": "DB_HOST", "value": "orders-db.postgres.database.azure.com"}


def test_key_vault_secrets_user_is_granted_on_that_secret_only(full_run: ProgramRun) -> None:
    registry_grant = (ACR_PULL.guid, REGISTRY_ID)
    assert grants_to(full_run, f"{NAME}-pull") == sorted([registry_grant, (KEY_VAULT_SECRETS_USER.guid, SECRET_ID)])
    grant = find(full_run, ROLE_ASSIGNMENT, f"{NAME}-pull-kv-secrets-user-orders-db-password")
    # The role definition comes from the vault's subscription (ARM refuses one from another subscription).
    assert grant.inputs["roleDefinitionId"] == role_definition_id(KEY_VAULT_SECRETS_USER, SECRET_ID)
    assert grant.inputs["principalType"] == "ServicePrincipal"
    # No other identity of the stack may read the vault.
    readers = [
        ra for ra in full_run.by_type(ROLE_ASSIGNMENT) if KEY_VAULT_SECRETS_USER.guid in ra.inputs["roleDefinitionId"]
    ]
    assert [ra.name for ra in readers] == [grant.name]


def test_the_code_gets_its_own_lifecycle_main_identity_with_the_grant(deployed_full_run: ProgramRun) -> None:
    job = find(deployed_full_run, JOB, NAME)
    workload = find(deployed_full_run, IDENTITY, f"{NAME}-workload")
    assert workload.inputs["resourceName"] == "id-job-orders-nightly-workload"
    assert grants_to(deployed_full_run, f"{NAME}-workload") == [(BLOB_DATA_CONTRIBUTOR, EXPORTS_CONTAINER_ID)]
    assert {"identity": arm_id(workload), "lifecycle": "Main"} in job.inputs["configuration"]["identitySettings"]
    assert arm_id(workload) in job.inputs["identity"]["userAssignedIdentities"]
    env = {entry["name"]: entry.get("value") for entry in job.inputs["template"]["containers"][0]["env"]}
    assert env["AZURE_CLIENT_ID"] == workload.outputs["clientId"]


def test_a_job_without_azure_access_has_no_workload_identity(full_run: ProgramRun) -> None:
    identities = {identity.name for identity in full_run.by_type(IDENTITY)}
    assert "job-orders-backfill-workload" not in identities
    env = find(full_run, JOB, "job-orders-backfill").inputs["template"]["containers"][0].get("env") or []
    assert "AZURE_CLIENT_ID" not in {entry["name"] for entry in env}


def test_the_job_waits_for_every_grant_of_its_identities(full_run: ProgramRun) -> None:
    job = find(full_run, JOB, NAME)
    grants = {
        ra.urn for ra in full_run.by_type(ROLE_ASSIGNMENT) if ra.name.startswith((f"{NAME}-pull", f"{NAME}-workload"))
    }
    assert len(grants) == 3
    assert grants <= set(job.dependencies)


def test_event_jobs_add_azure_access_grants_to_their_workload_identity(full_config: dict[str, Any]) -> None:
    other_queue = (
        "/subscriptions/33333333-3333-3333-3333-333333333333/resourceGroups/rg-data/providers/"
        "Microsoft.ServiceBus/namespaces/sb-shipping/queues/shipments"
    )
    full_config["aca-jobs:eventJobs"]["job-orders-queue"]["azureAccess"] = [
        {"role": "Azure Service Bus Data Sender", "scope": other_queue}
    ]
    result = run(full_config)
    granted = grants_to(result, "job-orders-queue-workload")
    assert ("69a216fc-b8fb-44d8-bc22-1f3c2cd27a39", other_queue) in granted  # the new grant, at its one queue
    assert len(granted) == 2  # beside Data Receiver on its own queue; no second workload identity
    assert [i.name for i in result.by_type(IDENTITY) if i.name.startswith("job-orders-queue")] == [
        "job-orders-queue-scaler",
        "job-orders-queue-workload",
    ]


def test_next_runs_are_the_next_three_in_utc(full_config: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scheduled_job, "clock", lambda: datetime(2026, 11, 21, 10, 0, tzinfo=UTC))
    outputs = run(full_config).outputs["jobs"][NAME]
    assert outputs["nextRunsUtc"] == ["2026-11-22T02:00Z", "2026-11-23T02:00Z", "2026-11-24T02:00Z"]
    assert outputs["cronExpressionUtc"] == "0 2 * * *"
    assert outputs["startCommand"].startswith(f"az containerapp job start --name {NAME} ")


def test_the_environment_has_the_consumption_profile_and_the_dedicated_ones(full_config: dict[str, Any]) -> None:
    full_config["aca-jobs:platform"]["environment"]["workloadProfiles"] = [
        {"name": "dedicated-d4", "workloadProfileType": "D4", "minimumCount": 0, "maximumCount": 2}
    ]
    full_config["aca-jobs:manualJobs"]["job-orders-backfill"].update(
        workloadProfile="dedicated-d4", cpu=3, memory="6Gi"
    )
    result = run(full_config)
    # `enableFips: false` is the SDK's own default for every profile (`app.WorkloadProfileArgs`), sent as written.
    assert find(result, ENVIRONMENT).wire_inputs["workloadProfiles"] == [
        {"name": "Consumption", "workloadProfileType": "Consumption", "enableFips": False},
        {
            "name": "dedicated-d4",
            "workloadProfileType": "D4",
            "minimumCount": 0.0,
            "maximumCount": 2.0,
            "enableFips": False,
        },
    ]
    assert find(result, JOB, "job-orders-backfill").inputs["workloadProfileName"] == "dedicated-d4"
    assert find(result, JOB, NAME).inputs["workloadProfileName"] == "Consumption"


# --- mistakes that stop the preview ----------------------------------------------------------------------


def preview_exit(tmp_path: Path, config: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    path = tmp_path / "Pulumi.test.yaml"
    path.write_text(yaml.safe_dump({"config": config}, sort_keys=False))
    code = preview.main(["--stack", "test", "--config-file", str(path)])
    return code, capsys.readouterr().err


def nightly(config: dict[str, Any]) -> dict[str, Any]:
    return config["aca-jobs:scheduledJobs"][NAME]


@pytest.mark.parametrize(
    ("case", "change", "key"),
    [
        ("bad-cron", lambda c: nightly(c).update(cronExpression="0 2 * * * *"), f"{NAME}.cronExpression"),
        (
            "another-vault",
            lambda c: nightly(c)["secrets"]["db-password"].update(
                keyVaultSecretUrl="https://kv-elsewhere.vault.azure.net/secrets/orders-db-password"
            ),
            f"{NAME}.secrets.db-password.keyVaultSecretUrl",
        ),
        (
            "management-role",
            lambda c: nightly(c)["azureAccess"][0].update(role="Contributor"),
            f"{NAME}.azureAccess.0.role",
        ),
        ("cpu-above-consumption", lambda c: nightly(c).update(cpu=4.5, memory="9Gi"), f"{NAME}.cpu"),
    ],
)
def test_a_mistake_exits_2_naming_the_key(tmp_path, capsys, full_config, case: str, change, key: str) -> None:
    config = copy.deepcopy(full_config)
    change(config)
    code, err = preview_exit(tmp_path, config, capsys)
    assert code == 2, err
    assert f"Pulumi.test.yaml: aca-jobs:scheduledJobs.{key}: " in err and "Fix: " in err
    assert "Traceback" not in err
