"""Scale, visible: the role assignments and identities a stack creates, counted from config (the program's budget
warning) and from what a run registers (the offline preview's count), held equal; the budget key and its warning."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
import yaml
from conftest import EXPORTS_CONTAINER_ID, assert_rule_broken, run_committed

from components.scale import budget_warnings, stack_footprint
from components.stack_config import load_stack_config
from tools.offline import ProgramRun

ROLE_ASSIGNMENT = "azure-native:authorization:RoleAssignment"
IDENTITY = "azure-native:managedidentity:UserAssignedIdentity"


def registered(run: ProgramRun) -> tuple[int, int]:
    return len(run.by_type(IDENTITY)), len(run.by_type(ROLE_ASSIGNMENT))


def counted(config: dict[str, Any]) -> tuple[int, int]:
    footprint = stack_footprint(load_stack_config(config, stack_file="Pulumi.test.yaml"))
    return footprint.identities, footprint.role_assignments


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_committed_stacks_count_what_they_register(stack: str) -> None:
    config, run = run_committed(stack)
    assert counted(config) == registered(run)
    assert registered(run)[1] > 0


def with_every_grant_branch(config: dict[str, Any]) -> dict[str, Any]:
    """The full config plus what changes a job's grant count: two job secrets on one Key Vault secret (one grant),
    the connection-string fallback (no Data Owner), `azureAccess` on a manual and an event job."""
    access = [{"role": "Storage Blob Data Reader", "scope": EXPORTS_CONTAINER_ID}]
    secret = {"keyVaultSecretUrl": "https://kv-aca-test.vault.azure.net/secrets/Orders-DB-Password"}
    nightly = config["aca-jobs:scheduledJobs"]["job-orders-nightly"]
    nightly["secrets"]["db-password-again"] = secret
    nightly["env"]["DB_PASSWORD_AGAIN"] = {"secretRef": "db-password-again"}
    config["aca-jobs:manualJobs"]["job-orders-backfill"]["azureAccess"] = access
    config["aca-jobs:eventJobs"]["job-orders-queue"]["azureAccess"] = access
    config["aca-jobs:eventJobs"]["job-orders-fallback"] = {
        **copy.deepcopy(config["aca-jobs:eventJobs"]["job-orders-queue"]),
        "queue": "orders-fallback",
        "auth": "connectionString",
        "secrets": {"db-password": secret},
        "env": {"DB_PASSWORD": {"secretRef": "db-password"}},
    }
    return config


def test_the_full_config_counts_what_it_registers(full_config, run_stack) -> None:
    assert counted(full_config) == registered(run_stack(full_config))


def test_every_grant_branch_counts_what_it_registers(full_config, run_stack) -> None:
    config = with_every_grant_branch(full_config)
    identities, role_assignments = registered(run_stack(config))
    assert counted(config) == (identities, role_assignments)
    # Identities: two per job. Grants: manual 2 (pull: AcrPull; workload: one), event 4 (scaler: AcrPull, Data
    # Owner; workload: Data Receiver, one), fallback 4 (scaler: AcrPull, one secret; workload: Data Receiver, one),
    # nightly 3 (pull: AcrPull, one secret for its two job secrets; workload: one).
    assert (identities, role_assignments) == (8, 13)


def test_budget_defaults_to_1000(full_config) -> None:
    assert load_stack_config(full_config).budget.role_assignments == 1000


def many_grants(config: dict[str, Any], grants: int) -> dict[str, Any]:
    """The manual job with `grants` azureAccess entries, each on its own container."""
    job = config["aca-jobs:manualJobs"]["job-orders-backfill"]
    job["azureAccess"] = [
        {"role": "Storage Blob Data Reader", "scope": f"{EXPORTS_CONTAINER_ID}-{index}"} for index in range(grants)
    ]
    return config


def test_past_the_default_budget_the_program_warns(full_config) -> None:
    # Besides the manual job's workload grants: AcrPull for each of the three jobs, Data Owner and Data Receiver on
    # the event job's queue, the nightly job's secret and blob grants.
    others = 7
    at_budget = load_stack_config(many_grants(copy.deepcopy(full_config), 1000 - others))
    assert stack_footprint(at_budget).role_assignments == 1000
    assert budget_warnings(at_budget) == []
    past = load_stack_config(many_grants(full_config, 1000 - others + 1))
    (warning,) = budget_warnings(past)
    assert "creates 1,001 role assignments, above its budget of 1,000 (`aca-jobs:budget.roleAssignments`)" in warning
    assert "4,000 per subscription" in warning


def test_a_run_past_its_budget_warns_in_the_preview_diagnostics(full_config, run_stack) -> None:
    full_config["aca-jobs:budget"] = {"roleAssignments": 6}
    run = run_stack(full_config)
    assert len(run.by_type(ROLE_ASSIGNMENT)) == 7
    assert [w for w in run.warnings if "role assignments" in w] == [budget_warnings(load_stack_config(full_config))[0]]
    assert "creates 7 role assignments, above its budget of 6" in run.warnings[-1]


def test_a_run_within_its_budget_does_not_warn(full_config, run_stack) -> None:
    full_config["aca-jobs:budget"] = {"roleAssignments": 7}
    assert not [w for w in run_stack(full_config).warnings if "role assignments" in w]


@pytest.mark.parametrize(
    ("budget", "key", "words"),
    [
        ({"roleAssignments": 0}, "aca-jobs:budget.roleAssignments", "must be at least 1"),
        (
            {"roleAssignments": 4001},
            "aca-jobs:budget.roleAssignments",
            "more than Azure allows in a whole subscription",
        ),
        ({"roleAssignments": "500"}, "aca-jobs:budget.roleAssignments", "must be a whole number"),
        ({"roleAssignment": 500}, "aca-jobs:budget.roleAssignment", "did you mean `roleAssignments`"),
        (500, "aca-jobs:budget", "must be a map of keys"),
    ],
)
def test_a_bad_budget_is_refused_naming_the_key(full_config, budget: Any, key: str, words: str) -> None:
    full_config["aca-jobs:budget"] = budget
    assert_rule_broken(full_config, key, words)


def test_a_near_miss_of_the_budget_key_is_refused(full_config) -> None:
    full_config["aca-jobs:budgets"] = {"roleAssignments": 500}
    assert_rule_broken(full_config, "aca-jobs:budgets", "did you mean `aca-jobs:budget`")


def test_the_preview_prints_the_registered_counts(preview_main, capsys) -> None:
    _, run = run_committed("dev")
    identities, role_assignments = registered(run)
    assert preview_main(["--stack", "dev"]) == 0
    out = capsys.readouterr().out
    assert (
        f"Scale (docs/scale.md):\n    {role_assignments} role assignments, budget 1,000 "
        "(aca-jobs:budget.roleAssignments); Azure allows 4,000 per subscription, shared by every stack in it\n"
        f"    {identities} user-assigned identities\n"
    ) in out


def test_the_json_preview_counts_and_warns_past_the_budget(preview_main, full_config, tmp_path, capsys) -> None:
    full_config["aca-jobs:budget"] = {"roleAssignments": 6}
    path = tmp_path / "Pulumi.dev.yaml"
    path.write_text(yaml.safe_dump({"config": full_config}))
    assert preview_main(["--stack", "dev", "--config-file", str(path), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["scale"] == {
        "roleAssignments": 7,
        "userAssignedIdentities": 5,
        "roleAssignmentBudget": 6,
        "roleAssignmentsPerSubscription": 4000,
    }
    assert sum(r["type"] == ROLE_ASSIGNMENT for r in document["resources"]) == 7
    assert any("creates 7 role assignments, above its budget of 6" in w for w in document["warnings"])
