"""`--compare` hides only what derives from each stack's own names (resource group, environment, workspace,
namespace, subscription, stack name, and the values computed from them) and shows every other difference,
GUIDs included."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from conftest import EVENT_SEED_CONFIG, REGISTRY_ID, SEED_CONFIG, find

from tools import preview
from tools.compare import Comparison, InputDifference, Normalizer, compare, render
from tools.offline import DEPLOYED, MODES, NEW_STACK, ProgramRun, run_program
from tools.provider_model import UNKNOWN

ROLE_ASSIGNMENT = "azure-native:authorization:RoleAssignment"
OTHER_SUBSCRIPTION = "33333333-3333-3333-3333-333333333333"


def run(config: dict[str, Any], stack: str, mode: str = NEW_STACK) -> ProgramRun:
    return run_program(config, stack, stack_file=f"Pulumi.{stack}.yaml", mode=mode)


def shown(comparison: Comparison) -> list[InputDifference]:
    return [d for d in comparison.differences if not d.by_design]


def shown_paths(comparison: Comparison) -> set[tuple[str, str]]:
    return {(d.resource.rsplit("::", 1)[-1], d.path) for d in shown(comparison)}


def with_own_names(config: dict[str, Any], suffix: str, subscription: str | None = None) -> dict[str, Any]:
    """The same stack under its own names: resource group, environment, namespace (and subscription)."""
    config = copy.deepcopy(config)
    platform = config["aca-jobs:platform"]
    platform["resourceGroup"] = f"rg-aca-{suffix}"
    platform["environment"]["name"] = f"aca-env-{suffix}"
    if "serviceBus" in platform:
        platform["serviceBus"]["namespace"] = f"sb-aca-{suffix}"
    if subscription:
        config["azure-native:subscriptionId"] = subscription
    return config


def with_env(config: dict[str, Any], **env: str) -> dict[str, Any]:
    config = copy.deepcopy(config)
    config["aca-jobs:manualJobs"]["job-orders-backfill"]["env"] = env
    return config


def with_registry_subscription(config: dict[str, Any], subscription: str) -> dict[str, Any]:
    config = copy.deepcopy(config)
    registry = config["aca-jobs:platform"]["registry"]
    registry["resourceId"] = "/subscriptions/" + subscription + "/" + REGISTRY_ID.split("/", 3)[3]
    return config


@pytest.mark.parametrize("mode", MODES)
def test_a_changed_env_value_that_is_a_guid_is_shown(mode: str) -> None:
    before, after = "6f1c1c7e-9a43-4d2b-8f0e-2b7c1d9e4a10", "0b9e5d2a-7c31-4e8f-9a6d-5f2e1c3b4d70"
    left = run(with_own_names(with_env(SEED_CONFIG, TENANT_HINT=before), "staging"), "staging", mode)
    right = run(with_own_names(with_env(SEED_CONFIG, TENANT_HINT=after), "prod"), "prod", mode)
    comparison = compare(left, right)
    env = [d for d in comparison.differences if d.path == "template.containers[0].env[0].value"]
    assert [(d.left, d.right, d.by_design) for d in env] == [(before, after, False)]
    assert shown_paths(comparison) == {("job-orders-backfill", "template.containers[0].env[0].value")}
    line = f"    job job-orders-backfill · Job · template.containers[0].env[0].value: {before!r} → {after!r}"
    assert line in render(comparison).splitlines()
    assert comparison.drift  # an env value is not in the may-differ table


@pytest.mark.parametrize("mode", MODES)
def test_the_same_guid_in_both_stacks_compares_equal(mode: str) -> None:
    guid = "6f1c1c7e-9a43-4d2b-8f0e-2b7c1d9e4a10"
    left = run(with_own_names(with_env(SEED_CONFIG, TENANT_HINT=guid), "staging"), "staging", mode)
    right = run(with_own_names(with_env(SEED_CONFIG, TENANT_HINT=guid), "prod", OTHER_SUBSCRIPTION), "prod", mode)
    comparison = compare(left, right)
    assert not [d for d in comparison.differences if d.path.startswith("template.containers[0].env")]
    assert shown(comparison) == []


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    "registry_subscriptions",
    [
        ("22222222-2222-2222-2222-222222222222", OTHER_SUBSCRIPTION),  # from a shared subscription to another
        ("00000000-0000-0000-0000-000000000000", OTHER_SUBSCRIPTION),  # out of the stack's own subscription
    ],
    ids=["shared-to-other", "own-to-other"],
)
def test_the_registry_moving_to_another_subscription_is_shown(
    mode: str, registry_subscriptions: tuple[str, str]
) -> None:
    """The AcrPull scope is config (the shared registry), not derived from the stack's names: a move shows,
    both in the scope and in the role definition id (which follows the scope's subscription)."""
    before, after = registry_subscriptions
    left = run(with_own_names(with_registry_subscription(SEED_CONFIG, before), "staging"), "staging", mode)
    right = run(with_own_names(with_registry_subscription(SEED_CONFIG, after), "prod"), "prod", mode)
    comparison = compare(left, right)
    acr_pull = {d.path: d for d in shown(comparison) if d.resource.endswith("::job-orders-backfill-pull-acr-pull")}
    assert acr_pull["scope"].left.startswith(f"/subscriptions/{before}/resourceGroups/rg-shared/")
    assert acr_pull["scope"].right.startswith(f"/subscriptions/{after}/resourceGroups/rg-shared/")
    assert acr_pull["roleDefinitionId"].right.startswith(f"/subscriptions/{after}/providers/")
    # The registry's id also lands in no other input; the assignment's name follows the scope by design.
    assert shown_paths(comparison) == {
        ("job-orders-backfill-pull-acr-pull", "scope"),
        ("job-orders-backfill-pull-acr-pull", "roleDefinitionId"),
    }
    rendered = render(comparison)
    assert f"scope: '/subscriptions/{before}/resourceGroups/rg-shared/" in rendered
    assert f"→ '/subscriptions/{after}/resourceGroups/rg-shared/" in rendered
    assert "job job-orders-backfill · RoleAssignment job-orders-backfill-pull-acr-pull · scope: " in rendered


@pytest.mark.parametrize("mode", MODES)
def test_identical_stacks_under_different_names_compare_clean(mode: str) -> None:
    left = run(with_own_names(EVENT_SEED_CONFIG, "staging"), "staging", mode)
    right = run(with_own_names(EVENT_SEED_CONFIG, "prod", OTHER_SUBSCRIPTION), "prod", mode)
    comparison = compare(left, right)
    assert comparison.only_left == [] and comparison.only_right == []
    assert comparison.differences, "the stacks' own names differ, by design"
    assert shown(comparison) == []
    rendered = render(comparison)
    assert rendered.split("Expected")[0].splitlines()[-2:] == ["    (none)", ""]
    assert "Result: no unexpected drift" in rendered and not comparison.drift
    # The same config under another stack name: nothing differs at all.
    same = compare(run(EVENT_SEED_CONFIG, "alpha", mode), run(EVENT_SEED_CONFIG, "beta", mode))
    assert same.differences == []


def test_derived_values_are_mapped_by_role_not_erased() -> None:
    """In a deployed preview, principal and client ids and role-assignment names are known and differ between
    stacks; each maps to a placeholder that names its role and its resource. In the default mode they are the
    unknown sentinel on both sides, and compare equal."""
    left = run(with_own_names(EVENT_SEED_CONFIG, "staging"), "staging", DEPLOYED)
    right = run(with_own_names(EVENT_SEED_CONFIG, "prod", OTHER_SUBSCRIPTION), "prod", DEPLOYED)
    own = Normalizer(left)
    grant = find(left, ROLE_ASSIGNMENT, "job-orders-queue-workload-sb-data-receiver")
    assert (
        own(grant.inputs["roleAssignmentName"])
        == "<role-assignment-name of job-orders-queue-workload-sb-data-receiver>"
    )
    assert own(grant.inputs["principalId"]) == "<principalId of job-orders-queue-workload>"
    assert own(grant.inputs["scope"]) == (
        "/subscriptions/<subscriptionId>/resourceGroups/<resourceGroupName>/providers/Microsoft.ServiceBus/"
        "namespaces/<namespaceName>/queues/orders"
    )
    by_path = {(d.resource.rsplit("::", 1)[-1], d.path): d for d in compare(left, right).differences}
    client_id = by_path[("job-orders-queue", "template.containers[0].env[0].value")]
    assert client_id.by_design and client_id.left != client_id.right
    assert by_path[("job-orders-queue-workload-sb-data-receiver", "roleAssignmentName")].by_design
    # A value the stack's own resources do not give it is kept as written.
    assert own("6f1c1c7e-9a43-4d2b-8f0e-2b7c1d9e4a10") == "6f1c1c7e-9a43-4d2b-8f0e-2b7c1d9e4a10"
    assert own(REGISTRY_ID) == REGISTRY_ID

    new_left = run(with_own_names(EVENT_SEED_CONFIG, "staging"), "staging")
    new_right = run(with_own_names(EVENT_SEED_CONFIG, "prod", OTHER_SUBSCRIPTION), "prod")
    unknown = find(new_left, ROLE_ASSIGNMENT, "job-orders-queue-workload-sb-data-receiver")
    assert unknown.inputs["roleAssignmentName"] == UNKNOWN
    paths = {d.path for d in compare(new_left, new_right).differences}
    assert "roleAssignmentName" not in paths and "principalId" not in paths


@pytest.fixture(scope="module")
def committed() -> dict[str, dict[str, ProgramRun]]:
    return {mode: {stack: preview.load_run(stack, None, mode=mode) for stack in ("staging", "prod")} for mode in MODES}


# Where Pulumi.staging.yaml and Pulumi.prod.yaml differ beyond their own names: logRetentionDays, protect,
# tags.environment and the images.
# `scope`: the scheduled job's azureAccess grant names each stack's own storage account (configured per stack).
# `groupShortName`: the action group's short name, cut from each stack's environment name to 12 characters.
COMMITTED_DIFFERENCES = {
    "retentionInDays",
    "protect",
    "tags.environment",
    "template.containers[0].image",
    "scope",
    "groupShortName",
}


@pytest.mark.parametrize("mode", MODES)
def test_committed_staging_and_prod_show_only_what_their_stack_files_differ_in(
    committed: dict[str, dict[str, ProgramRun]], mode: str
) -> None:
    comparison = compare(committed[mode]["staging"], committed[mode]["prod"])
    assert {path for _, path in shown_paths(comparison)} == COMMITTED_DIFFERENCES
    images = {name for name, path in shown_paths(comparison) if path == "template.containers[0].image"}
    assert images == {"job-orders-backfill", "job-orders-queue"}
    rendered = render(comparison).split("more differ only")[0]
    beyond_configured_scopes = "\n".join(line for line in rendered.splitlines() if "scope: '" not in line)
    assert "resourceGroupName" not in rendered and "/subscriptions/" not in beyond_configured_scopes
    assert "roleAssignmentName" not in rendered and "principalId" not in rendered
