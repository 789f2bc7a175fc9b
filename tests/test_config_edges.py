"""Issue 16's config findings: scopes parsed (not matched as text), credentials wherever a job carries text, and the
input edges a hostile or careless stack file reaches. Each case is refused with the stack file, the YAML key and a
fix; each accepted case is one that text matching or case-sensitive comparison refused. Pure config validation."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from conftest import EXPORTS_CONTAINER_ID, FULL_CONFIG, KEY_VAULT_ID, assert_rule_broken, config_error

from components.stack_config import load_stack_config

SCHEDULED = "aca-jobs:scheduledJobs.job-orders-nightly"
EVENT = "aca-jobs:eventJobs.job-orders-queue"
SUB = "/subscriptions/33333333-3333-3333-3333-333333333333"
DATA_RG = f"{SUB}/resourceGroups/rg-data"
NAMESPACE_ID = f"{DATA_RG}/providers/Microsoft.ServiceBus/namespaces/sb-orders"
Mutation = Callable[[dict[str, Any]], None]


def nightly(config: dict[str, Any]) -> dict[str, Any]:
    return config["aca-jobs:scheduledJobs"]["job-orders-nightly"]


def grant(role: str, scope: str) -> Mutation:
    return lambda config: nightly(config).update(azureAccess=[{"role": role, "scope": scope}])


def set_nightly(**values: Any) -> Mutation:
    return lambda config: nightly(config).update(values)


def set_env(name: str, value: str) -> Mutation:
    return lambda config: nightly(config)["env"].update({name: value})


def alerts(**values: Any) -> Mutation:
    return lambda config: config["aca-jobs:platform"].update(alerts=values)


BLOB = "Storage Blob Data Reader"
BROKEN: list[tuple[str, Mutation, str, str]] = [
    # --- scopes, parsed: what text matching let through
    ("scope-dot-dot", grant(BLOB, f"{EXPORTS_CONTAINER_ID}/../.."), f"{SCHEDULED}.azureAccess.0.scope", "`..` segment"),
    ("scope-dot", grant(BLOB, f"{EXPORTS_CONTAINER_ID}/."), f"{SCHEDULED}.azureAccess.0.scope", "`.` segment"),
    (
        "scope-empty-segment",
        grant(BLOB, EXPORTS_CONTAINER_ID.replace("/blobServices", "//blobServices")),
        f"{SCHEDULED}.azureAccess.0.scope",
        "empty segment",
    ),
    (
        "scope-whitespace",
        grant(BLOB, EXPORTS_CONTAINER_ID.replace("exports", "exports ", 1)),
        f"{SCHEDULED}.azureAccess.0.scope",
        "characters ARM names never hold",
    ),
    (
        "scope-double-colon",
        grant(BLOB, EXPORTS_CONTAINER_ID.replace("Microsoft.Storage", "Microsoft.Storage::")),
        f"{SCHEDULED}.azureAccess.0.scope",
        "characters ARM names never hold",
    ),
    (
        "scope-management-group",
        grant(BLOB, "/providers/Microsoft.Management/managementGroups/mg-root"),
        f"{SCHEDULED}.azureAccess.0.scope",
        "is a whole managementGroup, too wide",
    ),
    (
        "scope-placeholder",
        grant(BLOB, EXPORTS_CONTAINER_ID.replace("33333333-3333-3333-3333-333333333333", "<sub>")),
        f"{SCHEDULED}.azureAccess.0.scope",
        "`<sub>` is a placeholder",
    ),
    (
        # A resource group named `secrets` made a vault scope "contain" `/secrets/`.
        "secrets-user-resource-group-named-secrets",
        grant("Key Vault Secrets User", f"{SUB}/resourceGroups/secrets/providers/Microsoft.KeyVault/vaults/kv-data"),
        f"{SCHEDULED}.azureAccess.0.scope",
        "anything but one secret",
    ),
    (
        "service-bus-role-on-namespace",
        grant("Azure Service Bus Data Receiver", NAMESPACE_ID),
        f"{SCHEDULED}.azureAccess.0.scope",
        "reaches every entity in it",
    ),
    (
        "role-that-grants-roles",
        grant("Azure Container Storage Owner", EXPORTS_CONTAINER_ID),
        f"{SCHEDULED}.azureAccess.0.role",
        "is a management (control-plane) role",
    ),
    # --- credentials wherever a job carries text
    (
        "credential-in-args",
        set_nightly(args=["--db", "postgres://app:s3cret@orders-db:5432/orders"]),
        f"{SCHEDULED}.args.1",
        "a password in a URL",
    ),
    (
        "credential-in-command",
        set_nightly(command=["sh", "-c", "curl https://x.blob.core.windows.net/c/f?sv=2024&sig=abc123"]),
        f"{SCHEDULED}.command.2",
        "a SAS signature",
    ),
    (
        "credential-in-env",
        set_env("ORDERS_BUS", "Endpoint=sb://sb.servicebus.windows.net/;SharedAccessKeyName=x;SharedAccessKey=abc"),
        f"{SCHEDULED}.env.ORDERS_BUS",
        "connection-string key",
    ),
    ("secret-named-env-literal", set_env("API_TOKEN", "abc123"), f"{SCHEDULED}.env.API_TOKEN", "named as a secret"),
    # --- input edges
    ("command-empty-item", set_nightly(command=[""]), f"{SCHEDULED}.command.0", "is empty"),
    ("args-empty-item", set_nightly(args=["--since", ""]), f"{SCHEDULED}.args.1", "is empty"),
    (
        "secret-name-double-dot",
        lambda c: nightly(c)["secrets"].update({"db..password": nightly(c)["secrets"]["db-password"]}),
        f"{SCHEDULED}.secrets.db..password",
        "no two dots in a row",
    ),
    (
        "secret-url-other-cloud",
        lambda c: nightly(c)["secrets"]["db-password"].update(
            keyVaultSecretUrl="https://kv-aca-test.vault.azure.cn/secrets/orders-db-password"
        ),
        f"{SCHEDULED}.secrets.db-password.keyVaultSecretUrl",
        "another cloud than the stack's `public`",
    ),
    (
        "emails-over-the-action-group-limit",
        alerts(emails=[f"oncall{i}@example.com" for i in range(1001)]),
        "aca-jobs:platform.alerts.emails",
        "at most 1000 email receivers",
    ),
    (
        "email-over-64-characters",
        alerts(emails=["a" * 60 + "@example.com"]),
        "aca-jobs:platform.alerts.emails.0",
        "64 characters",
    ),
    (
        "memory-non-ascii-digit",
        set_nightly(memory="\u0661Gi"),  # ARABIC-INDIC DIGIT ONE: Python's \d and Decimal read it as 1
        f"{SCHEDULED}.memory",
        "is not a valid Consumption pair",
    ),
    (
        "azure-access-repeats-the-event-jobs-own-grant",
        lambda c: c["aca-jobs:eventJobs"]["job-orders-queue"].update(
            azureAccess=[
                {
                    "role": "Azure Service Bus Data Receiver",
                    "scope": "/subscriptions/22222222-2222-2222-2222-222222222222/resourceGroups/rg-aca-test/"
                    "providers/Microsoft.ServiceBus/namespaces/sb-aca-test/queues/Orders",
                }
            ]
        ),
        f"{EVENT}.azureAccess.0",
        f"repeats the grant the event job already makes: {EVENT}.queue",
    ),
    (
        "action-group-id-dot-dot",
        alerts(
            actionGroupId=f"{DATA_RG}/providers/Microsoft.Insights/actionGroups/ag-oncall/..",
        ),
        "aca-jobs:platform.alerts.actionGroupId",
        "`..` segment",
    ),
    (
        "key-vault-id-dot-dot",
        lambda c: c["aca-jobs:platform"]["keyVault"].update(resourceId=f"{KEY_VAULT_ID}/secrets/x/../.."),
        "aca-jobs:platform.keyVault.resourceId",
        "`..` segment",
    ),
]


@pytest.mark.parametrize(("mutate", "key_path", "words"), [c[1:] for c in BROKEN], ids=[c[0] for c in BROKEN])
def test_refused_with_file_key_and_fix(
    full_config: dict[str, Any], mutate: Mutation, key_path: str, words: str
) -> None:
    mutate(full_config)
    assert_rule_broken(full_config, key_path, words)


ACCEPTED: list[tuple[str, Mutation]] = [
    # Host names are case-insensitive: the reviewed registry in capitals is the reviewed registry.
    ("image-host-in-capitals", set_nightly(image="ACRSharedProd.azurecr.io/jobs/orders-nightly:v1.0.0")),
    (
        "registry-server-in-capitals",
        lambda c: c["aca-jobs:platform"]["registry"].update(server="AcrSharedProd.AzureCR.io"),
    ),
    (
        "secret-name-with-dots",
        lambda c: nightly(c)["secrets"].update(
            {"db.password": {"keyVaultSecretUrl": "https://kv-aca-test.vault.azure.net/secrets/x"}}
        ),
    ),
    (
        "secret-url-host-in-capitals",
        lambda c: nightly(c)["secrets"]["db-password"].update(
            keyVaultSecretUrl="https://kv-aca-test.VAULT.AZURE.NET/secrets/orders-db-password"
        ),
    ),
    ("emails-at-the-limit", alerts(emails=[f"oncall{i}@example.com" for i in range(1000)])),
    ("scope-in-capitals", grant(BLOB, EXPORTS_CONTAINER_ID.upper())),
    ("topic-scope-for-service-bus-role", grant("Azure Service Bus Data Sender", f"{NAMESPACE_ID}/topics/orders")),
]


@pytest.mark.parametrize("mutate", [c[1] for c in ACCEPTED], ids=[c[0] for c in ACCEPTED])
def test_accepted(full_config: dict[str, Any], mutate: Mutation) -> None:
    mutate(full_config)
    load_stack_config(full_config, stack_file="Pulumi.test.yaml")


def test_registry_server_is_kept_in_lower_case(full_config: dict[str, Any]) -> None:
    full_config["aca-jobs:platform"]["registry"]["server"] = "AcrSharedProd.azurecr.io"
    config = load_stack_config(full_config, stack_file="Pulumi.test.yaml")
    assert config.platform.registry.server == "acrsharedprod.azurecr.io"


def test_the_stacks_cloud_decides_the_vault_host(full_config: dict[str, Any]) -> None:
    """`azure-native:environment: china` takes a vault of Azure China (and the registry must be there too)."""
    full_config["azure-native:environment"] = "china"
    full_config["aca-jobs:platform"]["registry"]["server"] = "acrsharedprod.azurecr.cn"
    for key in ("image",):
        for kind in ("aca-jobs:manualJobs", "aca-jobs:eventJobs", "aca-jobs:scheduledJobs"):
            for job in full_config[kind].values():
                job[key] = job[key].replace("azurecr.io", "azurecr.cn")
    nightly(full_config)["secrets"]["db-password"]["keyVaultSecretUrl"] = (
        "https://kv-aca-test.vault.azure.cn/secrets/orders-db-password"
    )
    assert load_stack_config(full_config, stack_file="Pulumi.test.yaml").cloud == "china"
    full_config["azure-native:environment"] = "public"
    assert_rule_broken(full_config, "aca-jobs:platform.registry.server", "not in the stack's cloud `public`")


def test_every_broken_rule_of_a_job_and_of_the_stack_in_one_run(full_config: dict[str, Any]) -> None:
    """A check used to stop at its first broken rule: three runs to fix one job."""
    queue_job = full_config["aca-jobs:eventJobs"]["job-orders-queue"]
    queue_job.update(replicaRetryLimit=3, idempotent=False, minExecutions=20, maxExecutions=10, lockDuration="PT10M")
    nightly(full_config).update(parallelism=2, replicaCompletionCount=1)
    full_config["aca-jobs:manualJobs"]["job-orders-backfill"]["image"] = "docker.io/library/busybox:1.36"
    full_config["aca-jobs:manualJobs"]["job-orders-backfill"]["workloadProfile"] = "gpu"
    message = config_error(full_config)
    for key in (
        f"{EVENT}.replicaRetryLimit",
        f"{EVENT}.minExecutions",
        f"{EVENT}.lockDuration",
        f"{SCHEDULED}.replicaCompletionCount",
        "aca-jobs:manualJobs.job-orders-backfill.image",
        "aca-jobs:manualJobs.job-orders-backfill.workloadProfile",
    ):
        assert f"Pulumi.test.yaml: {key}: " in message, (key, message)


def test_the_previews_check_reads_the_stacks_cloud_as_the_program_does(tmp_path) -> None:
    """The offline preview validates the stack file before the program runs; it passed the program only the location
    and the subscription, so a China-cloud stack's `.vault.azure.cn` secret was refused there and accepted by the
    program."""
    import yaml

    from tools.preview import read_stack

    config = copy.deepcopy(FULL_CONFIG)
    config["azure-native:environment"] = "china"
    config["aca-jobs:platform"]["registry"]["server"] = "acrsharedprod.azurecr.cn"
    for kind in ("aca-jobs:manualJobs", "aca-jobs:eventJobs", "aca-jobs:scheduledJobs"):
        for job in config[kind].values():
            job["image"] = job["image"].replace("azurecr.io", "azurecr.cn")
    nightly(config)["secrets"]["db-password"]["keyVaultSecretUrl"] = (
        "https://kv-aca-test.vault.azure.cn/secrets/orders-db-password"
    )
    stack_file = tmp_path / "Pulumi.china.yaml"
    stack_file.write_text(yaml.safe_dump({"config": config}))
    assert read_stack("china", stack_file).check().cloud == "china"
