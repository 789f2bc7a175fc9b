"""Config rules of real jobs: cron schedules, command and args, Key Vault secrets, `azureAccess` grants and workload
profiles. A broken value is refused with a message naming the stack file, the YAML key path and the fix; valid
values are accepted and kept; risky but valid choices are warnings, not errors. Pure config validation: no program
runs, no policy pack."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from conftest import EXPORTS_CONTAINER_ID, KEY_VAULT_ID, assert_rule_broken, config_error

from components.config import StackConfigBase
from components.naming import DATA_PLANE_ROLES, KEY_VAULT_SECRETS_USER, BuiltInRole
from components.stack_config import load_stack_config

SCHEDULED = "aca-jobs:scheduledJobs.job-orders-nightly"
MANUAL = "aca-jobs:manualJobs.job-orders-backfill"
EVENT = "aca-jobs:eventJobs.job-orders-queue"
PROFILES = "aca-jobs:platform.environment.workloadProfiles"

DATA_RG = "/subscriptions/33333333-3333-3333-3333-333333333333/resourceGroups/rg-data"
STORAGE_ACCOUNT_ID = f"{DATA_RG}/providers/Microsoft.Storage/storageAccounts/stexports"
STORAGE_QUEUE_ID = f"{STORAGE_ACCOUNT_ID}/queueServices/default/queues/exports"
STORAGE_TABLE_ID = f"{STORAGE_ACCOUNT_ID}/tableServices/default/tables/exports"
SERVICE_BUS_QUEUE_ID = f"{DATA_RG}/providers/Microsoft.ServiceBus/namespaces/sb-orders/queues/orders"
EVENT_HUB_ID = f"{DATA_RG}/providers/Microsoft.EventHub/namespaces/eh-orders/eventhubs/clicks"
SECRET_SCOPE = f"{KEY_VAULT_ID}/secrets/orders-api-key"
VAULT_URL = "https://kv-aca-test.vault.azure.net/secrets"

D4 = "dedicated-d4"
Mutation = Callable[[dict[str, Any]], None]


def nightly(config: dict[str, Any]) -> dict[str, Any]:
    return config["aca-jobs:scheduledJobs"]["job-orders-nightly"]


def backfill(config: dict[str, Any]) -> dict[str, Any]:
    return config["aca-jobs:manualJobs"]["job-orders-backfill"]


def queue_job(config: dict[str, Any]) -> dict[str, Any]:
    return config["aca-jobs:eventJobs"]["job-orders-queue"]


def environment(config: dict[str, Any]) -> dict[str, Any]:
    return config["aca-jobs:platform"]["environment"]


def set_nightly(**values: Any) -> Mutation:
    return lambda config: nightly(config).update(values)


def set_backfill(**values: Any) -> Mutation:
    return lambda config: backfill(config).update(values)


def drop_nightly(key: str) -> Mutation:
    return lambda config: nightly(config).pop(key)


def set_env(name: str, value: Any) -> Mutation:
    return lambda config: nightly(config)["env"].update({name: value})


def set_secret_url(url: str) -> Mutation:
    return lambda config: nightly(config)["secrets"]["db-password"].update(keyVaultSecretUrl=url)


def grant(role: str, scope: str) -> Mutation:
    return set_nightly(azureAccess=[{"role": role, "scope": scope}])


def profile(name: str = D4, type_: str = "D4", minimum: int = 0, maximum: int = 2) -> dict[str, Any]:
    return {"name": name, "workloadProfileType": type_, "minimumCount": minimum, "maximumCount": maximum}


def with_profiles(*profiles: dict[str, Any]) -> Mutation:
    return lambda config: environment(config).update(workloadProfiles=list(profiles))


def on_d4(maximum: int = 2, **values: Any) -> Mutation:
    """The nightly job on a D4 profile of `maximum` nodes, with `values` set on it."""
    return both(with_profiles(profile(maximum=maximum)), set_nightly(workloadProfile=D4, **values))


def both(*mutations: Mutation) -> Mutation:
    def mutate(config: dict[str, Any]) -> None:
        for change in mutations:
            change(config)

    return mutate


def load(config: dict[str, Any]) -> StackConfigBase:
    return load_stack_config(config, stack_file="Pulumi.test.yaml")


BROKEN: list[tuple[str, Mutation, str, str]] = [
    # (case, how the stack file is broken, key path the message names, words of the problem or fix)
    # --- scheduled jobs: the schedule, and the shared job rules
    (
        "cron-six-fields",
        set_nightly(cronExpression="0 0 2 * * *"),
        f"{SCHEDULED}.cronExpression",
        "seconds and years fields are not supported",
    ),
    ("cron-descriptor", set_nightly(cronExpression="@daily"), f"{SCHEDULED}.cronExpression", "is a descriptor"),
    (
        "cron-time-zone-prefix",
        set_nightly(cronExpression="TZ=Asia/Seoul 0 2 * * *"),
        f"{SCHEDULED}.cronExpression",
        "convert the time to UTC",
    ),
    (
        "cron-minute-out-of-range",
        set_nightly(cronExpression="61 * * * *"),
        f"{SCHEDULED}.cronExpression",
        "out of range 0-59",
    ),
    ("cron-not-text", set_nightly(cronExpression=2), f"{SCHEDULED}.cronExpression", "must be text"),
    ("cron-missing", drop_nightly("cronExpression"), f"{SCHEDULED}.cronExpression", "is required"),
    (
        "cron-misspelt",
        both(drop_nightly("cronExpression"), set_nightly(cronExpresion="0 2 * * *")),
        f"{SCHEDULED}.cronExpresion",
        "did you mean `cronExpression`",
    ),
    (
        "scheduled-retry-above-1-not-idempotent",
        set_nightly(replicaRetryLimit=3),
        f"{SCHEDULED}.replicaRetryLimit",
        "replicaRetryLimit 3 re-runs a failed replica more than once",
    ),
    (
        "scheduled-n-of-m-without-opt-in",
        set_nightly(parallelism=3, replicaCompletionCount=2),
        f"{SCHEDULED}.replicaCompletionCount",
        "replicaCompletionCount 2 is below parallelism 3",
    ),
    # --- command and args
    ("command-empty", set_nightly(command=[]), f"{SCHEDULED}.command", "is an empty list"),
    ("args-empty", set_nightly(args=[]), f"{SCHEDULED}.args", "is an empty list"),
    # A string is not split into words: it must be a list.
    (
        "command-a-string",
        set_nightly(command="python -m orders.nightly_export"),
        f"{SCHEDULED}.command",
        "must be a list",
    ),
    ("args-a-string", set_nightly(args="--since 24h"), f"{SCHEDULED}.args", "must be a list"),
    ("args-item-a-number", set_nightly(args=["--since", 24]), f"{SCHEDULED}.args.1", "must be text, got 24"),
    # --- secrets: only Key Vault references, only from the stack's vault
    (
        "secret-value-in-config",
        set_nightly(secrets={"db-password": {"value": "hunter2"}}),
        f"{SCHEDULED}.secrets.db-password.value",
        "a secret value is never read from config",
    ),
    (
        "secret-in-another-vault",
        set_secret_url("https://kv-other.vault.azure.net/secrets/x"),
        f"{SCHEDULED}.secrets.db-password.keyVaultSecretUrl",
        "is in vault `kv-other`, not the stack's vault `kv-aca-test`",
    ),
    (
        "secret-url-http",
        set_secret_url("http://kv-aca-test.vault.azure.net/secrets/orders-db-password"),
        f"{SCHEDULED}.secrets.db-password.keyVaultSecretUrl",
        "is not a Key Vault secret URL",
    ),
    (
        "secret-url-without-secrets",
        set_secret_url("https://kv-aca-test.vault.azure.net/keys/orders-db-password"),
        f"{SCHEDULED}.secrets.db-password.keyVaultSecretUrl",
        "is not a Key Vault secret URL",
    ),
    (
        "secret-url-bad-version",
        set_secret_url(f"{VAULT_URL}/orders-db-password/v2"),
        f"{SCHEDULED}.secrets.db-password.keyVaultSecretUrl",
        "is not a Key Vault secret URL",
    ),
    (
        "secret-url-not-a-vault-host",
        set_secret_url("https://kv-aca-test.vault.example.com/secrets/orders-db-password"),
        f"{SCHEDULED}.secrets.db-password.keyVaultSecretUrl",
        "is not a Key Vault secret URL",
    ),
    (
        "secret-url-a-string",
        set_nightly(secrets={"db-password": f"{VAULT_URL}/orders-db-password"}),
        f"{SCHEDULED}.secrets.db-password",
        "must be a map of keys",
    ),
    (
        "secrets-without-key-vault",
        lambda c: c["aca-jobs:platform"].pop("keyVault"),
        f"{SCHEDULED}.secrets.db-password",
        "add `keyVault: {resourceId: /subscriptions/",
    ),
    (
        "secret-name-invalid",
        both(
            set_nightly(secrets={"DB_Password": {"keyVaultSecretUrl": f"{VAULT_URL}/orders-db-password"}}),
            set_env("DB_PASSWORD", {"secretRef": "DB_Password"}),
        ),
        f"{SCHEDULED}.secrets.DB_Password",
        "is not a valid Container Apps secret name",
    ),
    (
        "env-reads-undefined-secret",
        set_env("DB_PASSWORD", {"secretRef": "db-pasword"}),
        f"{SCHEDULED}.env.DB_PASSWORD.secretRef",
        "reads secret `db-pasword`, which this job's `secrets` does not define",
    ),
    (
        "env-secretref-misspelt",
        set_env("DB_PASSWORD", {"secretref": "db-password"}),
        f"{SCHEDULED}.env.DB_PASSWORD",
        "either a plain string or `{secretRef: <secret name>}`",
    ),
    (
        "env-value-map",
        set_env("DB_PASSWORD", {"value": "hunter2"}),
        f"{SCHEDULED}.env.DB_PASSWORD",
        "either a plain string or `{secretRef: <secret name>}`",
    ),
    (
        "env-encrypted-value",
        set_env("DB_PASSWORD", {"secure": "AAAB"}),
        f"{SCHEDULED}.env.DB_PASSWORD",
        "is an encrypted value",
    ),
    (
        "env-encrypted-value-fix",
        set_env("DB_PASSWORD", {"secure": "AAAB"}),
        f"{SCHEDULED}.env.DB_PASSWORD",
        "store the secret in the stack's Key Vault",
    ),
    (
        "event-job-connection-secret-name",
        lambda c: queue_job(c).update(
            secrets={"servicebus-connection": {"keyVaultSecretUrl": f"{VAULT_URL}/sb-connection"}},
            env={"SB_CONNECTION": {"secretRef": "servicebus-connection"}},
        ),
        f"{EVENT}.secrets.servicebus-connection",
        "give this secret another name",
    ),
    (
        "key-vault-id-not-a-vault",
        lambda c: c["aca-jobs:platform"]["keyVault"].update(resourceId=STORAGE_ACCOUNT_ID),
        "aca-jobs:platform.keyVault.resourceId",
        "is not a Key Vault resource id",
    ),
    (
        "key-vault-id-double-dash",
        lambda c: c["aca-jobs:platform"]["keyVault"].update(resourceId=KEY_VAULT_ID.replace("kv-aca", "kv--aca")),
        "aca-jobs:platform.keyVault.resourceId",
        "is not a Key Vault resource id",
    ),
    # --- azureAccess: data-plane roles on one resource
    (
        "role-owner",
        grant("Owner", EXPORTS_CONTAINER_ID),
        f"{SCHEDULED}.azureAccess.0.role",
        "is a management (control-plane) role",
    ),
    (
        "role-contributor",
        grant("Contributor", EXPORTS_CONTAINER_ID),
        f"{SCHEDULED}.azureAccess.0.role",
        "is a management (control-plane) role",
    ),
    (
        "role-user-access-administrator",
        grant("User Access Administrator", EXPORTS_CONTAINER_ID),
        f"{SCHEDULED}.azureAccess.0.role",
        "is a management (control-plane) role",
    ),
    (
        "role-unknown",
        grant("Storage Blob Data Owner", EXPORTS_CONTAINER_ID),
        f"{SCHEDULED}.azureAccess.0.role",
        "is not one of the data-plane roles",
    ),
    (
        "scope-subscription",
        grant("Storage Blob Data Reader", "/subscriptions/33333333-3333-3333-3333-333333333333"),
        f"{SCHEDULED}.azureAccess.0.scope",
        "too wide",
    ),
    (
        "scope-resource-group",
        grant("Storage Blob Data Reader", DATA_RG),
        f"{SCHEDULED}.azureAccess.0.scope",
        "too wide",
    ),
    (
        "scope-other-provider",
        grant("Storage Blob Data Reader", SERVICE_BUS_QUEUE_ID),
        f"{SCHEDULED}.azureAccess.0.scope",
        "acts on Microsoft.Storage resources, but the scope is a Microsoft.ServiceBus resource",
    ),
    (
        "secrets-user-on-whole-vault",
        grant("Key Vault Secrets User", KEY_VAULT_ID),
        f"{SCHEDULED}.azureAccess.0.scope",
        "scope it to one secret",
    ),
    (
        "grant-listed-twice",
        set_nightly(
            azureAccess=[
                {"role": "Storage Blob Data Contributor", "scope": EXPORTS_CONTAINER_ID},
                {"role": "Storage Blob Data Contributor", "scope": EXPORTS_CONTAINER_ID.upper()},
            ]
        ),
        f"{SCHEDULED}.azureAccess.1",
        "is listed twice",
    ),
    (
        "azure-client-id-with-azure-access",
        set_env("AZURE_CLIENT_ID", "00000000-0000-0000-0000-000000000000"),
        f"{SCHEDULED}.env.AZURE_CLIENT_ID",
        "remove env.AZURE_CLIENT_ID",
    ),
    # --- workload profiles
    (
        "profile-unknown",
        both(with_profiles(profile()), set_nightly(workloadProfile="gpu")),
        f"{SCHEDULED}.workloadProfile",
        f"use one of `Consumption`, `{D4}`",
    ),
    (
        "profile-unknown-without-dedicated",
        set_nightly(workloadProfile="dedicated"),
        f"{SCHEDULED}.workloadProfile",
        "use one of `Consumption`, or add it under aca-jobs:platform.environment.workloadProfiles",
    ),
    (
        "profile-consumption-lower-case",
        set_nightly(workloadProfile="consumption"),
        f"{SCHEDULED}.workloadProfile",
        "did you mean `Consumption`",
    ),
    (
        "profile-dedicated-wrong-case",
        both(with_profiles(profile()), set_nightly(workloadProfile="Dedicated-D4")),
        f"{SCHEDULED}.workloadProfile",
        f"did you mean `{D4}`",
    ),
    (
        "profile-type-gpu",
        with_profiles(profile("gpu", "NC24-A100")),
        f"{PROFILES}.0.workloadProfileType",
        "`NC24-A100` is not a dedicated profile type",
    ),
    (
        "profile-type-d2",
        with_profiles(profile("small", "D2")),
        f"{PROFILES}.0.workloadProfileType",
        "`D2` is not a dedicated profile type",
    ),
    (
        "profile-named-consumption",
        with_profiles(profile("Consumption")),
        f"{PROFILES}.0.name",
        "it is the built-in profile's name",
    ),
    (
        "profile-named-consumption-lower-case",
        with_profiles(profile("consumption")),
        f"{PROFILES}.0.name",
        "it is the built-in profile's name",
    ),
    (
        "profile-listed-twice",
        with_profiles(profile(), profile("Dedicated-D4", "D8")),
        f"{PROFILES}.1.name",
        "profile `Dedicated-D4` is listed twice",
    ),
    (
        "profile-minimum-above-maximum",
        with_profiles(profile(minimum=3, maximum=2)),
        f"{PROFILES}.0.minimumCount",
        "minimumCount 3 is above maximumCount 2",
    ),
    (
        "consumption-cpu-above-4",
        set_nightly(cpu=4.25, memory="8.5Gi"),
        f"{SCHEDULED}.cpu",
        "is not a size of the Consumption profile",
    ),
    (
        "consumption-memory-not-twice-cpu",
        set_nightly(cpu=1.0, memory="3Gi"),
        f"{SCHEDULED}.memory",
        "set memory to `2Gi`",
    ),
    (
        "d4-cpu-above-node",
        on_d4(cpu=4.25, memory="16Gi"),
        f"{SCHEDULED}.cpu",
        f"cpu 4.25 does not fit a node of profile `{D4}` (D4: 4 cores, 16Gi)",
    ),
    (
        "d4-memory-above-node",
        on_d4(cpu=4.0, memory="17Gi"),
        f"{SCHEDULED}.memory",
        f"memory 17Gi does not fit a node of profile `{D4}`",
    ),
    (
        "d4-cpu-not-a-step",
        on_d4(cpu=1.1, memory="4Gi"),
        f"{SCHEDULED}.cpu",
        "use a multiple of 0.25 up to 4",
    ),
    (
        "d4-storm-over-profile",
        on_d4(maximum=1, parallelism=2, replicaCompletionCount=2, cpu=4.0, memory="16Gi"),
        f"{SCHEDULED}.parallelism",
        f"= 8 cores exceeds profile `{D4}`'s 4 cores",
    ),
    (
        "consumption-job-beside-profiles-over-quota",
        both(
            with_profiles(profile(maximum=4)),
            lambda c: environment(c).update(coreQuota=1),
            set_backfill(workloadProfile=D4),
            lambda c: queue_job(c).update(workloadProfile=D4),
            set_nightly(workloadProfile="Consumption", cpu=2.0, memory="4Gi"),
        ),
        f"{SCHEDULED}.parallelism",
        "exceeds the environment's coreQuota of 1 for the Consumption profile",
    ),
]


@pytest.mark.parametrize(("mutate", "key_path", "words"), [b[1:] for b in BROKEN], ids=[b[0] for b in BROKEN])
def test_broken_rule_names_file_key_and_fix(full_config: dict[str, Any], mutate, key_path: str, words: str) -> None:
    mutate(full_config)
    assert_rule_broken(full_config, key_path, words)


ACCEPTED: list[tuple[str, Mutation]] = [
    ("cron-every-30-minutes", set_nightly(cronExpression="*/30 * * * *", replicaTimeout=1800)),
    ("cron-weekdays-by-name", set_nightly(cronExpression="15 3 * * MON-FRI")),
    ("scheduled-retry-3-idempotent", set_nightly(replicaRetryLimit=3, idempotent=True)),
    ("no-command-no-args", both(drop_nightly("command"), drop_nightly("args"))),
    ("secret-url-versioned", set_secret_url(f"{VAULT_URL}/orders-db-password/{'0123456789abcdef' * 2}")),
    ("secret-url-vault-name-case", set_secret_url("https://KV-ACA-TEST.vault.azure.net/secrets/orders-db-password")),
    (
        "no-secrets-no-key-vault",
        both(set_nightly(secrets={}, env={}), lambda c: c["aca-jobs:platform"].pop("keyVault")),
    ),
    ("azure-client-id-without-azure-access", both(set_nightly(azureAccess=[]), set_env("AZURE_CLIENT_ID", "x"))),
    (
        "same-scope-two-roles",
        set_nightly(
            azureAccess=[
                {"role": "Storage Blob Data Reader", "scope": EXPORTS_CONTAINER_ID},
                {"role": "Storage Blob Data Contributor", "scope": EXPORTS_CONTAINER_ID},
            ]
        ),
    ),
    ("consumption-largest-pair", set_nightly(cpu=4.0, memory="8Gi")),
    ("consumption-explicit", set_nightly(workloadProfile="Consumption")),
    ("d4-whole-node", on_d4(cpu=4.0, memory="16Gi")),
    ("d4-no-memory-ratio", on_d4(cpu=3, memory="5Gi")),
    ("d4-storm-exactly-at-capacity", on_d4(maximum=2, parallelism=2, replicaCompletionCount=2, cpu=4.0, memory="16Gi")),
    (
        "e4-more-memory-per-core",
        both(with_profiles(profile("mem-e4", "E4")), set_nightly(workloadProfile="mem-e4", cpu=4.0, memory="32Gi")),
    ),
    ("profile-minimum-equals-maximum", with_profiles(profile(minimum=2, maximum=2))),
]


@pytest.mark.parametrize("mutate", [a[1] for a in ACCEPTED], ids=[a[0] for a in ACCEPTED])
def test_valid_values_are_accepted(full_config: dict[str, Any], mutate) -> None:
    mutate(full_config)
    load(full_config)


def test_the_full_config_loads_without_warnings(full_config: dict[str, Any]) -> None:
    assert load(full_config).warnings() == []


def test_command_and_args_are_kept_in_order(full_config: dict[str, Any]) -> None:
    set_nightly(command=["/bin/sh", "-c", "run z a"], args=["b", "a", "b"])(full_config)
    job = load(full_config).scheduled_jobs["job-orders-nightly"]
    assert job.command == ["/bin/sh", "-c", "run z a"]
    assert job.args == ["b", "a", "b"]


def test_a_secret_ref_is_kept_as_a_reference_and_plain_values_as_text(full_config: dict[str, Any]) -> None:
    job = load(full_config).scheduled_jobs["job-orders-nightly"]
    assert job.env["DB_HOST"] == "orders-db.postgres.database.azure.com"
    assert job.env["DB_PASSWORD"].secret_ref == "db-password"
    assert job.secrets["db-password"].vault_name == "kv-aca-test"
    assert job.secrets["db-password"].secret_name == "orders-db-password"


def test_a_schedule_more_frequent_than_the_timeout_warns_of_overlap(full_config: dict[str, Any]) -> None:
    set_nightly(cronExpression="*/30 * * * *", replicaTimeout=3600)(full_config)
    overlap = [w for w in load(full_config).warnings() if "executions overlap" in w]
    assert len(overlap) == 1
    assert "scheduled job `job-orders-nightly` may run for replicaTimeout 3600s" in overlap[0]
    assert "longer than the 30 minutes between two runs of `*/30 * * * *` (UTC)" in overlap[0]


@pytest.mark.parametrize(
    ("cron", "timeout"),
    [("0 2 * * *", 3600), ("*/30 * * * *", 1800), ("0 */2 * * *", 7200)],
    ids=["daily-1h", "every-30m-exactly-30m", "every-2h-exactly-2h"],
)
def test_a_timeout_within_the_interval_does_not_warn(full_config: dict[str, Any], cron: str, timeout: int) -> None:
    set_nightly(cronExpression=cron, replicaTimeout=timeout)(full_config)
    assert not [w for w in load(full_config).warnings() if "overlap" in w]


def test_a_secret_no_env_reads_is_a_warning_not_an_error(full_config: dict[str, Any]) -> None:
    nightly(full_config)["secrets"]["orders-api-key"] = {"keyVaultSecretUrl": f"{VAULT_URL}/orders-api-key"}
    warnings = load(full_config).warnings()
    unused = [w for w in warnings if "which no env entry reads" in w]
    assert len(unused) == 1
    assert "job `job-orders-nightly` defines secret `orders-api-key`" in unused[0]
    assert "db-password" not in unused[0]


def scope_for(role: BuiltInRole) -> str:
    """A resource the role acts on: a secret for Key Vault Secrets User, else one of its provider's resources (for
    Storage, of the service its name says)."""
    if role == KEY_VAULT_SECRETS_USER:
        return SECRET_SCOPE
    if role.provider == "Microsoft.Storage":
        service = role.display_name.split()[1]  # `Storage <Blob|Queue|Table> Data ...`
        return {"Blob": EXPORTS_CONTAINER_ID, "Queue": STORAGE_QUEUE_ID, "Table": STORAGE_TABLE_ID}[service]
    return {"Microsoft.ServiceBus": SERVICE_BUS_QUEUE_ID, "Microsoft.EventHub": EVENT_HUB_ID}[role.provider or ""]


@pytest.mark.parametrize("role", DATA_PLANE_ROLES, ids=[r.slug for r in DATA_PLANE_ROLES])
def test_every_data_plane_role_is_accepted_at_a_matching_scope(full_config: dict[str, Any], role: BuiltInRole) -> None:
    scope = scope_for(role)
    grant(role.display_name, scope)(full_config)
    (loaded,) = load(full_config).scheduled_jobs["job-orders-nightly"].azure_access
    assert loaded.built_in_role == role
    assert loaded.scope == scope


def test_jobs_together_over_a_profile_warn_once_for_that_profile(full_config: dict[str, Any]) -> None:
    # Each fits one D4 node alone (4 cores, then 2); together they need 6 of the profile's 4 cores.
    with_profiles(profile(maximum=1))(full_config)
    set_backfill(workloadProfile=D4, cpu=2.0, memory="8Gi")(full_config)
    set_nightly(workloadProfile=D4, cpu=2.0, memory="8Gi")(full_config)
    warnings = [w for w in load(full_config).warnings() if "at their peak together" in w]
    assert warnings == [
        f"all jobs on the {D4} profile at their peak together could use 6 cores, above profile `{D4}`'s 4 cores "
        f"(maximumCount 1 x 4-core D4 nodes): executions started past it fail or wait. Lower maxExecutions, "
        f"parallelism or cpu, or raise the profile's maximumCount under aca-jobs:platform.environment.workloadProfiles."
    ]


def test_jobs_on_a_dedicated_profile_do_not_count_against_the_consumption_quota(full_config: dict[str, Any]) -> None:
    # On Consumption the backfill's 8 cores would exceed the quota of 6; on the D4 profile it fills its 8 cores,
    # and the Consumption profile keeps the event job's 5 cores and the nightly job's 0.5.
    environment(full_config).update(coreQuota=6)
    set_backfill(cpu=4.0, memory="8Gi")(full_config)
    assert_rule_broken(full_config, f"{MANUAL}.parallelism", "coreQuota of 6")
    with_profiles(profile(maximum=2))(full_config)
    set_backfill(workloadProfile=D4, memory="16Gi")(full_config)
    assert load(full_config).warnings() == []


@pytest.mark.parametrize(
    ("value", "words"),
    [(5, "an env value must be text"), ({"secretRef": 5}, "`secretRef` must name one of the job's secrets")],
)
def test_a_bad_env_value_gets_one_message_at_its_own_key(full_config: dict[str, Any], value: Any, words: str) -> None:
    full_config["aca-jobs:scheduledJobs"]["job-orders-nightly"]["env"]["DB_PASSWORD"] = value
    message = config_error(full_config)
    assert "1 config problem" in message
    assert f"aca-jobs:scheduledJobs.job-orders-nightly.env.DB_PASSWORD: {words}" in message


def test_retries_and_waves_count_toward_the_overlap_warning(full_config: dict[str, Any]) -> None:
    job = full_config["aca-jobs:scheduledJobs"]["job-orders-nightly"]
    # Every 2 hours; one attempt of 3600 s fits, two attempts (a retry) do not.
    job.update(cronExpression="0 */2 * * *", replicaTimeout=3600, replicaRetryLimit=1)
    warnings = load_stack_config(full_config, stack_file="Pulumi.test.yaml").warnings()
    assert not [w for w in warnings if "`job-orders-nightly` may run" in w]  # 2 x 3600 s = exactly 2 hours
    job.update(replicaTimeout=3601)
    warnings = load_stack_config(full_config, stack_file="Pulumi.test.yaml").warnings()
    assert any("replicaTimeout 3601s x 2 attempts (replicaRetryLimit 1) = 7202s" in w for w in warnings)


def test_a_real_job_written_in_the_arm_shape_gets_every_fix_in_one_run(full_config: dict[str, Any]) -> None:
    """A nightly job copied from an ARM template or `az` output: env and secrets as lists of named entries, the
    command as one line, the schedule as a number. Every key is named in one run, each with what to write."""
    nightly(full_config).update(
        env=[{"name": "DB_HOST", "value": "db"}, {"name": "DB_PASSWORD", "secretRef": "db-password"}],
        secrets=[{"name": "db-password", "keyVaultUrl": f"{VAULT_URL}/orders-db-password", "identity": "system"}],
        command="python -m orders.nightly_export",
        cronExpression=2,
    )
    message = config_error(full_config)
    assert message.startswith("Pulumi.test.yaml: 5 config problems (nothing was created):\n")
    assert f"\n  {SCHEDULED} (5 problems):\n" in message
    assert (
        f"{SCHEDULED}.command: must be a list" in message
        and "`command: [python, -m, orders.nightly_export]`" in message
    )
    assert f'{SCHEDULED}.cronExpression: must be text, got 2. Fix: quote it: `cronExpression: "2"`' in message
    # ... and what `"2"` would be told next, in the same run: the job is checked with its one-value fixes applied.
    assert f"{SCHEDULED}.cronExpression: 1 field given in `2`; Azure takes 5" in message
    assert "`env: {DB_HOST: db, DB_PASSWORD: {secretRef: db-password}}`" in message
    assert f"`secrets: {{db-password: {{keyVaultSecretUrl: '{VAULT_URL}/orders-db-password'}}}}`" in message
