"""Config rules of event jobs and the Service Bus namespace; the shared job rules apply unchanged."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from conftest import assert_rule_broken

from components.stack_config import load_stack_config

JOB = "aca-jobs:eventJobs.job-orders-queue"


def event_job(config: dict[str, Any]) -> dict[str, Any]:
    return config["aca-jobs:eventJobs"]["job-orders-queue"]


def service_bus(config: dict[str, Any]) -> dict[str, Any]:
    return config["aca-jobs:platform"]["serviceBus"]


def set_job(**values: Any) -> Callable[[dict[str, Any]], None]:
    return lambda config: event_job(config).update(values)


def add_job(name: str, **values: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(config: dict[str, Any]) -> None:
        config["aca-jobs:eventJobs"][name] = {
            "image": "acrsharedprod.azurecr.io/jobs/x:v1",
            "messageCount": 1,
            **values,
        }

    return mutate


BROKEN: list[tuple[str, Callable[[dict[str, Any]], None], str, str]] = [
    (
        "namespace-too-short",
        lambda c: service_bus(c).update(namespace="sb-1"),
        "aca-jobs:platform.serviceBus.namespace",
        "6-50",
    ),
    (
        "namespace-starts-with-digit",
        lambda c: service_bus(c).update(namespace="1sb-aca"),
        "aca-jobs:platform.serviceBus.namespace",
        "starting with a letter",
    ),
    (
        "namespace-reserved-suffix",
        lambda c: service_bus(c).update(namespace="orders-sb"),
        "aca-jobs:platform.serviceBus.namespace",
        "`-sb`",
    ),
    (
        "namespace-sku",
        lambda c: service_bus(c).update(sku="Gold"),
        "aca-jobs:platform.serviceBus.sku",
        "must be one of",
    ),
    (
        "service-bus-missing",
        lambda c: c["aca-jobs:platform"].pop("serviceBus"),
        "aca-jobs:platform.serviceBus",
        "is required when aca-jobs:eventJobs has jobs",
    ),
    ("queue-name", set_job(queue="-orders"), f"{JOB}.queue", "not a Service Bus queue name"),
    ("queue-name-slash", set_job(queue="orders/eu"), f"{JOB}.queue", "not a Service Bus queue name"),
    ("message-count-zero", set_job(messageCount=0), f"{JOB}.messageCount", "at least 1"),
    (
        "message-count-missing",
        lambda c: event_job(c).pop("messageCount"),
        f"{JOB}.messageCount",
        "is required",
    ),
    (
        "activation-negative",
        set_job(activationMessageCount=-1),
        f"{JOB}.activationMessageCount",
        "at least 0",
    ),
    (
        "min-above-max",
        set_job(minExecutions=5, maxExecutions=4),
        f"{JOB}.minExecutions",
        "above maxExecutions 4",
    ),
    ("polling-zero", set_job(pollingInterval=0), f"{JOB}.pollingInterval", "at least 1"),
    ("lock-over-5-minutes", set_job(lockDuration="PT6M"), f"{JOB}.lockDuration", "up to PT5M"),
    ("lock-not-iso", set_job(lockDuration="60s"), f"{JOB}.lockDuration", "ISO-8601"),
    ("ttl-not-iso", set_job(messageTimeToLive="14 days"), f"{JOB}.messageTimeToLive", "ISO-8601"),
    ("max-delivery-zero", set_job(maxDeliveryCount=0), f"{JOB}.maxDeliveryCount", "at least 1"),
    ("auth-unknown", set_job(auth="sas"), f"{JOB}.auth", "must be one of"),
    (
        "two-jobs-one-queue",
        add_job("job-orders-queue-2", queue="orders"),
        "aca-jobs:eventJobs.job-orders-queue-2.queue",
        "already consumed by `job-orders-queue`",
    ),
    (
        "name-also-manual",
        add_job("job-orders-backfill", queue="other"),
        "aca-jobs:eventJobs.job-orders-backfill",
        "also defined in aca-jobs:manualJobs",
    ),
    (
        "reserved-env",
        set_job(env={"AZURE_CLIENT_ID": "x"}),
        f"{JOB}.env.AZURE_CLIENT_ID",
        "set by the event job",
    ),
    # The shared rules, unchanged for event jobs:
    (
        "shared-image-latest",
        set_job(image="acrsharedprod.azurecr.io/jobs/x:latest"),
        f"{JOB}.image",
        "`latest`",
    ),
    (
        "shared-retry-not-idempotent",
        set_job(idempotent=False),
        f"{JOB}.replicaRetryLimit",
        "idempotent: true",
    ),
    (
        "shared-n-of-m",
        set_job(parallelism=3, replicaCompletionCount=2),
        f"{JOB}.replicaCompletionCount",
        "allowPartialCompletion",
    ),
    ("shared-cpu-memory", set_job(cpu=1.0, memory="1Gi"), f"{JOB}.memory", "set memory to `2Gi`"),
    (
        "shared-name",
        lambda c: c["aca-jobs:eventJobs"].update({"Bad": c["aca-jobs:eventJobs"].pop("job-orders-queue")}),
        "aca-jobs:eventJobs.Bad",
        "2-32 lowercase",
    ),
    (
        "storm-guard",
        set_job(maxExecutions=100, parallelism=2, replicaCompletionCount=2, cpu=1.0, memory="2Gi"),
        f"{JOB}.maxExecutions",
        "maxExecutions 100 x parallelism 2 x cpu 1.0 = 200 cores",
    ),
]


@pytest.mark.parametrize(("mutate", "key_path", "words"), [b[1:] for b in BROKEN], ids=[b[0] for b in BROKEN])
def test_broken_rule_names_file_key_and_fix(event_config: dict[str, Any], mutate, key_path: str, words: str) -> None:
    mutate(event_config)
    assert_rule_broken(event_config, key_path, words)


def test_host_name_form_is_normalized_to_the_bare_namespace(event_config: dict[str, Any]) -> None:
    config = load_stack_config(event_config, stack_file="Pulumi.test.yaml")
    assert config.platform.service_bus is not None
    assert config.platform.service_bus.namespace == "sb-aca-test"
    assert config.platform.service_bus.host_name == "sb-aca-test.servicebus.windows.net"


def test_event_job_defaults(event_config: dict[str, Any]) -> None:
    job = load_stack_config(event_config, stack_file="Pulumi.test.yaml").event_jobs["job-orders-queue"]
    assert (job.activation_message_count, job.polling_interval) == (0, 30)
    assert (job.min_executions, job.max_executions) == (0, 10)
    assert (job.parallelism, job.replica_completion_count) == (1, 1)
    assert job.auth == "managedIdentity"
    assert (job.max_delivery_count, job.lock_duration, job.message_time_to_live) == (10, "PT1M", None)


def test_service_bus_is_optional_without_event_jobs(seed_config: dict[str, Any]) -> None:
    assert load_stack_config(seed_config, stack_file="Pulumi.test.yaml").platform.service_bus is None


def test_valid_durations_are_accepted(event_config: dict[str, Any]) -> None:
    event_job(event_config).update(lockDuration="PT5M", messageTimeToLive="P14D")
    load_stack_config(event_config, stack_file="Pulumi.test.yaml")


def test_all_jobs_together_over_quota_is_a_warning_not_an_error(event_config: dict[str, Any]) -> None:
    event_config["aca-jobs:platform"]["environment"]["coreQuota"] = 6
    event_job(event_config)["maxExecutions"] = 10  # 5 cores, fits alone; with the manual job's 1 core: 6
    assert load_stack_config(event_config, stack_file="Pulumi.test.yaml").warnings() == []
    add_job("job-more", queue="more", maxExecutions=2)(event_config)  # + 1 core = 7 > 6
    warnings = load_stack_config(event_config, stack_file="Pulumi.test.yaml").warnings()
    assert len(warnings) == 1 and "could use 7 cores" in warnings[0] and "coreQuota of 6" in warnings[0]


def test_local_auth_is_needed_only_by_the_connection_string_fallback(event_config: dict[str, Any]) -> None:
    assert load_stack_config(event_config, stack_file="Pulumi.test.yaml").service_bus_local_auth is False
    event_job(event_config)["auth"] = "connectionString"
    config = load_stack_config(event_config, stack_file="Pulumi.test.yaml")
    assert config.service_bus_local_auth is True
    assert any("`job-orders-queue` uses `auth: connectionString`" in w for w in config.warnings())
