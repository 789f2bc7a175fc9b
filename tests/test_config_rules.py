"""Every rule of the stack-config contract: a broken value is rejected with a message that names the stack
file, the YAML key path and the fix; valid edge values are accepted; defaults are as documented."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from conftest import assert_rule_broken, config_error

from components.stack_config import load_stack_config

JOB = "aca-jobs:manualJobs.job-orders-backfill"


def job(config: dict[str, Any]) -> dict[str, Any]:
    return config["aca-jobs:manualJobs"]["job-orders-backfill"]


def platform(config: dict[str, Any]) -> dict[str, Any]:
    return config["aca-jobs:platform"]


def set_job(**values: Any) -> Callable[[dict[str, Any]], None]:
    return lambda config: job(config).update(values)


def rename_job(name: str) -> Callable[[dict[str, Any]], None]:
    def mutate(config: dict[str, Any]) -> None:
        jobs = config["aca-jobs:manualJobs"]
        jobs[name] = jobs.pop("job-orders-backfill")

    return mutate


BROKEN: list[tuple[str, Callable[[dict[str, Any]], None], str, str]] = [
    # (case, how the stack file is broken, key path the message names, words of the problem or fix)
    ("name-too-short", rename_job("j"), "aca-jobs:manualJobs.j", "2-32 lowercase"),
    ("name-too-long", rename_job("j" * 33), "aca-jobs:manualJobs." + "j" * 33, "2-32 lowercase"),
    ("name-uppercase", rename_job("Job-orders"), "aca-jobs:manualJobs.Job-orders", "starting with a letter"),
    (
        "name-starts-with-digit",
        rename_job("1-orders"),
        "aca-jobs:manualJobs.1-orders",
        "starting with a letter",
    ),
    (
        "name-ends-with-dash",
        rename_job("orders-"),
        "aca-jobs:manualJobs.orders-",
        "ending with a letter or digit",
    ),
    ("name-double-dash", rename_job("orders--backfill"), "aca-jobs:manualJobs.orders--backfill", "no '--'"),
    (
        "name-underscore",
        rename_job("orders_backfill"),
        "aca-jobs:manualJobs.orders_backfill",
        "letters, digits",
    ),
    (
        "image-untagged",
        set_job(image="acrsharedprod.azurecr.io/jobs/orders"),
        f"{JOB}.image",
        "no tag or digest",
    ),
    (
        "image-latest",
        set_job(image="acrsharedprod.azurecr.io/jobs/orders:latest"),
        f"{JOB}.image",
        "`latest`",
    ),
    (
        "image-port-is-not-a-tag",
        set_job(image="registry.local:5000/jobs/orders"),
        f"{JOB}.image",
        "no tag or digest",
    ),
    (
        "image-bad-digest",
        set_job(image="acrsharedprod.azurecr.io/jobs/o@sha256:abc"),
        f"{JOB}.image",
        "sha256",
    ),
    (
        "parallelism-zero",
        set_job(parallelism=0, replicaCompletionCount=1),
        f"{JOB}.parallelism",
        "at least 1",
    ),
    ("completion-zero", set_job(replicaCompletionCount=0), f"{JOB}.replicaCompletionCount", "at least 1"),
    (
        "n-of-m-without-opt-in",
        set_job(replicaCompletionCount=1),
        f"{JOB}.replicaCompletionCount",
        "allowPartialCompletion",
    ),
    ("retry-negative", set_job(replicaRetryLimit=-1), f"{JOB}.replicaRetryLimit", "at least 0"),
    (
        "retry-above-1-not-idempotent",
        set_job(replicaRetryLimit=2),
        f"{JOB}.replicaRetryLimit",
        "idempotent: true",
    ),
    ("timeout-zero", set_job(replicaTimeout=0), f"{JOB}.replicaTimeout", "at least 1"),
    ("cpu-not-a-step", set_job(cpu=0.3, memory="0.6Gi"), f"{JOB}.cpu", "multiple of 0.25"),
    ("cpu-above-consumption", set_job(cpu=4.25, memory="8.5Gi"), f"{JOB}.cpu", "multiple of 0.25"),
    ("memory-not-twice-cpu", set_job(cpu=0.5, memory="2Gi"), f"{JOB}.memory", "set memory to `1Gi`"),
    ("memory-unit", set_job(cpu=1.0, memory="2G"), f"{JOB}.memory", "set memory to `2Gi`"),
    (
        "cores-over-quota",
        lambda c: (platform(c)["environment"].update(coreQuota=1), job(c).update(cpu=1.0, memory="2Gi")),
        f"{JOB}.parallelism",
        "exceeds the environment's coreQuota of 1",
    ),
    (
        "registry-id-not-a-registry",
        lambda c: platform(c)["registry"].update(
            resourceId="/subscriptions/x/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/acrsharedprod"
        ),
        "aca-jobs:platform.registry.resourceId",
        "not a container registry resource id",
    ),
    (
        "registry-server-other-registry",
        lambda c: platform(c)["registry"].update(server="acrother.azurecr.io"),
        "aca-jobs:platform.registry.server",
        "not the login server of registry `acrsharedprod`",
    ),
    ("unknown-job-key", set_job(paralelism=2), f"{JOB}.paralelism", "did you mean `parallelism`"),
    (
        "unknown-platform-key",
        lambda c: platform(c).update(protected=True),
        "aca-jobs:platform.protected",
        "did you mean `protect`",
    ),
    (
        "unknown-top-level-key",
        lambda c: c.update({"aca-jobs:manualJob": {}}),
        "aca-jobs:manualJob",
        "did you mean `aca-jobs:manualJobs`",
    ),
    ("type-int-as-string", set_job(parallelism="2"), f"{JOB}.parallelism", 'must be a whole number, got "2"'),
    ("type-int-as-float", set_job(replicaTimeout=1800.5), f"{JOB}.replicaTimeout", "must be a whole number"),
    ("type-bool-as-string", set_job(idempotent="yes"), f"{JOB}.idempotent", "must be true or false"),
    ("type-cpu-as-string", set_job(cpu="0.5"), f"{JOB}.cpu", "must be a number"),
    (
        "type-platform-protect",
        lambda c: platform(c).update(protect="true"),
        "aca-jobs:platform.protect",
        "must be true or false",
    ),
    (
        "type-job-not-a-map",
        lambda c: c["aca-jobs:manualJobs"].update({"job-x": "image"}),
        "aca-jobs:manualJobs.job-x",
        "a map of keys",
    ),
    ("missing-image", lambda c: job(c).pop("image"), f"{JOB}.image", "is required"),
    ("missing-location", lambda c: c.pop("azure-native:location"), "azure-native:location", "is required"),
    ("missing-platform", lambda c: c.pop("aca-jobs:platform"), "aca-jobs:platform", "is required"),
    (
        "retention-below-minimum",
        lambda c: platform(c)["environment"].update(logRetentionDays=7),
        "aca-jobs:platform.environment.logRetentionDays",
        "at least 30",
    ),
    (
        "env-name-invalid",
        set_job(env={"1BAD": "x"}),
        f"{JOB}.env.1BAD",
        "not a valid environment variable name",
    ),
]


@pytest.mark.parametrize(("mutate", "key_path", "words"), [b[1:] for b in BROKEN], ids=[b[0] for b in BROKEN])
def test_broken_rule_names_file_key_and_fix(seed_config: dict[str, Any], mutate, key_path: str, words: str) -> None:
    mutate(seed_config)
    assert_rule_broken(seed_config, key_path, words)


ACCEPTED: list[tuple[str, Callable[[dict[str, Any]], None]]] = [
    ("name-two-chars", rename_job("jb")),
    ("name-32-chars", rename_job("j" * 32)),
    ("image-digest-only", set_job(image="acrsharedprod.azurecr.io/jobs/o@sha256:" + "a" * 64)),
    ("image-tag-and-digest", set_job(image="acrsharedprod.azurecr.io/jobs/o:v1@sha256:" + "b" * 64)),
    ("image-nested-repository", set_job(image="acrsharedprod.azurecr.io/team/jobs/orders:v2")),
    ("n-of-m-with-opt-in", set_job(replicaCompletionCount=1, allowPartialCompletion=True)),
    ("waves-completion-above-parallelism", set_job(replicaCompletionCount=6)),
    ("retry-1-not-idempotent", set_job(replicaRetryLimit=1)),
    ("retry-5-idempotent", set_job(replicaRetryLimit=5, idempotent=True)),
    ("largest-consumption-pair", set_job(cpu=4.0, memory="8Gi")),
    ("cpu-as-integer", set_job(cpu=1, memory="2Gi")),
    ("smallest-consumption-pair", set_job(cpu=0.25, memory="0.5Gi")),
    (
        "cores-exactly-at-quota",
        lambda c: (platform(c)["environment"].update(coreQuota=1), job(c).update(cpu=0.5)),
    ),
]


@pytest.mark.parametrize("mutate", [a[1] for a in ACCEPTED], ids=[a[0] for a in ACCEPTED])
def test_valid_edge_values_are_accepted(seed_config: dict[str, Any], mutate) -> None:
    mutate(seed_config)
    load_stack_config(seed_config, stack_file="Pulumi.test.yaml")


def test_defaults_match_the_contract(seed_config: dict[str, Any]) -> None:
    seed_config["aca-jobs:manualJobs"] = {"job-minimal": {"image": "acrsharedprod.azurecr.io/jobs/minimal:v1"}}
    seed_config["aca-jobs:platform"]["environment"] = {"name": "aca-env-test"}
    del seed_config["aca-jobs:platform"]["protect"]
    config = load_stack_config(seed_config, stack_file="Pulumi.test.yaml")
    minimal = config.manual_jobs["job-minimal"]
    assert (minimal.parallelism, minimal.replica_completion_count) == (1, 1)
    assert (minimal.replica_retry_limit, minimal.replica_timeout) == (0, 1800)
    assert (minimal.cpu, minimal.memory) == (0.5, "1Gi")
    assert (minimal.idempotent, minimal.allow_partial_completion) == (False, False)
    environment = config.platform.environment
    assert (environment.log_retention_days, environment.core_quota) == (30, 100)
    assert config.platform.workspace == "log-rg-aca-test"  # follows the resource group, not the environment
    assert config.platform.protect is False


def test_every_problem_is_reported_at_once(seed_config: dict[str, Any]) -> None:
    job(seed_config).update(replicaTimeout=0)
    platform(seed_config)["environment"].update(logRetentionDays=1)
    message = config_error(seed_config)
    assert "2 config problems" in message
    assert f"{JOB}.replicaTimeout" in message
    assert "aca-jobs:platform.environment.logRetentionDays" in message


# --- every problem in one run, grouped per job ------------------------------------------------------------------


def problem_groups(message: str) -> dict[str, list[str]]:
    """Group title -> its problem lines, as `format_problems` prints them."""
    groups: dict[str, list[str]] = {}
    lines: list[str] = []
    for line in message.splitlines()[1:]:
        if line.startswith("    - "):
            lines.append(line[6:])
        elif line.startswith("  "):
            lines = groups.setdefault(line.strip().split(" (")[0].rstrip(":"), [])
    return groups


def test_an_unknown_key_does_not_hide_the_other_problems_of_its_job(seed_config: dict[str, Any]) -> None:
    job(seed_config).update(paralelism=2, memory=2, replicaTimeout="30m")
    groups = problem_groups(config_error(seed_config))
    assert [line.split(": ")[1] for line in groups[JOB]] == [
        f"{JOB}.memory",  # `memory: 2`: write `2Gi`
        f"{JOB}.memory",  # and 2Gi is no Consumption pair with cpu 0.5 (checked with the fixes applied)
        f"{JOB}.paralelism",
        f"{JOB}.replicaTimeout",
    ]


def test_one_jobs_problems_do_not_hide_the_stack_rules_of_another(seed_config: dict[str, Any]) -> None:
    jobs = seed_config["aca-jobs:manualJobs"]
    jobs["job-typed"] = {"image": "acrsharedprod.azurecr.io/jobs/typed:v1", "cpu": "0.5"}  # a field problem
    jobs["job-docker"] = {"image": "docker.io/library/busybox:1.36"}  # a rule of the stack (registry)
    jobs["job-small"] = {"image": "acrsharedprod.azurecr.io/jobs/small:v1", "cpu": 0.3, "memory": "0.6Gi"}  # stack
    message = config_error(seed_config)
    assert "3 config problems" in message
    groups = problem_groups(message)
    assert list(groups) == [
        "aca-jobs:manualJobs.job-docker",
        "aca-jobs:manualJobs.job-small",
        "aca-jobs:manualJobs.job-typed",
    ]
    assert "pulls `docker.io/library/busybox:1.36` from `docker.io`" in groups["aca-jobs:manualJobs.job-docker"][0]
    assert "aca-jobs:manualJobs.job-small.cpu: cpu 0.3 is not a size" in groups["aca-jobs:manualJobs.job-small"][0]
    assert 'job-typed.cpu: must be a number, got "0.5"' in groups["aca-jobs:manualJobs.job-typed"][0]


def test_problems_are_grouped_per_job_and_top_level_key(full_config: dict[str, Any]) -> None:
    full_config["aca-jobs:alerts"] = {"emails": ["oncall@example.com"]}
    full_config["aca-jobs:platform"]["environment"]["logRetentionDays"] = 7
    full_config["aca-jobs:scheduledJobs"]["job-orders-nightly"].update(cronExpression="61 * * * *", idempotent="yes")
    full_config["aca-jobs:eventJobs"]["job-orders-queue"].update(messageCount=0)
    message = config_error(full_config)
    assert message.startswith("Pulumi.test.yaml: 5 config problems (nothing was created):\n")
    assert "\n  aca-jobs:scheduledJobs.job-orders-nightly (2 problems):\n    - Pulumi.test.yaml: " in message
    groups = problem_groups(message)
    assert list(groups) == [
        "aca-jobs:alerts",
        "aca-jobs:platform",
        "aca-jobs:eventJobs.job-orders-queue",
        "aca-jobs:scheduledJobs.job-orders-nightly",
    ]
    for title, lines in groups.items():  # every line names the file, a key inside its group, and the fix
        assert all(line.startswith(f"Pulumi.test.yaml: {title}") and "Fix: " in line for line in lines)


def test_a_misspelt_required_key_is_one_problem_not_two(seed_config: dict[str, Any]) -> None:
    job(seed_config)["imgae"] = job(seed_config).pop("image")
    message = config_error(seed_config)
    assert "1 config problem" in message and "did you mean `image`" in message
    assert "is required" not in message


# --- where an unknown key belongs -------------------------------------------------------------------------------


def move_to_top_level(key: str) -> Callable[[dict[str, Any]], None]:
    """`aca-jobs:platform.<key>` written as `aca-jobs:<key>` (with an empty map if the seed has no such key)."""
    return lambda config: config.update({f"aca-jobs:{key}": platform(config).pop(key, {})})


MISPLACED: list[tuple[str, Callable[[dict[str, Any]], None], str, str]] = [
    # (case, how the stack file is broken, key path the message names, where it says the key belongs)
    *[
        (
            f"{key}-at-top-level",
            move_to_top_level(key),
            f"aca-jobs:{key}",
            f"`{key}` belongs under `aca-jobs:platform`: move it there (`aca-jobs:platform.{key}`)",
        )
        for key in ("alerts", "keyVault", "serviceBus", "registry", "environment")
    ],
    (
        "queue-under-platform",
        lambda c: platform(c).update(queue="orders"),
        "aca-jobs:platform.queue",
        # A Service Bus queue's key, and a storage queue block's.
        "`queue` belongs under `aca-jobs:eventJobs.<job>` or `aca-jobs:eventJobs.<job>.storageQueue`: move it there "
        "(`aca-jobs:eventJobs.<job>.queue`, `aca-jobs:eventJobs.<job>.storageQueue.queue`)",
    ),
    (
        "cron-on-a-manual-job",
        set_job(cronExpression="0 2 * * *"),
        f"{JOB}.cronExpression",
        "move it from `aca-jobs:manualJobs` to `aca-jobs:scheduledJobs`",
    ),
    (
        "message-count-on-a-manual-job",
        set_job(messageCount=5),
        f"{JOB}.messageCount",
        "move it from `aca-jobs:manualJobs` to `aca-jobs:eventJobs`",
    ),
    (
        "cloud-namespaced-as-ours",  # a name of two keys: the value's shape tells which (this one is not a map)
        lambda c: c.update({"aca-jobs:environment": "china"}),
        "aca-jobs:environment",
        "did you mean `azure-native:environment`?",
    ),
    (
        "location-namespaced-as-ours",
        lambda c: c.update({"aca-jobs:location": "x"}),
        "aca-jobs:location",
        "`azure-native:location`",
    ),
    ("key-in-another-case", set_job(Image="x"), f"{JOB}.Image", "did you mean `image`? Keys are case-sensitive"),
    (
        "slip-of-a-key-at-another-level",
        lambda c: c.update({"aca-jobs:alert": {}}),
        "aca-jobs:alert",
        "did you mean `alerts`? `alerts` belongs under `aca-jobs:platform`",
    ),
]


@pytest.mark.parametrize(("mutate", "key_path", "words"), [m[1:] for m in MISPLACED], ids=[m[0] for m in MISPLACED])
def test_an_unknown_key_is_told_where_it_belongs(
    seed_config: dict[str, Any], mutate, key_path: str, words: str
) -> None:
    mutate(seed_config)
    message = config_error(seed_config)
    assert f"Pulumi.test.yaml: {key_path}: unknown key. Fix: " in message
    assert words in message
    assert "eventJobs`?" not in message  # the near miss by spelling alone (`aca-jobs:alerts` ~ `aca-jobs:eventJobs`)


# --- type errors show what to write -------------------------------------------------------------------------------

TYPE_ERRORS: list[tuple[str, Callable[[dict[str, Any]], None], str, str]] = [
    # (case, how the stack file is broken, key path the message names, what the fix says to write)
    ("memory-as-a-number", set_job(memory=2), f"{JOB}.memory", "`memory: 2Gi`"),
    ("memory-as-a-fraction", set_job(memory=0.5), f"{JOB}.memory", "`memory: 0.5Gi`"),
    ("cpu-as-text", set_job(cpu="0.5"), f"{JOB}.cpu", "`cpu: 0.5`"),
    ("cpu-in-millicores", set_job(cpu="500m"), f"{JOB}.cpu", "write cores, not millicores: `cpu: 0.5`"),
    ("boolean-as-text", set_job(idempotent="true"), f"{JOB}.idempotent", "`idempotent: true` without quotes"),
    ("boolean-as-yes-text", set_job(idempotent="Yes"), f"{JOB}.idempotent", "`idempotent: true`"),
    ("boolean-as-number", lambda c: platform(c).update(protect=0), "aca-jobs:platform.protect", "`protect: false`"),
    ("number-as-text", set_job(parallelism="2"), f"{JOB}.parallelism", "`parallelism: 2`"),
    ("seconds-as-a-duration", set_job(replicaTimeout="30m"), f"{JOB}.replicaTimeout", "`replicaTimeout: 1800`"),
    ("whole-number-as-decimal", set_job(replicaTimeout=1800.0), f"{JOB}.replicaTimeout", "`replicaTimeout: 1800`"),
    (
        "tag-value-as-a-number",
        lambda c: platform(c)["tags"].update(version=2),
        "aca-jobs:platform.tags.version",
        '`version: "2"`',
    ),
    ("text-as-a-list", set_job(image=["acrsharedprod.azurecr.io/x:v1"]), f"{JOB}.image", "write one value"),
    ("list-item-as-a-number", set_job(args=["--retries", 3]), f"{JOB}.args.1", 'Fix: quote it: `"3"`.'),
    (
        "list-item-as-text",
        set_job(azureAccess=["Storage Blob Data Reader"]),
        f"{JOB}.azureAccess.0",
        "each item is a map",
    ),
    ("command-as-a-line", set_job(command="python -m app"), f"{JOB}.command", "`command: [python, -m, app]`"),
    (
        "list-items-without-space",
        set_job(args="-verbose -dry-run"),
        f"{JOB}.args",
        "each needs a space after `-` (`- verbose`, `- dry-run`)",
    ),
    (
        "env-as-name-value-lines",
        set_job(env=["LOG_LEVEL=debug", "RETRIES=3"]),
        f"{JOB}.env",
        "`env: {LOG_LEVEL: debug, RETRIES: '3'}`",
    ),
    (
        "env-in-the-arm-shape",
        set_job(env=[{"name": "LOG_LEVEL", "value": "debug"}, {"name": "TOKEN", "secretRef": "api-token"}]),
        f"{JOB}.env",
        "`env: {LOG_LEVEL: debug, TOKEN: {secretRef: api-token}}`",
    ),
    (
        "secrets-in-the-arm-shape",
        set_job(
            secrets=[{"name": "api-token", "keyVaultUrl": "https://kv.vault.azure.net/secrets/t", "identity": "x"}]
        ),
        f"{JOB}.secrets",
        "`secrets: {api-token: {keyVaultSecretUrl: 'https://kv.vault.azure.net/secrets/t'}}`",
    ),
    (
        "map-as-a-list",
        lambda c: platform(c).update(registry=[platform(c)["registry"]]),
        "aca-jobs:platform.registry",
        "one map, not a list",
    ),
    (
        "map-as-text",
        lambda c: platform(c).update(environment="aca-env-test"),
        "aca-jobs:platform.environment",
        "is a map",
    ),
]


@pytest.mark.parametrize(("mutate", "key_path", "words"), [t[1:] for t in TYPE_ERRORS], ids=[t[0] for t in TYPE_ERRORS])
def test_a_type_error_shows_what_to_write(seed_config: dict[str, Any], mutate, key_path: str, words: str) -> None:
    mutate(seed_config)
    assert_rule_broken(seed_config, key_path, words)


def test_a_job_is_checked_with_the_fixes_of_its_values_applied(seed_config: dict[str, Any]) -> None:
    """`idempotent: "true"` is a value of the wrong type with one fix (`true`): the job's other rules are checked
    as if it were written, so the image from another registry shows in the same run."""
    job(seed_config).update(idempotent="true", image="docker.io/library/busybox:1.36")
    message = config_error(seed_config)
    assert "2 config problems" in message
    assert f"{JOB}.idempotent: must be true or false" in message
    assert f"{JOB}.image: job `job-orders-backfill` pulls `docker.io/library/busybox:1.36`" in message


def test_a_job_whose_fix_is_a_choice_is_not_checked_further(seed_config: dict[str, Any]) -> None:
    """`args: -a -b` is a list written on one line, or `-a` items without their space: no guess is checked."""
    job(seed_config).update(args="-a -b", image="docker.io/library/busybox:1.36")
    message = config_error(seed_config)
    assert "1 config problem" in message and f"{JOB}.args: must be a list" in message


def test_thousands_of_unknown_keys_are_counted_not_all_listed(seed_config: dict[str, Any]) -> None:
    seed_config.update({f"aca-jobs:key{index}": index for index in range(5000)})
    message = config_error(seed_config)
    assert message.startswith("Pulumi.test.yaml: 5000 config problems (nothing was created):\n")
    assert len([line for line in message.splitlines() if line.startswith("    - ")]) == 100
    assert message.endswith("\n  ... and 4900 more; fix these first.")
