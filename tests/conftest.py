"""Shared fixtures: a valid stack config to mutate, a program runner, and CDK-style subset matching."""

from __future__ import annotations

import copy
import functools
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))

from components.stack_config import StackConfigError, load_stack_config  # noqa: E402
from tools.offline import (  # noqa: E402
    DEPLOYED,
    NEW_STACK,
    PLACEHOLDER_SUBSCRIPTION,
    AzureMocks,
    ProgramRun,
    Registration,
    run_program,
)
from tools.policy_runner import PolicyPackProcess  # noqa: E402

REGISTRY_ID = (
    "/subscriptions/22222222-2222-2222-2222-222222222222/resourceGroups/rg-shared/providers/"
    "Microsoft.ContainerRegistry/registries/acrsharedprod"
)

# The seed: `az containerapp job create --trigger-type Manual --parallelism 2 --replica-completion-count 2
# --replica-retry-limit 1 --replica-timeout 1800 --image <image>`, as a stack file says it.
SEED_CONFIG: dict[str, Any] = {
    "azure-native:location": "koreacentral",
    "aca-jobs:platform": {
        "resourceGroup": "rg-aca-test",
        "environment": {"name": "aca-env-test", "logRetentionDays": 90, "coreQuota": 100},
        "registry": {"server": "acrsharedprod.azurecr.io", "resourceId": REGISTRY_ID},
        "protect": True,
        "tags": {"owner": "platform-team"},
    },
    "aca-jobs:manualJobs": {
        "job-orders-backfill": {
            "image": "acrsharedprod.azurecr.io/jobs/orders-backfill:v1.0.0",
            "parallelism": 2,
            "replicaCompletionCount": 2,
            "replicaRetryLimit": 1,
            "replicaTimeout": 1800,
            "cpu": 0.5,
            "memory": "1Gi",
        }
    },
}


# The event-job seed: the namespace written in host-name form, as the usual guides show it.
EVENT_SEED_CONFIG: dict[str, Any] = {
    **copy.deepcopy(SEED_CONFIG),
    "aca-jobs:eventJobs": {
        "job-orders-queue": {
            "image": "acrsharedprod.azurecr.io/jobs/orders-consumer:v1.0.0",
            "queue": "orders",
            "messageCount": 10,
            "replicaTimeout": 900,
            "replicaRetryLimit": 2,
            "idempotent": True,
        }
    },
}
EVENT_SEED_CONFIG["aca-jobs:platform"]["serviceBus"] = {
    "namespace": "sb-aca-test.servicebus.windows.net",
    "sku": "Standard",
}


KEY_VAULT_ID = (
    "/subscriptions/22222222-2222-2222-2222-222222222222/resourceGroups/rg-shared/providers/"
    "Microsoft.KeyVault/vaults/kv-aca-test"
)
EXPORTS_CONTAINER_ID = (
    "/subscriptions/33333333-3333-3333-3333-333333333333/resourceGroups/rg-data/providers/"
    "Microsoft.Storage/storageAccounts/stexports/blobServices/default/containers/exports"
)
# A nightly job as a team moving real work would write it: a schedule, a command, a database password from Key
# Vault, and write access to one blob container for its code.
SCHEDULED_JOB: dict[str, Any] = {
    "image": "acrsharedprod.azurecr.io/jobs/orders-nightly:v1.0.0",
    "cronExpression": "0 2 * * *",
    "command": ["python", "-m", "orders.nightly_export"],
    "args": ["--since", "24h"],
    "replicaTimeout": 3600,
    "env": {"DB_HOST": "orders-db.postgres.database.azure.com", "DB_PASSWORD": {"secretRef": "db-password"}},
    "secrets": {"db-password": {"keyVaultSecretUrl": "https://kv-aca-test.vault.azure.net/secrets/orders-db-password"}},
    "azureAccess": [{"role": "Storage Blob Data Contributor", "scope": EXPORTS_CONTAINER_ID}],
}
# Every job kind and feature: the event seed plus the stack's Key Vault, alerts by email and the nightly job.
FULL_CONFIG: dict[str, Any] = {
    **copy.deepcopy(EVENT_SEED_CONFIG),
    "aca-jobs:scheduledJobs": {"job-orders-nightly": copy.deepcopy(SCHEDULED_JOB)},
}
FULL_CONFIG["aca-jobs:platform"]["keyVault"] = {"resourceId": KEY_VAULT_ID}
FULL_CONFIG["aca-jobs:platform"]["alerts"] = {"emails": ["oncall@example.com"]}

_DATA = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-data-dev/providers"
INVOICES_ACCOUNT_ID = f"{_DATA}/Microsoft.Storage/storageAccounts/stinvoicesdev"
TELEMETRY_ACCOUNT_ID = f"{_DATA}/Microsoft.Storage/storageAccounts/sttelemetrydev"
TELEMETRY_NAMESPACE_ID = f"{_DATA}/Microsoft.EventHub/namespaces/evh-telemetry-dev"
# Every event source, alerted: the event seed (Service Bus) with one Storage Queue job and one Event Hubs job.
SOURCES_CONFIG: dict[str, Any] = copy.deepcopy(EVENT_SEED_CONFIG)
SOURCES_CONFIG["aca-jobs:platform"]["alerts"] = {"emails": ["oncall@example.com"]}
SOURCES_CONFIG["aca-jobs:eventJobs"] |= {
    "job-invoices": {
        "image": "acrsharedprod.azurecr.io/jobs/x:v1.0.0",
        "storageQueue": {"accountId": INVOICES_ACCOUNT_ID, "queue": "invoices"},
        "messageCount": 5,
    },
    "job-telemetry": {
        "image": "acrsharedprod.azurecr.io/jobs/x:v1.0.0",
        "eventHub": {
            "namespaceId": TELEMETRY_NAMESPACE_ID,
            "name": "telemetry",
            "consumerGroup": "job-telemetry",
            "checkpoint": {"accountId": TELEMETRY_ACCOUNT_ID, "container": "telemetry-checkpoints"},
        },
        "messageCount": 500,
    },
}


@pytest.fixture
def full_config() -> dict[str, Any]:
    """A fresh, valid copy of the config with every job kind and feature, for a test to change."""
    return copy.deepcopy(FULL_CONFIG)


@pytest.fixture(scope="session")
def pack() -> Iterator[PolicyPackProcess]:
    """One policy pack process, started as the CLI starts it, shared by the tests that only analyze (each
    configures it before it analyzes)."""
    with PolicyPackProcess(PROJECT_DIR / "policy") as process:
        process.connect()
        yield process


@pytest.fixture
def preview_main(pack: PolicyPackProcess) -> Callable[..., int]:
    """`tools.preview.main`, reviewing with the session's pack process unless the test names its own pack."""
    from tools import preview

    def main(argv: list[str], **options: Any) -> int:
        return preview.main(argv, pack=None if "--policy-pack" in argv else pack, **options)

    return main


@pytest.fixture
def event_config() -> dict[str, Any]:
    """A fresh, valid copy of the event-job seed (manual job included) for a test to change."""
    return copy.deepcopy(EVENT_SEED_CONFIG)


@pytest.fixture
def event_run(run_stack: Callable[..., ProgramRun], event_config: dict[str, Any]) -> ProgramRun:
    return run_stack(event_config)


@pytest.fixture
def deployed_event_run(run_stack: Callable[..., ProgramRun], event_config: dict[str, Any]) -> ProgramRun:
    """The event seed as a preview of the deployed stack sees it: principal ids and client ids known."""
    return run_stack(event_config, mode=DEPLOYED)


@pytest.fixture
def seed_config() -> dict[str, Any]:
    """A fresh, valid copy of the seed stack config for a test to change."""
    return copy.deepcopy(SEED_CONFIG)


@pytest.fixture
def run_stack() -> Callable[..., ProgramRun]:
    """Run `__main__.py` under the mock runtime (preview mode) with a config dict."""

    def run(config: dict[str, Any], stack: str = "test", mode: str = NEW_STACK) -> ProgramRun:
        return run_program(config, stack, stack_file=f"Pulumi.{stack}.yaml", mode=mode)

    return run


@pytest.fixture
def seed_run(run_stack: Callable[..., ProgramRun], seed_config: dict[str, Any]) -> ProgramRun:
    """The seed as the first preview of a new stack sees it (ids and principal ids unknown)."""
    return run_stack(seed_config)


@pytest.fixture
def deployed_seed_run(run_stack: Callable[..., ProgramRun], seed_config: dict[str, Any]) -> ProgramRun:
    return run_stack(seed_config, mode=DEPLOYED)


@functools.cache
def _committed(stack: str) -> tuple[dict[str, Any], ProgramRun]:
    config = yaml.safe_load((PROJECT_DIR / f"Pulumi.{stack}.yaml").read_text())["config"]
    return config, run_program(config, stack, stack_file=f"Pulumi.{stack}.yaml")


def run_committed(stack: str) -> tuple[dict[str, Any], ProgramRun]:
    """A committed stack file's config and its program run (new-stack mode), run once per test session: the
    tests only read the run; the config is a fresh copy."""
    config, run = _committed(stack)
    return copy.deepcopy(config), run


def arm_id(resource: Registration, subscription: str = PLACEHOLDER_SUBSCRIPTION) -> str:
    """The id Azure gives `resource` (as the deployed mode answers it): what an input naming it must carry,
    already in a first preview."""
    return AzureMocks(subscription).arm_id(resource.type, resource.inputs)


def config_error(config: dict[str, Any]) -> str:
    """The message a broken config produces (fails the test if it is accepted)."""
    with pytest.raises(StackConfigError) as raised:
        load_stack_config(config, stack_file="Pulumi.test.yaml")
    return str(raised.value)


def assert_rule_broken(config: dict[str, Any], key_path: str, words: str) -> None:
    """The config is refused with a message naming the stack file, the YAML key path, the problem and a fix."""
    message = config_error(config)
    assert f"Pulumi.test.yaml: {key_path}: " in message
    assert words in message
    assert "Fix: " in message
    assert "Traceback" not in message


def find(run: ProgramRun, type_: str, name: str | None = None) -> Registration:
    """The one registered resource of `type_` (and `name`); fails unless exactly one matches."""
    matches = [r for r in run.resources if r.type == type_ and (name is None or r.name == name)]
    assert len(matches) == 1, f"expected one {type_} {name or ''}, found {[r.name for r in matches]}"
    return matches[0]


def matches_subset(actual: Any, expected: Any) -> bool:
    """True when `expected` is contained in `actual` (dict keys recursively; lists element-wise)."""
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            key in actual and matches_subset(actual[key], value) for key, value in expected.items()
        )
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(actual) == len(expected)
            and all(matches_subset(a, e) for a, e in zip(actual, expected, strict=True))
        )
    return bool(actual == expected)


def assert_inputs(resource: Registration, expected: dict[str, Any], plain: bool = False) -> None:
    inputs = resource.plain_inputs if plain else resource.inputs
    assert matches_subset(inputs, expected), f"{resource.name} inputs {inputs} do not contain {expected}"
