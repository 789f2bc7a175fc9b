"""Every committed stack file, run through the real `__main__.py`, and the per-job output contract."""

from __future__ import annotations

import pytest
from conftest import PROJECT_DIR, arm_id, find, run_committed

from components.job_kinds import JOB_CONFIG_KEYS

STACKS = sorted(p.name.split(".")[1] for p in PROJECT_DIR.glob("Pulumi.*.yaml"))
JOB_OUTPUTS = {
    "resourceId",
    "name",
    "identityPrincipalId",
    "startCommand",
    "executionsCommand",
    "evidenceQuery",
}
EVENT_JOB_OUTPUTS = JOB_OUTPUTS | {
    "queueId",
    "queueName",
    "namespaceHostName",
    "workloadIdentityClientId",
    "sendTestMessageCommand",
}


# The operator outputs of each event source, by the block that names it.
SOURCE_OUTPUTS = {
    "queue": EVENT_JOB_OUTPUTS,
    "storageQueue": JOB_OUTPUTS
    | {"workloadIdentityClientId", "queueId", "queueName", "poisonQueueName", "sendTestMessageCommand", "peekCommand"},
    "eventHub": JOB_OUTPUTS
    | {"workloadIdentityClientId", "eventHubId", "consumerGroupName", "checkpointContainerId", "sendTestEventCommand"},
}


def event_outputs(job: dict) -> set[str]:
    (source,) = set(job) & set(SOURCE_OUTPUTS)
    return SOURCE_OUTPUTS[source]


def test_the_three_promotion_stacks_are_committed() -> None:
    assert {"dev", "staging", "prod"} <= set(STACKS)


@pytest.mark.parametrize("stack", STACKS)
def test_committed_stack_has_every_job_kind(stack: str) -> None:
    config, run = run_committed(stack)
    assert all(config.get(key) for key in JOB_CONFIG_KEYS)
    # The only warning: the committed files carry the placeholder subscription until a team puts in its own.
    [warning] = run.warnings
    assert warning.startswith("these ids still hold a placeholder") and "registry.resourceId" in warning


@pytest.mark.parametrize("stack", STACKS)
def test_committed_stack_builds_every_configured_job(stack: str) -> None:
    config, run = run_committed(stack)
    event = config.get("aca-jobs:eventJobs", {})
    jobs = {name: job for key in JOB_CONFIG_KEYS for name, job in config.get(key, {}).items()}
    assert {r.name for r in run.by_type("azure-native:app:Job")} == set(jobs)
    assert set(run.outputs["jobs"]) == set(jobs)
    for name, outputs in run.outputs["jobs"].items():
        assert set(outputs) >= (event_outputs(event[name]) if name in event else JOB_OUTPUTS)
        job = find(run, "azure-native:app:Job", name)
        assert outputs["resourceId"] == arm_id(job)  # known in a first preview
        resource_group = config["aca-jobs:platform"]["resourceGroup"]
        assert outputs["startCommand"] == f"az containerapp job start --name {name} --resource-group {resource_group}"
        assert f'where Job == "{name}"' in outputs["evidenceQuery"]


def test_only_prod_protects_its_stateful_resources() -> None:
    for stack in ("dev", "staging", "prod"):
        _, run = run_committed(stack)
        protected = {r.type for r in run.resources if r.protect}
        if stack == "prod":
            assert protected == {
                "azure-native:resources:ResourceGroup",
                "azure-native:operationalinsights:Workspace",
                "azure-native:app:ManagedEnvironment",
                "azure-native:servicebus:Namespace",
                "azure-native:servicebus:Queue",
            }
        else:
            assert protected == set(), stack


def test_stacks_differ_in_names_and_retention() -> None:
    names = {}
    for stack in ("dev", "staging", "prod"):
        _, run = run_committed(stack)
        names[stack] = (
            find(run, "azure-native:resources:ResourceGroup").inputs["resourceGroupName"],
            find(run, "azure-native:app:ManagedEnvironment").inputs["environmentName"],
        )
    assert len(set(names.values())) == 3
    _, prod = run_committed("prod")
    assert find(prod, "azure-native:operationalinsights:Workspace").inputs["retentionInDays"] == 90
