"""`--compare` hides only what derives from each stack's own names (resource group, environment, workspace,
namespace, subscription, stack name, and the values computed from them) and shows every other difference,
GUIDs included."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from conftest import (
    EVENT_SEED_CONFIG,
    EXPORTS_CONTAINER_ID,
    KEY_VAULT_ID,
    REGISTRY_ID,
    SCHEDULED_JOB,
    SEED_CONFIG,
    find,
)

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
    # Titled by the variable's name, as the stack file writes it (not `template.containers[0].env[0].value`).
    assert [d.title for d in env] == ["job job-orders-backfill · Job · env TENANT_HINT"]
    line = f"    job job-orders-backfill · Job · env TENANT_HINT: {before!r} → {after!r}"
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
    """The AcrPull scope is config (the shared registry), not derived from the stack's names: a move shows in the
    scope. The role definition id follows the scope's subscription but names the same role: compared by its GUID,
    it is the same by design."""
    before, after = registry_subscriptions
    left = run(with_own_names(with_registry_subscription(SEED_CONFIG, before), "staging"), "staging", mode)
    right = run(with_own_names(with_registry_subscription(SEED_CONFIG, after), "prod"), "prod", mode)
    comparison = compare(left, right)
    acr_pull = {d.path: d for d in shown(comparison) if d.resource.endswith("::job-orders-backfill-pull-acr-pull")}
    assert acr_pull["scope"].left.startswith(f"/subscriptions/{before}/resourceGroups/rg-shared/")
    assert acr_pull["scope"].right.startswith(f"/subscriptions/{after}/resourceGroups/rg-shared/")
    role = next(d for d in comparison.differences if d.path == "roleDefinitionId")
    assert role.right.startswith(f"/subscriptions/{after}/providers/") and role.by_design
    # The registry's id also lands in no other input; the assignment's name follows the scope by design.
    assert shown_paths(comparison) == {("job-orders-backfill-pull-acr-pull", "scope")}
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


# --- values compared as what they are, the may-differ table per property --------------------------------------

STAGING_VAULT = (
    "/subscriptions/22222222-2222-2222-2222-222222222222/resourceGroups/rg-shared/providers/"
    "Microsoft.KeyVault/vaults/kv-aca-staging"
)
# Allowed: prod's vault in another subscription and resource group than staging's.
PROD_VAULT = (
    f"/subscriptions/{OTHER_SUBSCRIPTION}/resourceGroups/rg-kv-prod/providers/Microsoft.KeyVault/vaults/kv-prod"
)
VERSION_A, VERSION_B = "0" * 31 + "a", "0" * 31 + "b"
# The nightly job alone, with the stack's Key Vault: all the Key Vault and azureAccess rows are about.
NIGHTLY_CONFIG: dict[str, Any] = {
    **{key: value for key, value in copy.deepcopy(SEED_CONFIG).items() if key != "aca-jobs:manualJobs"},
    "aca-jobs:scheduledJobs": {"job-orders-nightly": copy.deepcopy(SCHEDULED_JOB)},
}
NIGHTLY_CONFIG["aca-jobs:platform"]["keyVault"] = {"resourceId": KEY_VAULT_ID}


def with_vault(config: dict[str, Any], vault_id: str, secrets: dict[str, str]) -> dict[str, Any]:
    """The nightly job reading `secrets` (job secret name -> `<Key Vault secret>[/<version>]`) from `vault_id`."""
    config = copy.deepcopy(config)
    config["aca-jobs:platform"]["keyVault"] = {"resourceId": vault_id}
    host = vault_id.rsplit("/", 1)[-1]
    job = config["aca-jobs:scheduledJobs"]["job-orders-nightly"]
    job["secrets"] = {
        name: {"keyVaultSecretUrl": f"https://{host}.vault.azure.net/secrets/{secret}"}
        for name, secret in secrets.items()
    }
    job["env"] = {name.upper().replace("-", "_"): {"secretRef": name} for name in secrets}
    return config


def stacks(staging: dict[str, Any], prod: dict[str, Any], mode: str) -> Comparison:
    return compare(
        run(with_own_names(staging, "staging"), "staging", mode), run(with_own_names(prod, "prod"), "prod", mode)
    )


def unexpected(comparison: Comparison) -> list[tuple[str, str, str]]:
    return [(d.title, d.path, d.reason) for d in comparison.unexpected]


SECRETS = {"db-password": "orders-db-password", "api-token": "orders-api-token"}


@pytest.mark.parametrize("mode", MODES)
def test_a_vault_in_another_subscription_is_not_drift(mode: str) -> None:
    """Each stack's own vault, in another subscription: the grant's `roleDefinitionId` is written in the vault's
    subscription, but it names the same role, and the scope differs only in the vault."""
    comparison = stacks(
        with_vault(NIGHTLY_CONFIG, STAGING_VAULT, SECRETS), with_vault(NIGHTLY_CONFIG, PROD_VAULT, SECRETS), mode
    )
    assert unexpected(comparison) == [] and not comparison.drift
    grant = "job-orders-nightly-pull-kv-secrets-user-orders-db-password"
    by_path = {d.path: d for d in comparison.differences if d.resource.endswith(f"::{grant}")}
    assert by_path["roleDefinitionId"].right.startswith(f"/subscriptions/{OTHER_SUBSCRIPTION}/providers/")
    assert by_path["roleDefinitionId"].by_design
    assert by_path["scope"].expected_as == (
        "grant scopes of Key Vault secrets and azureAccess (each stack's own resources)"
    )
    urls = [d for d in comparison.differences if d.path.endswith(".keyVaultUrl")]
    assert {d.expected_as for d in urls} == {"Key Vault references (each stack's own vault)"}


def test_two_secrets_pointing_at_each_others_key_vault_secrets_are_drift() -> None:
    """Only the vault may differ in a Key Vault reference: prod's `db-password` reading the API token (and the
    other way round) is unexpected, named by the job's secret."""
    swapped = {"db-password": "orders-api-token", "api-token": "orders-db-password"}
    comparison = stacks(
        with_vault(NIGHTLY_CONFIG, STAGING_VAULT, SECRETS), with_vault(NIGHTLY_CONFIG, PROD_VAULT, swapped), NEW_STACK
    )
    assert unexpected(comparison) == [
        (
            "job job-orders-nightly · Job · secret api-token · keyVaultUrl",
            "configuration.secrets[0].keyVaultUrl",
            "the Key Vault secret differs (`orders-api-token` → `orders-db-password`): only the vault may",
        ),
        (
            "job job-orders-nightly · Job · secret db-password · keyVaultUrl",
            "configuration.secrets[1].keyVaultUrl",
            "the Key Vault secret differs (`orders-db-password` → `orders-api-token`): only the vault may",
        ),
    ]
    rendered = render(comparison)
    assert "secret db-password · keyVaultUrl: 'https://kv-aca-staging.vault.azure.net/secrets/orders-db-password'" in (
        rendered
    )
    assert "Result: 2 unexpected differences: exit 1" in rendered


@pytest.mark.parametrize(
    ("staging_secret", "prod_vault", "prod_secret"),
    [
        # One vault for both stacks: the same secret, an older version pinned in prod.
        (f"orders-db-password/{VERSION_B}", STAGING_VAULT, f"orders-db-password/{VERSION_A}"),
        # Staging follows the latest version, prod pins one.
        ("orders-db-password", PROD_VAULT, f"orders-db-password/{VERSION_A}"),
    ],
    ids=["older-version-same-vault", "pinned-in-prod-only"],
)
def test_another_secret_version_in_prod_is_drift(staging_secret: str, prod_vault: str, prod_secret: str) -> None:
    staging = with_vault(NIGHTLY_CONFIG, STAGING_VAULT, {"db-password": staging_secret})
    prod = with_vault(NIGHTLY_CONFIG, prod_vault, {"db-password": prod_secret})
    [(title, path, reason)] = unexpected(stacks(staging, prod, NEW_STACK))
    assert (title, path) == (
        "job job-orders-nightly · Job · secret db-password · keyVaultUrl",
        "configuration.secrets[0].keyVaultUrl",
    )
    staging_version = staging_secret.partition("/")[2] or "latest"
    assert reason == f"the secret version differs ({staging_version} → {VERSION_A}): only the vault may"


def test_versions_pinned_in_each_stacks_own_vault_are_listed_on_their_own() -> None:
    """Key Vault generates a version's id per vault, so the same secret pinned in two vaults never has one id:
    the table allows that (both pinned, one secret, two vaults) under its own line, for the reviewer to check."""
    staging = with_vault(NIGHTLY_CONFIG, STAGING_VAULT, {"db-password": f"orders-db-password/{VERSION_B}"})
    prod = with_vault(NIGHTLY_CONFIG, PROD_VAULT, {"db-password": f"orders-db-password/{VERSION_A}"})
    comparison = stacks(staging, prod, NEW_STACK)
    assert not comparison.drift
    [url] = [d for d in comparison.differences if d.path.endswith(".keyVaultUrl")]
    assert url.expected_as is not None and url.expected_as.startswith(
        "Key Vault secret versions pinned in each stack's own vault"
    )


def test_a_grant_scope_of_another_type_is_drift() -> None:
    """azureAccess scopes name each stack's own resources, of one type: a container in staging and a whole
    storage account (of the same name) in prod is a wider grant, not a renamed resource."""
    account = EXPORTS_CONTAINER_ID.split("/blobServices/")[0].replace("stexports", "exports")
    prod = copy.deepcopy(NIGHTLY_CONFIG)
    prod["aca-jobs:scheduledJobs"]["job-orders-nightly"]["azureAccess"][0]["scope"] = account
    [(title, _, reason)] = unexpected(stacks(NIGHTLY_CONFIG, prod, NEW_STACK))
    assert (
        title == "job job-orders-nightly · RoleAssignment job-orders-nightly-workload-blob-contributor-exports · scope"
    )
    assert reason == (
        "the scope is a Microsoft.Storage/storageAccounts/blobServices/containers in one stack and a "
        "Microsoft.Storage/storageAccounts in the other: only its names may differ"
    )


@pytest.mark.parametrize("mode", MODES)
def test_ids_that_differ_only_in_case_are_the_same(mode: str) -> None:
    """ARM ids are case-insensitive: the registry written `RG-Shared` in prod is the same registry."""
    prod = copy.deepcopy(SEED_CONFIG)
    prod["aca-jobs:platform"]["registry"]["resourceId"] = REGISTRY_ID.replace("rg-shared", "RG-Shared")
    comparison = stacks(SEED_CONFIG, prod, mode)
    assert [d for d in comparison.differences if d.path == "scope"] == []
    assert not comparison.drift


def test_an_added_env_variable_is_one_difference_named_by_the_variable() -> None:
    """Named list items pair by name: a variable added in prod is that variable, not every variable after it."""
    staging = with_env(SEED_CONFIG, TENANT_HINT="x")
    prod = with_env(SEED_CONFIG, A_FLAG="on", TENANT_HINT="x")
    comparison = stacks(staging, prod, NEW_STACK)
    assert [(d.title, d.path, d.left, d.right) for d in shown(comparison)] == [
        ("job job-orders-backfill · Job · env A_FLAG · name", "template.containers[0].env[0].name", None, "A_FLAG"),
        ("job job-orders-backfill · Job · env A_FLAG", "template.containers[0].env[0].value", None, "on"),
    ]
