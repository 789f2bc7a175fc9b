"""The policy pack on what the real engine sends, in both shapes the offline runtime models.

- `new-stack`: the first preview of a new stack. azure-native answers every create with preview outputs (ids,
  principal ids, client ids unknown), so Analyze gets inputs with unknowns and AnalyzeStack gets outputs with
  unknowns and no path parameters.
- `deployed`: a preview of an unchanged deployed stack: known, ARM-shaped outputs.

Each mandatory policy is shown a planted violation (changed where the engine receives it, so that the provider
answers the changed inputs and both Analyze and AnalyzeStack see it) and must flag it as mandatory in both modes,
never as a "can't run policy" note.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
from collections.abc import Callable
from typing import Any

import pytest
from conftest import (
    EVENT_SEED_CONFIG,
    EXPORTS_CONTAINER_ID,
    FULL_CONFIG,
    INVOICES_ACCOUNT_ID,
    KEY_VAULT_ID,
    PROJECT_DIR,
    REGISTRY_ID,
    SOURCES_CONFIG,
    TELEMETRY_ACCOUNT_ID,
    TELEMETRY_NAMESPACE_ID,
    find,
)

from tools.offline import MODES, PLACEHOLDER_SUBSCRIPTION, UNKNOWN, AzureMocks, ProgramRun, run_program
from tools.policy_runner import PolicyViolation, read_policy_config, review, stack_resources
from tools.provider_model import annotate_secrets, reveal

JOB = "azure-native:app:Job"
ROLE_ASSIGNMENT = "azure-native:authorization:RoleAssignment"
NAMESPACE = "azure-native:servicebus:Namespace"
OWNER = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
DATA_OWNER = "090c5cfd-751d-490a-894a-3ce6f1109419"
RBAC_ADMINISTRATOR = "f58310d9-a9f6-439a-9e8d-f62e7b41a168"
KEY_VAULT_DATA_ACCESS_ADMINISTRATOR = "8b54135c-b56d-4d72-a534-26097cfdc8d8"
KEY_VAULT_SECRETS_OFFICER = "b86a8fe4-44ce-4948-aee5-eccb2c155cd7"
SECRET_GRANT = "job-orders-nightly-pull-kv-secrets-user-orders-db-password"
BLOB_GRANT = "job-orders-nightly-workload-blob-contributor-exports"
RECEIVER_GRANT = "job-orders-queue-workload-sb-data-receiver"
PULL_GRANT = "job-orders-backfill-pull-acr-pull"
SECRET_SCOPE = f"{KEY_VAULT_ID}/secrets/orders-db-password"
NIGHTLY_ALERT = "job-orders-nightly-failed-executions"
SCHEDULED_QUERY_RULE = "azure-native:monitor:ScheduledQueryRule"
SUBSCRIPTION = "/subscriptions/00000000-0000-0000-0000-000000000000"
PROD_POLICY = read_policy_config(PROJECT_DIR / "policy" / "prod.json")
ACTION_GROUP_ID = (
    "/subscriptions/44444444-4444-4444-4444-444444444444/resourceGroups/rg-monitor/providers/"
    "Microsoft.Insights/actionGroups/ag-oncall"
)
NAMESPACE_ID = (
    "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-aca-test/providers/"
    "Microsoft.ServiceBus/namespaces/sb-aca-test"
)
# The Storage Queue and Event Hubs jobs of SOURCES_CONFIG, and their scaler identities' ids (composed from config,
# known in a first preview).
INVOICES, TELEMETRY = "job-invoices", "job-telemetry"
IDENTITIES = f"{SUBSCRIPTION}/resourceGroups/rg-aca-test/providers/Microsoft.ManagedIdentity/userAssignedIdentities"
# The config each plant runs on: the smaller event seed unless the plant needs the full config or the new sources.
BASES = {"seed": EVENT_SEED_CONFIG, "full": FULL_CONFIG, "sources": SOURCES_CONFIG}


def on(
    type_: str, name: str, change: Callable[[dict[str, Any]], None], full: bool = False
) -> Callable[..., dict[str, Any]]:
    """A plant: `change` applied to the wire inputs of one resource (of the full config's run where `full`)."""

    def plant(resource_type: str, resource_name: str, wire: dict[str, Any]) -> dict[str, Any]:
        if (resource_type, resource_name) == (type_, name):
            wire = copy.deepcopy(wire)
            change(wire)
        return wire

    plant.target = name  # type: ignore[attr-defined]
    plant.base = (  # type: ignore[attr-defined]
        "full"
        if full or name.startswith("job-orders-nightly")
        else "sources"
        if name.startswith((INVOICES, TELEMETRY))
        else "seed"
    )
    return plant


def backfill(change: Callable[[dict[str, Any]], None]) -> Callable[..., dict[str, Any]]:
    return on(JOB, "job-orders-backfill", change)


def nightly(change: Callable[[dict[str, Any]], None]) -> Callable[..., dict[str, Any]]:
    return on(JOB, "job-orders-nightly", change)


def consumer(change: Callable[[dict[str, Any]], None]) -> Callable[..., dict[str, Any]]:
    return on(JOB, "job-orders-queue", change)


def add_env(variable: dict[str, Any]) -> Callable[[dict[str, Any]], None]:
    return lambda w: w["template"]["containers"][0]["env"].append(variable)


def set_lifecycles(lifecycle: str) -> Callable[[dict[str, Any]], None]:
    def change(wire: dict[str, Any]) -> None:
        for setting in wire["configuration"]["identitySettings"]:
            setting["lifecycle"] = lifecycle

    return change


def regrant(
    name: str, role: str | None = None, scope: str | None = None, definition: str | None = None
) -> Callable[..., dict[str, Any]]:
    """Change what one role assignment grants (a role GUID, or a whole role definition id), or where."""

    def change(wire: dict[str, Any]) -> None:
        if role:
            wire["roleDefinitionId"] = wire["roleDefinitionId"].rsplit("/", 1)[0] + "/" + role
        if definition:
            wire["roleDefinitionId"] = definition
        if scope:
            wire["scope"] = scope

    return on(ROLE_ASSIGNMENT, name, change)


def nightly_alert(change: Callable[[dict[str, Any]], None]) -> Callable[..., dict[str, Any]]:
    return on(SCHEDULED_QUERY_RULE, NIGHTLY_ALERT, change)


def cron(expression: str) -> Callable[..., dict[str, Any]]:
    return nightly(lambda w: w["configuration"]["scheduleTriggerConfig"].update(cronExpression=expression))


def container(**changes: Any) -> Callable[[dict[str, Any]], None]:
    return lambda w: w["template"]["containers"][0].update(changes)


def init_containers(**changes: Any) -> Callable[[dict[str, Any]], None]:
    """The job's template given one init container as the program sends it, with `changes`."""
    init = {
        "name": "migrate",
        "image": "acrsharedprod.azurecr.io/jobs/orders-migrate:v1.0.0",
        "resources": {"cpu": 0.25, "memory": "0.5Gi"},
    }
    return lambda w: w["template"].update(initContainers=[{**init, **changes}])


def volumes(listed: list[dict[str, Any]]) -> Callable[[dict[str, Any]], None]:
    return lambda w: w["template"].update(volumes=listed)


def existing_action_group(config: dict[str, Any]) -> None:
    config["aca-jobs:platform"]["alerts"] = {"actionGroupId": ACTION_GROUP_ID}


def event_job(**settings: Any) -> Callable[[dict[str, Any]], None]:
    def change(config: dict[str, Any]) -> None:
        config["aca-jobs:eventJobs"]["job-orders-queue"].update(settings)

    return change


def rules_of(wire: dict[str, Any]) -> list[dict[str, Any]]:
    return wire["configuration"]["eventTriggerConfig"]["scale"]["rules"]


# A secret-based connection on a scale rule, as the Service Bus fallback writes it.
CONNECTION_AUTH = {"triggerParameter": "connection", "secretRef": "source-connection"}


def unprotected(config: dict[str, Any]) -> None:
    config["aca-jobs:platform"]["protect"] = False


# (id, config change, plant, policy config, policy, words in its message)
PLANTED: list[tuple[str, Any, Any, dict[str, Any], str, str]] = [
    (
        "no-user-assigned-identity",
        None,
        backfill(lambda w: w.pop("identity")),
        {},
        "job-user-assigned-identity",
        "has no user-assigned identity",
    ),
    (
        "registry-with-password",
        None,
        backfill(
            lambda w: w["configuration"].update(
                registries=[{"server": "acrsharedprod.azurecr.io", "username": "u", "passwordSecretRef": "p"}]
            )
        ),
        {},
        "job-user-assigned-identity",
        "username/password",
    ),
    (
        "pull-identity-usable-by-containers",
        None,
        backfill(set_lifecycles("Main")),
        {},
        "job-user-assigned-identity",
        "has lifecycle `Main`",
    ),
    (
        "latest-image",
        None,
        backfill(lambda w: w["template"]["containers"][0].update(image="acr.azurecr.io/x:latest")),
        {},
        "job-image-pinned",
        "`latest`",
    ),
    (
        "image-from-another-registry",
        None,
        backfill(lambda w: w["template"]["containers"][0].update(image="docker.io/library/busybox:1.36")),
        {},
        "job-image-from-pull-registry",
        "from `docker.io`, which is not a registry the job pulls from through an identity",
    ),
    (
        "image-from-the-registry-host-with-a-port",
        None,
        consumer(
            lambda w: w["template"]["containers"][0].update(image="acrsharedprod.azurecr.io:443/jobs/orders:v1.0.0")
        ),
        {},
        "job-image-from-pull-registry",
        "from `acrsharedprod.azurecr.io:443`, which is not a registry",
    ),
    # Init containers are held to every container rule; volumes and mounts to the job's own (issue 19).
    (
        "init-container-latest-image",
        None,
        backfill(init_containers(image="acrsharedprod.azurecr.io/x:latest")),
        {},
        "job-image-pinned",
        "`latest`",
    ),
    (
        "init-container-from-another-registry",
        None,
        backfill(init_containers(image="docker.io/library/busybox:1.36")),
        {},
        "job-image-from-pull-registry",
        "runs `docker.io/library/busybox:1.36` from `docker.io`",
    ),
    (
        "init-container-credential-in-args",
        None,
        backfill(init_containers(args=["postgres://app:p4ss@db/o"])),
        {},
        "job-secrets-not-plaintext",
        "container `migrate` `args` item 0 holds a credential in plain text",
    ),
    (
        "init-container-credential-in-env",
        None,
        backfill(init_containers(env=[{"name": "STORE", "value": "AccountKey=abc"}])),
        {},
        "job-secrets-not-plaintext",
        "env `STORE` holds a credential",
    ),
    (
        "mount-naming-no-volume",
        None,
        backfill(container(volumeMounts=[{"volumeName": "scratch", "mountPath": "/scratch"}])),
        {},
        "job-volumes-consistent",
        "container `job-orders-backfill` mounts volume `scratch`, which is not a volume of the job",
    ),
    (
        "init-container-mount-naming-no-volume",
        None,
        backfill(init_containers(volumeMounts=[{"volumeName": "cache", "mountPath": "/cache"}])),
        {},
        "job-volumes-consistent",
        "container `migrate` mounts volume `cache`",
    ),
    (
        "secret-volume-naming-no-job-secret",
        None,
        nightly(
            volumes([{"name": "certs", "storageType": "Secret", "secrets": [{"secretRef": "tls-key", "path": "k"}]}])
        ),
        {},
        "job-volumes-consistent",
        "Secret volume `certs` writes secret `tls-key`, which is not a secret of the job",
    ),
    (
        "secret-volume-mounting-every-secret",
        None,
        nightly(volumes([{"name": "all", "storageType": "Secret"}])),
        {},
        "job-volumes-consistent",
        "Secret volume `all` lists no files, so Azure mounts every secret of the job",
    ),
    (
        "credential-after-an-unknown-env-value",
        None,
        consumer(
            lambda w: w["template"]["containers"][0]["env"].append(
                {"name": "BUS", "value": "Endpoint=sb://x/;SharedAccessKeyName=a;SharedAccessKey=abc"}
            )
        ),
        {},
        "job-secrets-not-plaintext",
        "env `BUS` holds a credential",
    ),
    (
        "secret-named-env-with-a-literal-value",
        None,
        consumer(add_env({"name": "DB_PASSWORD", "value": "hunter2"})),
        {},
        "job-secrets-not-plaintext",
        "env `DB_PASSWORD` is named as a secret",
    ),
    (
        "password-in-a-url",
        None,
        consumer(add_env({"name": "CACHE_URL", "value": "redis://app:p4ss@cache.example:6380/0"})),
        {},
        "job-secrets-not-plaintext",
        "env `CACHE_URL` holds a credential",
    ),
    (
        "sas-signature",
        None,
        consumer(add_env({"name": "BLOB_SAS", "value": "sv=2022-11-02&sr=c&sig=abc+/="})),
        {},
        "job-secrets-not-plaintext",
        "env `BLOB_SAS` holds a credential",
    ),
    (
        "env-reads-the-scalers-connection-string",
        event_job(auth="connectionString"),
        consumer(add_env({"name": "SERVICEBUS_CONNECTION_STRING", "secretRef": "servicebus-connection"})),
        {},
        "job-secrets-not-plaintext",
        "job `job-orders-queue` env `SERVICEBUS_CONNECTION_STRING` reads secret `servicebus-connection`",
    ),
    (
        "plaintext-secret",
        None,
        backfill(lambda w: w["configuration"].update(secrets=[{"name": "api-key", "value": "s3cr3t"}])),
        {},
        "job-secrets-not-plaintext",
        "holds its value in the job configuration",
    ),
    (
        "connection-string-fallback-in-prod",
        event_job(auth="connectionString"),
        None,
        PROD_POLICY,
        "job-connection-string-fallback",
        "scales from a Service Bus connection string",
    ),
    (
        "host-name-namespace",
        None,
        consumer(
            lambda w: w["configuration"]["eventTriggerConfig"]["scale"]["rules"][0]["metadata"].update(
                namespace="sb-aca-test.servicebus.windows.net"
            )
        ),
        {},
        "scale-rule-identity",
        "use the bare name `sb-aca-test`",
    ),
    (
        "scaler-identity-with-lifecycle-main",
        None,
        consumer(set_lifecycles("Main")),
        {},
        "scale-rule-identity",
        "has lifecycle `Main`",
    ),
    (
        "scale-rule-without-identity",
        None,
        consumer(lambda w: w["configuration"]["eventTriggerConfig"]["scale"]["rules"][0].pop("identity")),
        {},
        "scale-rule-identity",
        "has no identity",
    ),
    (
        "retries-without-idempotent",
        None,
        backfill(lambda w: w["configuration"].update(replicaRetryLimit=5.0)),
        {},
        "job-retry-bounded",
        "retries a replica 5 times",
    ),
    (
        "no-timeout",
        None,
        backfill(lambda w: w["configuration"].pop("replicaTimeout")),
        {},
        "job-timeout-bounded",
        "has no replicaTimeout",
    ),
    (
        "n-of-m-without-opt-in",
        None,
        backfill(
            lambda w: w["configuration"].update(manualTriggerConfig={"parallelism": 3.0, "replicaCompletionCount": 2.0})
        ),
        {},
        "job-partial-completion-opt-in",
        "succeeds after 2 of 3 replicas",
    ),
    (
        "n-of-m-in-the-event-block-beside-a-compliant-manual-block",
        None,
        consumer(
            lambda w: (
                w["configuration"].update(manualTriggerConfig={"parallelism": 1.0, "replicaCompletionCount": 1.0}),
                w["configuration"]["eventTriggerConfig"].update(parallelism=8.0, replicaCompletionCount=3.0),
            )
        ),
        {},
        "job-partial-completion-opt-in",
        "job `job-orders-queue` succeeds after 3 of 8 replicas",
    ),
    (
        "tls-1.0",
        None,
        on(NAMESPACE, "service-bus", lambda w: w.update(minimumTlsVersion="1.0")),
        {},
        "servicebus-minimum-tls",
        "accepts TLS below 1.2",
    ),
    (
        "local-auth-on",
        None,
        on(NAMESPACE, "service-bus", lambda w: w.update(disableLocalAuth=False)),
        {},
        "servicebus-local-auth-disabled",
        "allows SAS keys",
    ),
    (
        "data-owner-at-namespace-scope",
        None,
        regrant("job-orders-queue-scaler-sb-data-owner", scope=NAMESPACE_ID),
        {},
        "least-privilege-role-assignments",
        "wider than one queue",
    ),
    (
        "owner-on-the-resource-group",
        None,
        regrant(
            "job-orders-backfill-pull-acr-pull",
            role=OWNER,
            scope="/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-aca-test",
        ),
        {},
        "least-privilege-role-assignments",
        "grants Owner",
    ),
    (
        "rbac-administrator-on-the-subscription",
        None,
        regrant("job-orders-backfill-pull-acr-pull", role=RBAC_ADMINISTRATOR, scope=SUBSCRIPTION),
        {},
        "least-privilege-role-assignments",
        f"grants Role Based Access Control Administrator on `{SUBSCRIPTION}`",
    ),
    (
        "contributor-on-one-queue",
        None,
        regrant("job-orders-queue-workload-sb-data-receiver", role="b24988ac-6180-42a0-ab88-20f7382dd24c"),
        {},
        "least-privilege-role-assignments",
        "grants Contributor on `",
    ),
    (
        "rbac-administrator-on-a-scope-not-known-during-preview",
        None,
        regrant("job-orders-backfill-pull-acr-pull", role=RBAC_ADMINISTRATOR, scope=UNKNOWN),
        {},
        "least-privilege-role-assignments",
        "grants Role Based Access Control Administrator on a scope not known during preview",
    ),
    (
        "data-owner-to-the-workload-identity",
        None,
        regrant("job-orders-queue-workload-sb-data-receiver", role=DATA_OWNER),
        {},
        "least-privilege-role-assignments",
        "lets containers use it (lifecycle `Main`)",
    ),
    (
        "data-owner-identity-without-identity-settings",
        None,
        consumer(lambda w: w["configuration"].pop("identitySettings")),
        {},
        "least-privilege-role-assignments",
        # Deployed: "assigns it without identitySettings"; new stack: the outputs' identitySettings are unknown.
        "holds Service Bus Data Owner, and job `job-orders-queue`",
    ),
    (
        "not-protected-where-required",
        unprotected,
        None,
        PROD_POLICY,
        "stateful-resources-protected",
        "is not protected",
    ),
    (
        "cron-with-a-seconds-field",
        None,
        cron("0 0 2 * * *"),
        {},
        "job-schedule-valid",
        "6 fields given in `0 0 2 * * *`; Azure takes 5",
    ),
    (
        "key-vault-secrets-user-on-the-whole-vault",
        None,
        regrant(SECRET_GRANT, scope=KEY_VAULT_ID),
        {},
        "least-privilege-role-assignments",
        f"grants Key Vault Secrets User on `{KEY_VAULT_ID}`, a `Microsoft.KeyVault/vaults`: it reads every secret",
    ),
    (
        "key-vault-secrets-officer-on-one-secret",
        None,
        regrant(SECRET_GRANT, role=KEY_VAULT_SECRETS_OFFICER),
        {},
        "least-privilege-role-assignments",
        "grants Key Vault Secrets Officer",
    ),
    (
        "data-role-on-a-resource-group",
        None,
        regrant(BLOB_GRANT, scope="/subscriptions/33333333-3333-3333-3333-333333333333/resourceGroups/rg-data"),
        {},
        "least-privilege-role-assignments",
        "rg-data`, a whole resource group",
    ),
    (
        "key-vault-reading-identity-usable-by-containers",
        None,
        nightly(set_lifecycles("Main")),
        {},
        "job-user-assigned-identity",
        "job `job-orders-nightly` Key Vault secret `db-password` reading identity",
    ),
    (
        "failed-execution-alert-disabled",
        None,
        on(
            "azure-native:monitor:ScheduledQueryRule",
            "job-orders-nightly-failed-executions",
            lambda w: w.update(enabled=False),
        ),
        {},
        "job-failure-alerted",
        "job `job-orders-nightly` has no alert on failed executions",
    ),
    ("bad-job-name", None, backfill(lambda w: w.update(jobName="Orders_Job")), {}, "job-name-format", "`Orders_Job`"),
    ("no-tags", None, backfill(lambda w: w.update(tags={})), {}, "required-tags", "lacks required tags ['owner']"),
    (
        "tag-value-over-256-characters",
        None,
        backfill(lambda w: w.update(tags={"owner": "x" * 257})),
        {},
        "tags-valid",
        "tag `owner` has a value of 257 characters; Azure accepts at most 256",
    ),
    # --- least privilege on parsed scopes (issue 16) ---
    (
        "scope-with-a-dot-dot-segment",
        None,
        regrant(SECRET_GRANT, scope=SECRET_SCOPE + "/.."),  # normalises to the whole vault
        {},
        "least-privilege-role-assignments",
        "which is not an ARM id Azure would produce: it has a `..` segment",
    ),
    (
        "scope-with-a-dot-segment",
        None,
        regrant(BLOB_GRANT, scope=EXPORTS_CONTAINER_ID.replace("/containers/", "/./containers/")),
        {},
        "least-privilege-role-assignments",
        "it has a `.` segment",
    ),
    (
        "scope-with-an-empty-segment",
        None,
        regrant(SECRET_GRANT, scope=SECRET_SCOPE.replace("/secrets/", "//secrets/")),
        {},
        "least-privilege-role-assignments",
        "it has an empty segment",
    ),
    (
        "scope-with-whitespace",
        None,
        regrant(SECRET_GRANT, scope=SECRET_SCOPE.replace("orders-db-password", "orders db-password")),
        {},
        "least-privilege-role-assignments",
        "segment `orders db-password` has characters ARM names never hold",
    ),
    (
        "scope-with-a-double-colon",
        None,
        regrant(BLOB_GRANT, scope=EXPORTS_CONTAINER_ID + "::x"),
        {},
        "least-privilege-role-assignments",
        "segment `exports::x` has characters ARM names never hold",
    ),
    (
        "data-role-on-a-management-group",
        None,
        regrant(BLOB_GRANT, scope="/providers/Microsoft.Management/managementGroups/mg-root"),
        {},
        "least-privilege-role-assignments",
        "managementGroups/mg-root`, a whole management group",
    ),
    (
        "key-vault-secrets-user-on-a-resource-group-named-secrets",
        None,
        regrant(SECRET_GRANT, scope="/subscriptions/22222222-2222-2222-2222-222222222222/resourceGroups/secrets"),
        {},
        "least-privilege-role-assignments",
        "resourceGroups/secrets`, a whole resource group",
    ),
    (
        "key-vault-secrets-user-on-a-vault-in-a-resource-group-named-secrets",
        None,
        regrant(SECRET_GRANT, scope=KEY_VAULT_ID.replace("/rg-shared/", "/secrets/")),
        {},
        "least-privilege-role-assignments",
        "a `Microsoft.KeyVault/vaults`: it reads every secret below it",
    ),
    (
        "service-bus-data-receiver-on-the-whole-namespace",
        None,
        regrant(RECEIVER_GRANT, scope=NAMESPACE_ID),
        {},
        "least-privilege-role-assignments",
        "grants Azure Service Bus Data Receiver on `" + NAMESPACE_ID + "`, a `Microsoft.ServiceBus/namespaces`, wider",
    ),
    (
        "data-role-on-a-resource-of-another-provider",
        None,
        regrant(BLOB_GRANT, scope=SECRET_SCOPE),
        {},
        "least-privilege-role-assignments",
        "not a resource of Microsoft.Storage",
    ),
    (
        "acr-pull-on-a-key-vault",
        None,
        regrant(PULL_GRANT, scope=KEY_VAULT_ID),
        {},
        "least-privilege-role-assignments",
        "grants AcrPull on `" + KEY_VAULT_ID + "`, a `Microsoft.KeyVault/vaults`, not one of",
    ),
    (
        "key-vault-data-access-administrator-on-one-secret",
        None,
        regrant(SECRET_GRANT, role=KEY_VAULT_DATA_ACCESS_ADMINISTRATOR),
        {},
        "least-privilege-role-assignments",
        f"grants Key Vault Data Access Administrator on `{SECRET_SCOPE}`, a role that grants access",
    ),
    (
        "key-vault-data-access-administrator-on-a-scope-not-known-during-preview",
        None,
        regrant(PULL_GRANT, role=KEY_VAULT_DATA_ACCESS_ADMINISTRATOR, scope=UNKNOWN),
        {},
        "least-privilege-role-assignments",
        "grants Key Vault Data Access Administrator on a scope not known during preview",
    ),
    (
        "role-definition-that-is-not-a-role-definition-id",
        None,
        regrant(PULL_GRANT, definition=SUBSCRIPTION + "/providers/Microsoft.Authorization/roleDefinitions/../owner"),
        {},
        "least-privilege-role-assignments",
        "which is not a role definition id",
    ),
    # --- credentials wherever a job carries text ---
    (
        "connection-string-in-command",
        None,
        consumer(container(command=["consume", "--bus", "Endpoint=sb://x/;SharedAccessKeyName=a;SharedAccessKey=k"])),
        {},
        "job-secrets-not-plaintext",
        "container `job-orders-queue` `command` item 2 holds a credential in plain text (a connection-string key",
    ),
    (
        "password-url-in-args",
        None,
        consumer(container(args=["--db", "postgres://app:p4ss@db.example/orders"])),
        {},
        "job-secrets-not-plaintext",
        "`args` item 1 holds a credential in plain text (a password in a URL)",
    ),
    (
        "sas-signature-in-args",
        None,
        consumer(container(args=["--blob", "https://a.blob.core.windows.net/c?sv=2022-11-02&sig=abc%2B"])),
        {},
        "job-secrets-not-plaintext",
        "`args` item 1 holds a credential in plain text (a SAS signature",
    ),
    (
        "credential-in-an-init-container",
        None,
        consumer(
            lambda w: w["template"].update(
                initContainers=[
                    {
                        "name": "migrate",
                        "image": "acrsharedprod.azurecr.io/jobs/migrate:v1.0.0",
                        "command": ["migrate", "--cache", "redis://:p4ss@cache.example:6380"],
                        "env": [{"name": "STORE", "value": "DefaultEndpointsProtocol=https;AccountKey=abc"}],
                    }
                ]
            )
        ),
        {},
        "job-secrets-not-plaintext",
        "container `migrate` `command` item 2 holds a credential in plain text (a password in a URL)",
    ),
    # --- the cron parser of the config ---
    ("cron-hour-25", None, cron("0 25 * * *"), {}, "job-schedule-valid", "hour field `25` is out of range 0-23"),
    (
        "cron-long-s-sun",
        None,
        cron("0 0 * * \u017fun"),
        {},
        "job-schedule-valid",
        "holds the non-ASCII character `\u017f` (U+017F); cron fields are ASCII only",
    ),
    (
        "cron-number-of-thousands-of-digits",
        None,
        cron("0 " + "1" * 5000 + " * * *"),
        {},
        "job-schedule-valid",
        "(5000 characters)` is out of range 0-23. Fix: use a hour from 0 to 23.",
    ),
    # --- the pull identity's registry ---
    (
        "image-and-registry-server-moved-together",
        None,
        backfill(
            lambda w: (
                w["template"]["containers"][0].update(image="acrelsewhere.azurecr.io/jobs/orders-backfill:v1.0.0"),
                w["configuration"]["registries"][0].update(server="acrelsewhere.azurecr.io"),
            )
        ),
        {},
        "job-registry-pull-granted",
        "job `job-orders-backfill` pulls from `acrelsewhere.azurecr.io` through identity `job-orders-backfill-pull`, "
        "which holds AcrPull on `acrsharedprod`",
    ),
    (
        "acr-pull-granted-on-another-registry",
        None,
        regrant(PULL_GRANT, scope=REGISTRY_ID.replace("acrsharedprod", "acrother")),
        {},
        "job-registry-pull-granted",
        "which holds AcrPull on `acrother`, not on the registry whose login server is `acrsharedprod.azurecr.io`",
    ),
    (
        "pull-identity-of-another-stack",
        None,
        backfill(
            lambda w: w["configuration"]["registries"][0].update(
                identity=SUBSCRIPTION + "/resourceGroups/rg-other/providers/Microsoft.ManagedIdentity/"
                "userAssignedIdentities/id-other"
            )
        ),
        {},
        "job-registry-pull-granted",
        "id-other`, which is not a user-assigned identity of this stack",
    ),
    # --- alerts that notify someone ---
    (
        "alert-actions-not-known-without-an-action-group-of-the-stack",
        existing_action_group,
        nightly_alert(lambda w: w["actions"].update(actionGroups=UNKNOWN)),
        {},
        "job-failure-alerted",
        "job `job-orders-nightly` has no alert on failed executions that is known to notify someone (rule "
        f"`{NIGHTLY_ALERT}` has ",
    ),
    (
        "alert-action-that-is-not-an-action-group-id",
        None,
        nightly_alert(lambda w: w["actions"].update(actionGroups=[ACTION_GROUP_ID + "/.."])),
        {},
        "job-failure-alerted",
        "which is not an action group id",
    ),
    (
        "alert-without-an-action-group",
        existing_action_group,
        nightly_alert(lambda w: w["actions"].update(actionGroups=[])),
        {},
        "job-failure-alerted",
        f"rule `{NIGHTLY_ALERT}` has no action group",
    ),
    (
        "action-group-disabled",
        None,
        on("azure-native:monitor:ActionGroup", "action-group", lambda w: w.update(enabled=False), full=True),
        {},
        "job-failure-alerted",
        "its action group `action-group` is disabled",
    ),
    # --- every event source: the scaler identity, no connection string, grants at the one entity (issue 18; the
    # other cases of each rule, read once: test_policies.py) ---
    (
        "storage-queue-scaler-identity-with-lifecycle-main",
        None,
        on(JOB, INVOICES, set_lifecycles("Main")),
        {},
        "scale-rule-identity",
        f"job `{INVOICES}` scale rule `storage-queue-backlog` identity `{IDENTITIES}/id-{INVOICES}-scaler` has "
        "lifecycle `Main`",
    ),
    (
        "event-hubs-scaler-identity-with-lifecycle-all",
        None,
        on(JOB, TELEMETRY, set_lifecycles("All")),
        {},
        "scale-rule-identity",
        f"job `{TELEMETRY}` scale rule `unprocessed-events` identity `{IDENTITIES}/id-{TELEMETRY}-scaler` has "
        "lifecycle `All`",
    ),
    (
        "event-hubs-scaler-identity-not-known-during-preview",
        None,
        on(JOB, TELEMETRY, lambda w: rules_of(w)[0].update(identity=UNKNOWN)),
        {},
        "scale-rule-identity",
        f"job `{TELEMETRY}` scale rule `unprocessed-events` identity is not known during preview",
    ),
    (
        "storage-queue-connection-string",
        None,
        on(JOB, INVOICES, lambda w: rules_of(w)[0].update(auth=[CONNECTION_AUTH])),
        {},
        "scale-rule-identity",
        f"job `{INVOICES}` scale rule `storage-queue-backlog` (`azure-queue`) authenticates with a secret (`auth`); "
        "Storage Queue scale rules always use the job's scaler identity",
    ),
    (
        "storage-queue-reader-on-the-account",
        None,
        regrant(f"{INVOICES}-scaler-queue-reader", scope=INVOICES_ACCOUNT_ID),
        {},
        "least-privilege-role-assignments",
        f"grants Storage Queue Data Reader on `{INVOICES_ACCOUNT_ID}`, a `Microsoft.Storage/storageAccounts`, to "
        f"identity `{INVOICES}-scaler`, which only the platform uses",
    ),
    (
        "event-hubs-receiver-on-the-namespace",
        None,
        regrant(f"{TELEMETRY}-scaler-eh-data-receiver", scope=TELEMETRY_NAMESPACE_ID),
        {},
        "least-privilege-role-assignments",
        f"grants Azure Event Hubs Data Receiver on `{TELEMETRY_NAMESPACE_ID}`, a `Microsoft.EventHub/namespaces`, to "
        f"identity `{TELEMETRY}-scaler`, which only the platform uses",
    ),
    (
        "checkpoint-reader-on-the-account",
        None,
        regrant(f"{TELEMETRY}-scaler-blob-reader", scope=TELEMETRY_ACCOUNT_ID),
        {},
        "least-privilege-role-assignments",
        f"grants Storage Blob Data Reader on `{TELEMETRY_ACCOUNT_ID}`, a `Microsoft.Storage/storageAccounts`, to "
        f"identity `{TELEMETRY}-scaler`",
    ),
]


@functools.cache
def _unplanted(mode: str, base: str) -> ProgramRun:
    """One run of a config per mode and test session; plants are applied to copies (`replanted`)."""
    return run_program(copy.deepcopy(BASES[base]), "test", stack_file="Pulumi.test.yaml", mode=mode)


def replanted(run: ProgramRun, plant: Any) -> ProgramRun | None:
    """`run` with `plant` applied where the engine receives it, and the planted resources answered again by the
    provider model in the run's mode (as `RecordingMonitor` answers them), without running the program again.
    Exact only where no other resource's inputs are built from a planted resource's outputs (a job, a role
    assignment, an alert rule): None otherwise, and then the program must run with the plant."""
    azure = AzureMocks(PLACEHOLDER_SUBSCRIPTION, run.mode)
    resources = []
    for resource in run.resources:
        wire = plant(resource.type, resource.name, resource.wire_inputs)
        if wire is resource.wire_inputs:
            resources.append(resource)
            continue
        if any(resource.urn in urns for other in run.resources for urns in other.property_dependencies.values()):
            return None
        resource_id, outputs = azure.answer(resource.type, reveal(wire))
        outputs = annotate_secrets(outputs, wire)
        resources.append(
            dataclasses.replace(resource, wire_inputs=wire, wire_outputs=outputs, id=resource_id or UNKNOWN)
        )
    return dataclasses.replace(run, resources=resources)


def planted_run(mode: str, change_config: Any, plant: Any) -> ProgramRun:
    # The full config only where a plant needs it: every other plant runs a smaller one (faster).
    base = "full" if plant is None else plant.base
    if change_config is None:
        run = _unplanted(mode, base)
        if plant is None:
            return run
        if (quick := replanted(run, plant)) is not None:
            return quick
    config = copy.deepcopy(BASES[base])
    if change_config is not None:
        change_config(config)
    return run_program(config, "test", stack_file="Pulumi.test.yaml", mode=mode, plant=plant)


def test_a_replanted_run_is_what_the_program_registers_with_the_plant() -> None:
    """The shortcut the planted cases take is the engine's record of a run with the plant, resource for resource."""
    plant = regrant(SECRET_GRANT, scope=KEY_VAULT_ID)
    for mode in MODES:
        quick = replanted(_unplanted(mode, "full"), plant)
        slow = run_program(copy.deepcopy(FULL_CONFIG), "test", stack_file="Pulumi.test.yaml", mode=mode, plant=plant)
        assert quick is not None
        assert [(r.urn, r.wire_inputs, r.wire_outputs, r.id) for r in quick.resources] == [
            (r.urn, r.wire_inputs, r.wire_outputs, r.id) for r in slow.resources
        ]
    assert replanted(_unplanted(MODES[0], "full"), on(NAMESPACE, "service-bus", lambda w: w.update(sku={}))) is None


def cannot_run(violations: list[PolicyViolation]) -> list[str]:
    return [v.message for v in violations if "can't run policy" in v.message]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("change_config", "plant", "policy_config", "policy", "words"),
    [case[1:] for case in PLANTED],
    ids=[case[0] for case in PLANTED],
)
def test_each_planted_violation_is_mandatory_in_both_modes(
    pack, mode: str, change_config, plant, policy_config: dict, policy: str, words: str
) -> None:
    violations = review(pack, planted_run(mode, change_config, plant), policy_config)
    flagged = [v for v in violations if v.policy_name == policy and words in v.message]
    assert flagged, f"{policy} did not flag {words!r}; got {[(v.policy_name, v.message) for v in violations]}"
    assert {v.enforcement_level for v in flagged} == {"mandatory"}
    assert cannot_run(violations) == []


# Decided only where a first preview leaves a value unknown: in deployed mode the value is known, and its text is
# what `job-secrets-not-plaintext` checks (`test_a_computed_env_value_is_decided_in_both_modes`).
FIRST_PREVIEW_ONLY = {"job-computed-env-from-identities"}


def test_a_computed_env_value_is_decided_in_both_modes(pack) -> None:
    program = PROJECT_DIR / "tests" / "programs" / "computed_env.py"
    found = {}
    for mode in MODES:
        run = run_program(copy.deepcopy(FULL_CONFIG), "test", stack_file="Pulumi.test.yaml", mode=mode, program=program)
        violations = review(pack, run, {"all": "mandatory"})
        assert cannot_run(violations) == []
        found[mode] = {
            v.policy_name for v in violations if "job-extra" in v.message and "EXPORTS_CONNECTION" in v.message
        }
    # A first preview cannot show the text, so where it comes from decides; once known, the text decides.
    assert found == {
        "new-stack": {"job-computed-env-from-identities"},
        "deployed": {"job-secrets-not-plaintext"},
    }


def test_every_mandatory_policy_has_a_planted_violation() -> None:
    mandatory = {
        policy
        for policy, level in (
            (p.name, p.enforcement_level.value)
            for p in __import__("policy.aca_jobs_policies").aca_jobs_policies.POLICIES
        )
        if level == "mandatory"
    }
    assert mandatory - FIRST_PREVIEW_ONLY <= {case[4] for case in PLANTED}


@pytest.mark.parametrize("mode", MODES)
def test_the_seed_is_clean_in_both_modes(pack, mode: str) -> None:
    # Every policy mandatory, at its default settings: nothing to report, and nothing left unverified.
    violations = review(pack, planted_run(mode, None, None), {"all": "mandatory"})
    assert [(v.policy_name, v.message) for v in violations] == []


@pytest.mark.parametrize("mode", MODES)
def test_every_event_source_is_clean_in_both_modes(pack, mode: str) -> None:
    # A Service Bus, a Storage Queue and an Event Hubs job, every policy mandatory and protection required: the
    # program's scaler identities, grants at the one entity and protected queues and container pass, unverified
    # nothing.
    config = {"all": "mandatory", "stateful-resources-protected": {"requireProtection": True}}
    violations = review(pack, _unplanted(mode, "sources"), config)
    assert [(v.policy_name, v.message) for v in violations] == []


@pytest.mark.parametrize("mode", MODES)
def test_analyze_stack_gets_outputs_without_path_parameters(mode: str) -> None:
    run = planted_run(mode, None, None)
    sent = {(r.type, r.name): r for r in stack_resources(run)}
    job = sent[(JOB, "job-orders-queue")].properties
    identity = sent[("azure-native:managedidentity:UserAssignedIdentity", "job-orders-queue-scaler")].properties
    assert "jobName" not in job and "resourceGroupName" not in job
    assert "resourceName" not in identity and "resourceGroupName" not in identity
    assigned = job["identity"]["userAssignedIdentities"]
    if mode == "new-stack":
        # A list in the inputs, a map in the outputs: the shapes differ, so a create's preview leaves it unknown.
        assert assigned == UNKNOWN
        assert identity["principalId"] == UNKNOWN and identity["id"] == UNKNOWN
    else:
        assert set(assigned) == set(find(run, JOB, "job-orders-queue").inputs["identity"]["userAssignedIdentities"])
        assert identity["id"].endswith("/userAssignedIdentities/id-job-orders-queue-scaler")
