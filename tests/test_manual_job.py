"""ManualJobComponent: the seed's `az containerapp job create --trigger-type Manual ...` as registered
inputs, pulling through its own identity and waiting for the AcrPull grant."""

from __future__ import annotations

from conftest import REGISTRY_ID, arm_id, assert_inputs, find

from components.naming import ACR_PULL, role_assignment_name
from tools.offline import ProgramRun

JOB = "azure-native:app:Job"
IDENTITY = "azure-native:managedidentity:UserAssignedIdentity"
ROLE_ASSIGNMENT = "azure-native:authorization:RoleAssignment"
IMAGE = "acrsharedprod.azurecr.io/jobs/orders-backfill:v1.0.0"


def test_job_carries_exactly_the_seed_values(seed_run: ProgramRun) -> None:
    assert_inputs(
        find(seed_run, JOB),
        {
            "jobName": "job-orders-backfill",
            "resourceGroupName": "rg-aca-test",
            "location": "koreacentral",
            "configuration": {
                "triggerType": "Manual",
                "manualTriggerConfig": {"parallelism": 2, "replicaCompletionCount": 2},
                "replicaRetryLimit": 1,
                "replicaTimeout": 1800,
            },
            "template": {
                "containers": [
                    {
                        "name": "job-orders-backfill",
                        "image": IMAGE,
                        "resources": {"cpu": 0.5, "memory": "1Gi"},
                    }
                ]
            },
            "tags": {"owner": "platform-team"},
        },
    )


def test_counts_and_seconds_are_sent_as_numbers(seed_run: ProgramRun) -> None:
    # On the wire (a protobuf Struct) every number is a double; a string "1800" would be refused by ARM.
    configuration = find(seed_run, JOB).wire_inputs["configuration"]
    assert configuration["replicaTimeout"] == 1800.0 and isinstance(configuration["replicaTimeout"], float)
    assert configuration["manualTriggerConfig"] == {"parallelism": 2.0, "replicaCompletionCount": 2.0}
    assert configuration["replicaRetryLimit"] == 1.0


def test_trigger_type_is_explicit_and_only_the_manual_block_is_set(seed_run: ProgramRun) -> None:
    configuration = find(seed_run, JOB).inputs["configuration"]
    assert configuration["triggerType"] == "Manual"
    assert "eventTriggerConfig" not in configuration
    assert "scheduleTriggerConfig" not in configuration


def test_job_runs_in_the_platform_environment(seed_run: ProgramRun) -> None:
    job = find(seed_run, JOB)
    environment = find(seed_run, "azure-native:app:ManagedEnvironment")
    assert job.inputs["environmentId"] == arm_id(environment)
    assert environment.urn in job.property_dependencies["environmentId"]


def test_image_is_pulled_through_the_job_identity_without_credentials(seed_run: ProgramRun) -> None:
    job = find(seed_run, JOB)
    identity = find(seed_run, IDENTITY, "job-orders-backfill-pull")
    assert job.inputs["configuration"]["registries"] == [
        {"server": "acrsharedprod.azurecr.io", "identity": arm_id(identity)}
    ]
    assert job.inputs["identity"] == {"type": "UserAssigned", "userAssignedIdentities": [arm_id(identity)]}
    assert "secrets" not in job.inputs["configuration"]


def test_pull_identity_is_unreachable_from_containers(seed_run: ProgramRun) -> None:
    identity = find(seed_run, IDENTITY, "job-orders-backfill-pull")
    assert find(seed_run, JOB).inputs["configuration"]["identitySettings"] == [
        {"identity": arm_id(identity), "lifecycle": "None"}
    ]


def test_identity_is_per_job_and_named_after_it(seed_run: ProgramRun) -> None:
    assert_inputs(
        find(seed_run, IDENTITY, "job-orders-backfill-pull"),
        {
            "resourceName": "id-job-orders-backfill-pull",
            "resourceGroupName": "rg-aca-test",
            "location": "koreacentral",
        },
    )


def test_acr_pull_is_granted_on_the_registry_only(deployed_seed_run: ProgramRun) -> None:
    seed_run = deployed_seed_run  # principal ids are known once the identity exists
    grant = find(seed_run, ROLE_ASSIGNMENT)
    identity = find(seed_run, IDENTITY, "job-orders-backfill-pull")
    principal_id = seed_run.outputs["jobs"]["job-orders-backfill"]["identityPrincipalId"]
    assert_inputs(
        grant,
        {
            "scope": REGISTRY_ID,
            "roleDefinitionId": "/subscriptions/22222222-2222-2222-2222-222222222222/providers/"
            f"Microsoft.Authorization/roleDefinitions/{ACR_PULL.guid}",
            "principalId": principal_id,
            "principalType": "ServicePrincipal",
            "roleAssignmentName": role_assignment_name(REGISTRY_ID, principal_id, ACR_PULL),
        },
    )
    assert identity.urn in grant.property_dependencies["principalId"]


def test_role_assignment_name_is_a_deterministic_guid() -> None:
    first = role_assignment_name(REGISTRY_ID, "p-1", ACR_PULL)
    assert first == role_assignment_name(REGISTRY_ID, "p-1", ACR_PULL)
    assert first != role_assignment_name(REGISTRY_ID, "p-2", ACR_PULL)
    assert len(first) == 36 and first.count("-") == 4


def test_job_waits_for_the_acr_pull_grant(seed_run: ProgramRun) -> None:
    assert find(seed_run, ROLE_ASSIGNMENT).urn in find(seed_run, JOB).dependencies


def test_every_child_is_parented_to_its_component(seed_run: ProgramRun) -> None:
    component = find(seed_run, "aca-jobs:index:ManualJob", "job-orders-backfill")
    identity_component = find(seed_run, "aca-jobs:index:JobIdentity", "job-orders-backfill-pull")
    assert component.parent == seed_run.stack_urn
    assert find(seed_run, JOB).parent == component.urn
    assert identity_component.parent == component.urn
    assert find(seed_run, IDENTITY).parent == identity_component.urn
    assert find(seed_run, ROLE_ASSIGNMENT).parent == identity_component.urn


def test_jobs_are_not_protected_even_in_a_protected_stack(seed_run: ProgramRun) -> None:
    # Jobs and identities hold no data; protecting them would only block replacing a broken job.
    assert find(seed_run, JOB).protect is False
    assert find(seed_run, IDENTITY).protect is False


def test_each_job_gets_its_own_identity(run_stack, seed_config) -> None:
    seed_config["aca-jobs:manualJobs"]["job-orders-repair"] = {"image": "acrsharedprod.azurecr.io/jobs/repair:v2"}
    run = run_stack(seed_config)
    identities = {r.inputs["resourceName"] for r in run.by_type(IDENTITY)}
    assert identities == {"id-job-orders-backfill-pull", "id-job-orders-repair-pull"}
    repair = find(run, JOB, "job-orders-repair")
    repair_identity = find(run, IDENTITY, "job-orders-repair-pull")
    assert repair.inputs["identity"]["userAssignedIdentities"] == [arm_id(repair_identity)]


def test_env_is_passed_to_the_container_in_a_stable_order(run_stack, seed_config) -> None:
    seed_config["aca-jobs:manualJobs"]["job-orders-backfill"]["env"] = {"MODE": "full", "BATCH": "500"}
    container = find(run_stack(seed_config), JOB).inputs["template"]["containers"][0]
    assert container["env"] == [{"name": "BATCH", "value": "500"}, {"name": "MODE", "value": "full"}]


def test_deliberate_choices_are_marked_on_the_job(run_stack, seed_config) -> None:
    job = seed_config["aca-jobs:manualJobs"]["job-orders-backfill"]
    job.update(replicaCompletionCount=1, allowPartialCompletion=True, replicaRetryLimit=3, idempotent=True)
    tags = find(run_stack(seed_config), JOB).inputs["tags"]
    assert tags == {
        "owner": "platform-team",
        "aca-jobs-idempotent": "true",
        "aca-jobs-partial-completion": "true",
    }
