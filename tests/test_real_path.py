"""The real path: `make preview-azure` / `make up` always run the Pulumi CLI with the stack's policy pack config,
say so when the CLI is missing, and the preview warns while a stack still holds placeholder ids."""

from __future__ import annotations

import copy
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import FULL_CONFIG, PROJECT_DIR

from components.stack_config import load_stack_config
from tools.real_path import main as real_path_main

TIMEOUT = 30  # seconds; every child here is bounded


def real_path(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tools.real_path", *args],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


@pytest.mark.parametrize("action", ["preview", "up"])
def test_without_the_cli_it_prints_the_command_and_exits_2(action: str) -> None:
    result = real_path(action, "--stack", "prod", "--pulumi", "pulumi-not-installed-here")
    assert result.returncode == 2
    expected = (
        f"$ pulumi-not-installed-here {action} --stack prod --policy-pack policy --policy-pack-config policy/prod.json"
    )
    assert result.stdout.splitlines() == [expected]
    assert "is not installed here, so nothing ran" in result.stderr


def test_with_the_cli_it_runs_exactly_that_command(tmp_path: Path) -> None:
    fake = tmp_path / "pulumi"
    fake.write_text('#!/bin/sh\necho "ran: $*"\necho "cwd: $(pwd)"\nexit 7\n')
    fake.chmod(0o755)
    result = real_path("up", "--stack", "staging", "--pulumi", str(fake))
    assert result.returncode == 7  # the CLI's own exit code
    lines = result.stdout.splitlines()
    assert lines[1] == "ran: up --stack staging --policy-pack policy --policy-pack-config policy/staging.json"
    assert lines[2] == f"cwd: {os.path.realpath(PROJECT_DIR)}"


def test_an_unknown_stack_is_refused() -> None:
    result = real_path("up", "--stack", "qa", "--pulumi", "pulumi")
    assert result.returncode == 2 and "no stack file Pulumi.qa.yaml" in result.stderr


def test_the_makefile_targets_call_it_with_the_stack() -> None:
    makefile = (PROJECT_DIR / "Makefile").read_text()
    assert "-m tools.real_path preview --stack $(STACK)" in makefile
    assert "-m tools.real_path up --stack $(STACK)" in makefile


def test_placeholder_ids_are_a_warning_naming_their_keys() -> None:
    config = copy.deepcopy(FULL_CONFIG)
    config["aca-jobs:platform"]["registry"]["resourceId"] = config["aca-jobs:platform"]["registry"][
        "resourceId"
    ].replace("22222222-2222-2222-2222-222222222222", "00000000-0000-0000-0000-000000000000")
    config["aca-jobs:scheduledJobs"]["job-orders-nightly"]["azureAccess"][0]["scope"] = (
        "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-data/providers/Microsoft.Storage/"
        "storageAccounts/stexports"
    )
    warnings = load_stack_config(config, stack_file="Pulumi.test.yaml").warnings()
    [warning] = [w for w in warnings if "placeholder" in w]
    assert "aca-jobs:platform.registry.resourceId" in warning
    assert "aca-jobs:scheduledJobs.job-orders-nightly.azureAccess.0.scope" in warning
    assert "keyVault" not in warning  # a real id is not reported
    clean = load_stack_config(copy.deepcopy(FULL_CONFIG), stack_file="Pulumi.test.yaml")
    assert not [w for w in clean.warnings() if "placeholder" in w]


def test_the_deployers_condition_lists_exactly_the_roles_the_stacks_grant() -> None:
    from tools import rbac_condition

    stacks = sorted(path.name.split(".")[1] for path in PROJECT_DIR.glob("Pulumi.*.yaml"))
    roles = rbac_condition.granted_roles(stacks)
    # The committed stacks: pull, each source's scaler and code roles, Key Vault secrets, one azureAccess role.
    assert [role.display_name for role in roles] == [
        "AcrPull",
        "Azure Event Hubs Data Receiver",
        "Azure Service Bus Data Owner",
        "Azure Service Bus Data Receiver",
        "Key Vault Secrets User",
        "Storage Blob Data Contributor",
        "Storage Blob Data Reader",
        "Storage Queue Data Message Processor",
        "Storage Queue Data Message Sender",
        "Storage Queue Data Reader",
    ]
    condition = rbac_condition.condition(roles)
    guids = ", ".join(role.guid for role in roles)
    assert condition.count("ForAnyOfAnyValues:GuidEquals {" + guids + "}") == 2  # for write and for delete
    assert "StringEqualsIgnoreCase {'ServicePrincipal'}" in condition
    assert "Owner" not in condition and "8e3af657-a8ff-443c-a75c-2fe8c4bcb635" not in condition


def project_with_a_new_stack(tmp_path: Path, stack: str) -> Path:
    """A copy of the project's stack and policy files plus `Pulumi.<stack>.yaml`, with no `policy/<stack>.json`."""
    (tmp_path / "policy").mkdir()
    for source in (PROJECT_DIR / "policy").glob("*.json"):
        shutil.copy(source, tmp_path / "policy" / source.name)
    shutil.copy(PROJECT_DIR / "Pulumi.dev.yaml", tmp_path / f"Pulumi.{stack}.yaml")
    return tmp_path


@pytest.mark.parametrize("action", ["preview", "up"])
def test_a_stack_without_its_policy_config_is_refused_as_the_offline_preview_refuses_it(
    action: str, tmp_path: Path, preview_main, capsys
) -> None:
    project = project_with_a_new_stack(tmp_path, "qa")
    fake = tmp_path / "pulumi"
    fake.write_text("#!/bin/sh\necho ran\n")
    fake.chmod(0o755)
    assert real_path_main([action, "--stack", "qa", "--pulumi", str(fake)], project_dir=project) == 2
    real = capsys.readouterr()
    assert real.out == ""  # nothing printed as run, nothing ran
    assert "no policy config policy/qa.json for stack `qa`" in real.err
    assert "Fix: copy the file of the stack closest to this one, e.g. `cp policy/dev.json policy/qa.json`" in real.err
    # The offline preview of the same new stack (the committed project has no policy/qa.json either): one rule,
    # one message, exit 2 in both.
    assert preview_main(["--stack", "qa", "--config-file", str(project / "Pulumi.qa.yaml")]) == 2
    offline = capsys.readouterr()
    assert offline.out == "" and offline.err == real.err


def test_with_its_policy_config_the_new_stack_goes_on_to_the_cli(tmp_path: Path, capsys) -> None:
    project = project_with_a_new_stack(tmp_path, "qa")
    shutil.copy(project / "policy" / "dev.json", project / "policy" / "qa.json")
    assert real_path_main(["preview", "--stack", "qa", "--pulumi", "pulumi-not-installed-here"], project) == 2
    captured = capsys.readouterr()
    assert "--policy-pack-config policy/qa.json" in captured.out and "is not installed here" in captured.err
