"""Existing platform pieces (issue 17, deliverable 2): an existing Container Apps environment (`environment.resourceId`,
with `workspaceResourceId`) and an existing Service Bus namespace (`serviceBus.resourceId`) are referenced, never
registered; the stack creates only its queues in the namespace and grants at the queue. A created environment can
join a network (`environment.network`)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from conftest import FULL_CONFIG, assert_rule_broken, find

from tools.offline import MODES, run_program

SUB = "/subscriptions/44444444-4444-4444-4444-444444444444"
ENVIRONMENT_ID = f"{SUB}/resourceGroups/rg-platform/providers/Microsoft.App/managedEnvironments/aca-env-shared"
WORKSPACE_ID = f"{SUB}/resourceGroups/rg-platform/providers/Microsoft.OperationalInsights/workspaces/log-shared"
NAMESPACE_ID = f"{SUB}/resourceGroups/rg-messaging/providers/Microsoft.ServiceBus/namespaces/sb-orders-shared"
SUBNET_ID = f"{SUB}/resourceGroups/rg-network/providers/Microsoft.Network/virtualNetworks/vnet-aca/subnets/snet-jobs"
ENVIRONMENT = "azure-native:app:ManagedEnvironment"
WORKSPACE = "azure-native:operationalinsights:Workspace"
NAMESPACE = "azure-native:servicebus:Namespace"
QUEUE = "azure-native:servicebus:Queue"
JOB = "azure-native:app:Job"
ROLE_ASSIGNMENT = "azure-native:authorization:RoleAssignment"
RULE = "azure-native:monitor:ScheduledQueryRule"


def existing_config() -> dict[str, Any]:
    config = copy.deepcopy(FULL_CONFIG)
    platform = config["aca-jobs:platform"]
    platform["environment"] = {"resourceId": ENVIRONMENT_ID, "workspaceResourceId": WORKSPACE_ID}
    platform["serviceBus"] = {"resourceId": NAMESPACE_ID}
    return config


@pytest.fixture(scope="module", params=MODES)
def existing_run(request: pytest.FixtureRequest):
    return run_program(existing_config(), "test", stack_file="Pulumi.test.yaml", mode=request.param)


def test_referenced_pieces_are_never_registered(existing_run) -> None:
    assert existing_run.by_type(ENVIRONMENT) == []
    assert existing_run.by_type(WORKSPACE) == []
    assert existing_run.by_type(NAMESPACE) == []


def test_jobs_run_in_the_existing_environment(existing_run) -> None:
    jobs = existing_run.by_type(JOB)
    assert len(jobs) == 3
    for job in jobs:
        assert job.wire_inputs["environmentId"] == ENVIRONMENT_ID


def test_queues_are_created_in_the_existing_namespace_and_granted_there(existing_run) -> None:
    queue = find(existing_run, QUEUE)
    assert queue.wire_inputs["namespaceName"] == "sb-orders-shared"
    assert queue.wire_inputs["resourceGroupName"] == "rg-messaging"
    scopes = {r.wire_inputs["scope"] for r in existing_run.by_type(ROLE_ASSIGNMENT)}
    assert f"{NAMESPACE_ID}/queues/orders" in scopes
    assert not any(scope == NAMESPACE_ID for scope in scopes)  # never the whole namespace


def test_alerts_query_the_existing_workspace(existing_run) -> None:
    rules = existing_run.by_type(RULE)
    assert len(rules) == 3  # one failed-execution rule per job
    for rule in rules:
        assert rule.wire_inputs["scopes"] == [WORKSPACE_ID]
    # The workspace's customer id is read (an invoke runs in a preview too): known in a first preview.
    assert existing_run.outputs["workspaceCustomerId"] not in (None, "04da6b54-80e4-46f7-96ec-b56ff0331ba9")


def test_a_created_environment_joins_its_network() -> None:
    config = copy.deepcopy(FULL_CONFIG)
    config["aca-jobs:platform"]["environment"]["network"] = {"infrastructureSubnetId": SUBNET_ID, "internal": True}
    run = run_program(config, "test", stack_file="Pulumi.test.yaml")
    assert find(run, ENVIRONMENT).wire_inputs["vnetConfiguration"] == {
        "infrastructureSubnetId": SUBNET_ID,
        "internal": True,
    }


def set_environment(**values: Any):
    return lambda config: config["aca-jobs:platform"]["environment"].update(values)


BROKEN = [
    (
        "environment-name-and-resource-id",
        set_environment(resourceId=ENVIRONMENT_ID),
        "aca-jobs:platform.environment.resourceId",
        "needs exactly one of `name`",
    ),
    (
        "environment-id-of-another-type",
        lambda c: c["aca-jobs:platform"].update(environment={"resourceId": WORKSPACE_ID}),
        "aca-jobs:platform.environment.resourceId",
        "not a Container Apps environment",
    ),
    (
        "network-on-an-existing-environment",
        lambda c: c["aca-jobs:platform"].update(
            environment={
                "resourceId": ENVIRONMENT_ID,
                "workspaceResourceId": WORKSPACE_ID,
                "network": {"infrastructureSubnetId": SUBNET_ID},
            }
        ),
        "aca-jobs:platform.environment.network",
        "references an existing one",
    ),
    (
        "network-subnet-of-another-type",
        set_environment(network={"infrastructureSubnetId": WORKSPACE_ID}),
        "aca-jobs:platform.environment.network.infrastructureSubnetId",
        "not a subnet",
    ),
    (
        "alerts-without-the-existing-workspace",
        lambda c: c["aca-jobs:platform"].update(environment={"resourceId": ENVIRONMENT_ID}),
        "aca-jobs:platform.environment.workspaceResourceId",
        "alerts query the environment's Log Analytics workspace",
    ),
    (
        "namespace-and-resource-id",
        lambda c: c["aca-jobs:platform"]["serviceBus"].update(resourceId=NAMESPACE_ID),
        "aca-jobs:platform.serviceBus.resourceId",
        "needs exactly one of `namespace`",
    ),
    (
        "namespace-id-of-another-type",
        lambda c: c["aca-jobs:platform"].update(serviceBus={"resourceId": ENVIRONMENT_ID}),
        "aca-jobs:platform.serviceBus.resourceId",
        "not a Service Bus namespace",
    ),
]


@pytest.mark.parametrize(("mutate", "key", "words"), [c[1:] for c in BROKEN], ids=[c[0] for c in BROKEN])
def test_bad_references_are_refused_naming_the_key(mutate, key: str, words: str) -> None:
    config = copy.deepcopy(FULL_CONFIG)
    mutate(config)
    assert_rule_broken(config, key, words)


def test_the_policy_pack_reviews_a_stack_on_existing_pieces_clean(pack, existing_run) -> None:
    from tools.policy_runner import review

    violations = review(pack, existing_run, {"all": "mandatory"})
    assert [(v.policy_name, v.message) for v in violations] == []
