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
