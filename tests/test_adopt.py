"""`adopt: true`: a job made by hand is imported at the id this stack gives it (Pulumi's `import_` option), with the
properties a hand-made job has otherwise read from the live job; the preview says it will import."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import EVENT_SEED_CONFIG, PROJECT_DIR, assert_rule_broken, find

from components.job_template import ADOPTION_IGNORED_PROPERTIES
from components.stack_config import StackConfigError
from tools.offline import DEPLOYED, NEW_STACK, UNKNOWN, ProgramRun

JOB = "azure-native:app:Job"
IDENTITY = "azure-native:managedidentity:UserAssignedIdentity"
ROLE_ASSIGNMENT = "azure-native:authorization:RoleAssignment"
SUBSCRIPTION = "33333333-3333-3333-3333-333333333333"
SEED_JOB_ID = (
    f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-aca-test/providers/Microsoft.App/jobs/job-orders-backfill"
)


def adopting(config: dict[str, Any], key: str = "aca-jobs:manualJobs", name: str = "job-orders-backfill") -> dict:
    adopted = copy.deepcopy(config)
    adopted["azure-native:subscriptionId"] = SUBSCRIPTION
    adopted[key][name]["adopt"] = True
    return adopted


@pytest.mark.parametrize("mode", [NEW_STACK, DEPLOYED])
def test_adopted_job_is_imported_at_the_id_this_stack_gives_it(run_stack, seed_config, mode: str) -> None:
    job = find(run_stack(adopting(seed_config), mode=mode), JOB)
    assert job.import_id == SEED_JOB_ID
    assert job.op == "import"
    # The engine takes the id from `import_` and reads the live job, in a preview too: the id is known.
    assert job.id == SEED_JOB_ID
    assert job.outputs["id"] == SEED_JOB_ID
    assert set(job.ignore_changes) == set(ADOPTION_IGNORED_PROPERTIES)
    # These say which job is adopted: never read from the live job, so a job elsewhere fails the import.
    assert not set(job.ignore_changes) & {"jobName", "resourceGroupName", "location", "environmentId"}


def test_a_job_without_adopt_is_created(seed_run: ProgramRun) -> None:
    job = find(seed_run, JOB)
    assert job.import_id == "" and job.op == "create" and job.ignore_changes == ()
    assert job.id == UNKNOWN


def test_only_the_job_is_imported_its_identities_and_grants_are_created(run_stack, seed_config) -> None:
    run = run_stack(adopting(seed_config))
    job = find(run, JOB)
    imported = [r.name for r in run.resources if r.import_id]
    assert imported == [job.name]
    # The import waits for the grants, as a created job does: they exist before the job is in the state.
    grants = [r.urn for r in run.by_type(ROLE_ASSIGNMENT)]
    assert grants and set(grants) <= set(job.dependencies)
    assert run.by_type(IDENTITY)


def test_every_job_kind_can_be_adopted(run_stack) -> None:
    config = adopting(EVENT_SEED_CONFIG, "aca-jobs:eventJobs", "job-orders-queue")
    run = run_stack(config)
    queue_job_id = SEED_JOB_ID.replace("job-orders-backfill", "job-orders-queue")
    assert find(run, JOB, "job-orders-queue").import_id == queue_job_id
    assert find(run, JOB, "job-orders-backfill").import_id == ""


def test_adopt_without_the_subscription_key_is_refused_naming_it(seed_config) -> None:
    config = adopting(seed_config)
    del config["azure-native:subscriptionId"]
    assert_rule_broken(config, "azure-native:subscriptionId", "aca-jobs:manualJobs.job-orders-backfill.adopt")


def test_adopt_with_a_subscription_that_is_no_guid_is_refused(seed_config) -> None:
    config = adopting(seed_config)
    config["azure-native:subscriptionId"] = "my-subscription"
    assert_rule_broken(config, "azure-native:subscriptionId", "is not a subscription id")


def test_adopt_without_the_subscription_registers_nothing(run_stack, seed_config) -> None:
    config = adopting(seed_config)
    del config["azure-native:subscriptionId"]
    with pytest.raises(StackConfigError, match="azure-native:subscriptionId"):
        run_stack(config)


def test_an_adopted_job_is_warned_about_until_adopt_is_removed(run_stack, seed_config, seed_run) -> None:
    warnings = run_stack(adopting(seed_config)).warnings
    assert any("job `job-orders-backfill` is adopted" in w and "docs/adopting.md" in w for w in warnings)
    assert not any("is adopted" in w for w in seed_run.warnings)


def _dev_with_adopt(tmp_path: Path, subscription: bool = True) -> Path:
    config = yaml.safe_load((PROJECT_DIR / "Pulumi.dev.yaml").read_text())["config"]
    name = sorted(config["aca-jobs:manualJobs"])[0]
    config["aca-jobs:manualJobs"][name]["adopt"] = True
    if subscription:
        config["azure-native:subscriptionId"] = SUBSCRIPTION
    path = tmp_path / "Pulumi.adopt.yaml"
    path.write_text(yaml.safe_dump({"config": config}))
    return path


def test_preview_tree_shows_the_import(preview_main, tmp_path: Path, capsys) -> None:
    assert preview_main(["--stack", "dev", "--config-file", str(_dev_with_adopt(tmp_path))]) == 0
    out = capsys.readouterr().out
    imported = [line for line in out.splitlines() if line.startswith(" =   ")]
    assert len(imported) == 1
    assert "azure-native:app:Job" in imported[0]
    assert f"import (id=/subscriptions/{SUBSCRIPTION}/resourceGroups/" in imported[0]
    assert "    = 1 to import" in out.splitlines()


def test_preview_json_shows_the_import(preview_main, tmp_path: Path, capsys) -> None:
    assert preview_main(["--stack", "dev", "--config-file", str(_dev_with_adopt(tmp_path)), "--json"]) == 0
    resources = json.loads(capsys.readouterr().out)["resources"]
    imported = [r for r in resources if "importId" in r]
    assert [r["type"] for r in imported] == [JOB]
    assert imported[0]["op"] == "import"
    assert imported[0]["importId"].startswith(f"/subscriptions/{SUBSCRIPTION}/resourceGroups/")
    assert sorted(imported[0]["ignoreChanges"]) == sorted(ADOPTION_IGNORED_PROPERTIES)


def test_preview_without_the_subscription_exits_2_naming_the_key(preview_main, tmp_path: Path, capsys) -> None:
    path = _dev_with_adopt(tmp_path, subscription=False)
    assert preview_main(["--stack", "dev", "--config-file", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "Pulumi.adopt.yaml: azure-native:subscriptionId: " in captured.err
    assert "Traceback" not in captured.err
