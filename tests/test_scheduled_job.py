"""Real jobs: a scheduled job with a command, a Key Vault secret and an `azureAccess` grant, as registered and
sent; the workload-profiles environment; and the stack-file mistakes that must stop a preview (exit 2)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import EXPORTS_CONTAINER_ID, KEY_VAULT_ID, REGISTRY_ID, arm_id, assert_rule_broken, config_error, find

from components import scheduled_job
from components.naming import ACR_PULL, KEY_VAULT_SECRETS_USER, role_definition_id
from components.stack_config import load_stack_config
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
        ("unknown-time-zone", lambda c: nightly(c).update(timeZone="Europe/Berln"), f"{NAME}.timeZone"),
        (
            "not-one-utc-expression",
            lambda c: nightly(c).update(timeZone="Asia/Seoul", cronExpression="30 1 1 * *"),
            f"{NAME}.cronExpression",
        ),
    ],
)
def test_a_mistake_exits_2_naming_the_key(tmp_path, capsys, full_config, case: str, change, key: str) -> None:
    config = copy.deepcopy(full_config)
    change(config)
    code, err = preview_exit(tmp_path, config, capsys)
    assert code == 2, err
    assert f"Pulumi.test.yaml: aca-jobs:scheduledJobs.{key}: " in err and "Fix: " in err
    assert "Traceback" not in err


# --- schedules in local time (components/local_schedule.py) ------------------------------------------------

JANUARY = datetime(2027, 1, 15, 12, 0, tzinfo=UTC)
JULY = datetime(2027, 7, 15, 12, 0, tzinfo=UTC)
BEFORE_DST = datetime(2027, 3, 5, 12, 0, tzinfo=UTC)  # New York moves to -04:00 on 2027-03-14 at 07:00 UTC
LOCAL_OUTPUTS = {"timeZone", "cronExpressionLocal", "utcOffset", "nextRunsLocal", "nextOffsetChange"}


def in_zone(config: dict[str, Any], zone: str, expression: str) -> dict[str, Any]:
    nightly(config).update(timeZone=zone, cronExpression=expression)
    return config


def registered_cron(run_: ProgramRun) -> str:
    return find(run_, JOB, NAME).wire_inputs["configuration"]["scheduleTriggerConfig"]["cronExpression"]


def test_monday_0230_in_seoul_registers_sunday_1730_utc(full_config: dict[str, Any]) -> None:
    assert registered_cron(run(in_zone(full_config, "Asia/Seoul", "30 2 * * 1"))) == "30 17 * * 0"


@pytest.mark.parametrize(("now", "expected"), [(JANUARY, "30 7 * * 1"), (JULY, "30 6 * * 1")])
def test_new_york_registers_the_expression_for_the_offset_in_force_when_previewed(
    full_config: dict[str, Any], monkeypatch: pytest.MonkeyPatch, now: datetime, expected: str
) -> None:
    monkeypatch.setattr(scheduled_job, "clock", lambda: now)
    assert registered_cron(run(in_zone(full_config, "America/New_York", "30 2 * * 1"))) == expected


def test_outputs_show_local_and_utc_runs_and_the_next_offset_change(
    full_config: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(scheduled_job, "clock", lambda: BEFORE_DST)
    outputs = run(in_zone(full_config, "America/New_York", "30 2 * * 1")).outputs["jobs"][NAME]
    assert {key: outputs[key] for key in [*LOCAL_OUTPUTS, "cronExpressionUtc", "nextRunsUtc"]} == {
        "timeZone": "America/New_York",
        "cronExpressionLocal": "30 2 * * 1",
        "cronExpressionUtc": "30 7 * * 1",
        "utcOffset": "-05:00",
        # What Azure runs until the schedule is applied again: 07:30 UTC, which is 03:30 once New York is on EDT.
        "nextRunsUtc": ["2027-03-08T07:30Z", "2027-03-15T07:30Z", "2027-03-22T07:30Z"],
        "nextRunsLocal": ["2027-03-08T02:30-05:00", "2027-03-15T03:30-04:00", "2027-03-22T03:30-04:00"],
        "nextOffsetChange": {
            "atUtc": "2027-03-14T07:00Z",
            "utcOffset": "-04:00",
            "cronExpressionUtc": "30 6 * * 1",
            "reapplyNeeded": True,
        },
    }


def test_a_zone_without_daylight_saving_has_no_offset_change_and_other_jobs_keep_their_outputs(
    full_config: dict[str, Any],
) -> None:
    outputs = run(in_zone(copy.deepcopy(full_config), "Asia/Seoul", "30 2 * * 1")).outputs["jobs"][NAME]
    assert outputs["utcOffset"] == "+09:00" and "nextOffsetChange" not in outputs
    assert not LOCAL_OUTPUTS & set(run(full_config).outputs["jobs"][NAME])  # no timeZone: the outputs as before


def reapply_warnings(run_: ProgramRun) -> list[str]:
    return [warning for warning in run_.warnings if "apply the stack again" in warning]


def test_the_preview_warns_when_an_offset_change_that_moves_the_schedule_is_near(
    full_config: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(scheduled_job, "clock", lambda: BEFORE_DST)
    [warning] = reapply_warnings(run(in_zone(full_config, "America/New_York", "30 2 * * 1")))
    assert f"scheduled job `{NAME}`: America/New_York changes its UTC offset to -04:00 at 2027-03-14T07:00Z" in warning
    assert "(in 8 days)" in warning and "`30 7 * * 1`" in warning and "register `30 6 * * 1`" in warning


@pytest.mark.parametrize(
    ("now", "expression"),
    [
        (datetime(2027, 2, 20, 12, 0, tzinfo=UTC), "30 2 * * 1"),  # the change is 22 days away
        (BEFORE_DST, "0 * * * *"),  # hourly on the hour: the change moves no run
    ],
)
def test_no_warning_when_the_change_is_far_or_moves_no_run(
    full_config: dict[str, Any], monkeypatch: pytest.MonkeyPatch, now: datetime, expression: str
) -> None:
    monkeypatch.setattr(scheduled_job, "clock", lambda: now)
    # The warnings the program logs (`__main__.py` logs `config.warnings()`), without running the program.
    config = in_zone(full_config, "America/New_York", expression)
    warnings = load_stack_config(config, stack_file="Pulumi.test.yaml").warnings()
    assert [warning for warning in warnings if "apply the stack again" in warning] == []


def test_an_unknown_zone_and_a_schedule_utc_cannot_express_name_their_keys(full_config: dict[str, Any]) -> None:
    key = f"aca-jobs:scheduledJobs.{NAME}"
    assert_rule_broken(
        in_zone(copy.deepcopy(full_config), "Asia/Seol", "30 2 * * 1"), f"{key}.timeZone", "did you mean `Asia/Seoul`?"
    )
    assert_rule_broken(
        in_zone(full_config, "Asia/Seoul", "30 1 1 * *"), f"{key}.cronExpression", "cron cannot say that"
    )


def test_an_unknown_zone_is_reported_beside_a_broken_cron_in_one_run(full_config: dict[str, Any]) -> None:
    message = config_error(in_zone(full_config, "America/NewYork", "0 2 * * * *"))
    assert f"aca-jobs:scheduledJobs.{NAME}.timeZone: `America/NewYork`" in message
    assert "did you mean `America/New_York`?" in message
    assert f"aca-jobs:scheduledJobs.{NAME}.cronExpression: 6 fields" in message
