"""The review tools on team stacks (issue 17, deliverable 4): `tools.preview --compare`, `tools.promote`,
`tools.snapshots` and `tools.rbac_condition` run a team stack with its platform stack's outputs (`--platform-outputs
FILE`, else the platform stack's file beside the team stack's, as `tools/platform_outputs.py` resolves them), read
its registry from the platform contract, and refuse a bad team-stack input with exit 2 naming the file or the key.

The example organisation in `examples/org/` is the input; the platform stack is run once per module and its outputs
written as `pulumi stack output --json` prints them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from components.platform_contract import CONTRACT_VERSION
from tools import preview, promote, rbac_condition, snapshots
from tools.offline import DEPLOYED, PROJECT_DIR

ORG = PROJECT_DIR / "examples" / "org"
ORDERS, BILLING = ORG / "Pulumi.team-orders.yaml", ORG / "Pulumi.team-billing.yaml"
QUEUE_JOB = "job-orders-queue"
REGISTRY = "acrsharedprod.azurecr.io"


@pytest.fixture(scope="module")
def outputs_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    outputs = preview.load_run("platform", ORG / "Pulumi.platform.yaml", mode=DEPLOYED).outputs
    path = tmp_path_factory.mktemp("platform") / "platform-outputs.json"
    path.write_text(json.dumps(outputs))
    return path


@pytest.fixture
def other_version(outputs_file: Path, tmp_path: Path) -> Path:
    outputs = json.loads(outputs_file.read_text())
    outputs["platform"]["version"] = CONTRACT_VERSION + 1
    path = tmp_path / "other-version.json"
    path.write_text(json.dumps(outputs))
    return path


@pytest.fixture
def no_platform(tmp_path: Path) -> Path:
    path = tmp_path / "not-a-platform.json"
    path.write_text(json.dumps({"jobs": []}))
    return path


def with_image(source: Path, destination: Path, image: str) -> Path:
    """A copy of a team stack file whose queue job runs `image` (as a staging stack of the same team would)."""
    text = source.read_text()
    old = yaml.safe_load(text)["config"]["aca-jobs:eventJobs"][QUEUE_JOB]["image"]
    destination.write_text(text.replace(old, image))
    return destination


NEW_IMAGE = f"{REGISTRY}/jobs/orders-consumer:v1.1.0@sha256:{'1' * 64}"


# --- --compare --------------------------------------------------------------------------------------------------


def test_compare_takes_team_stack_files_and_their_platform_outputs(outputs_file, tmp_path, capsys) -> None:
    staging = with_image(ORDERS, tmp_path / "Pulumi.team-orders-staging.yaml", NEW_IMAGE)
    args = ["--compare", str(staging), str(ORDERS), "--platform-outputs", str(outputs_file), "--json"]
    assert preview.main(args) == 0
    comparison = json.loads(capsys.readouterr().out)
    assert comparison["stacks"] == ["team-orders-staging", "team-orders"]
    [image] = [d for d in comparison["inputDifferences"] if d["path"] == "template.containers[0].image"]
    assert (image["team-orders-staging"], image["team-orders"]) == (NEW_IMAGE, queue_image(ORDERS))
    assert image["expectedAs"] is not None


def test_compare_refuses_outputs_without_the_platform_output(no_platform, capsys) -> None:
    args = ["--compare", str(ORDERS), str(BILLING), "--platform-outputs", str(no_platform)]
    assert preview.main(args) == 2
    assert capsys.readouterr().err.startswith(f"{no_platform}: has no `platform` output")


def test_compare_refuses_a_contract_of_another_version(other_version, capsys) -> None:
    args = ["--compare", str(ORDERS), str(BILLING), "--platform-outputs", str(other_version)]
    assert preview.main(args) == 2
    err = capsys.readouterr().err
    assert "Pulumi.team-orders.yaml" in err and "aca-jobs:platformStack" in err
    assert f"version {CONTRACT_VERSION + 1}" in err


def test_compare_refuses_a_file_that_is_not_a_stack_file(capsys) -> None:
    assert preview.main(["--compare", str(ORDERS), str(ORG / "team.yaml")]) == 2
    assert capsys.readouterr().err.startswith("team.yaml: not a stack file name")


# --- snapshots ---------------------------------------------------------------------------------------------------


def test_snapshots_of_a_team_stack(outputs_file, tmp_path, capsys) -> None:
    common = ["--stack-file", str(ORDERS), "--platform-outputs", str(outputs_file), "--snapshot-dir", str(tmp_path)]
    assert snapshots.main(common) == 0
    rows = (tmp_path / "team-orders.txt").read_text().splitlines()[1:]
    types = {row.split("::")[2].rsplit("$", 1)[-1] for row in rows}
    assert "pulumi:pulumi:StackReference" in types
    assert "azure-native:app:ManagedEnvironment" not in types and "azure-native:servicebus:Namespace" not in types
    assert any(row.endswith("  rg-team-orders  protect") for row in rows)
    capsys.readouterr()
    # Stale once the stack changes: the checked run reads the same platform outputs.
    (tmp_path / "team-orders.txt").write_text("\n".join(["# header", *rows[1:]]) + "\n")
    assert snapshots.main(["--check", *common]) == 1
    assert f"+{rows[0]}" in capsys.readouterr().out.splitlines()


def test_snapshots_refuse_a_missing_outputs_file(tmp_path, capsys) -> None:
    missing = tmp_path / "none.json"
    args = ["--check", "--stack-file", str(ORDERS), "--platform-outputs", str(missing), "--snapshot-dir", str(tmp_path)]
    assert snapshots.main(args) == 2
    assert capsys.readouterr().err.startswith(f"{missing}: cannot read the platform outputs")


# --- rbac_condition ----------------------------------------------------------------------------------------------


def test_the_team_deployers_condition_names_the_roles_its_jobs_grant(outputs_file, capsys) -> None:
    assert rbac_condition.main(["--stack-file", str(BILLING), "--platform-outputs", str(outputs_file)]) == 0
    roles = [line for line in capsys.readouterr().out.splitlines() if line.startswith("# ")]
    # team-billing: a scheduled job pulling from the registry, reading one Key Vault secret, writing one container.
    assert [line.split(":")[0] for line in roles] == [
        "# AcrPull",
        "# Key Vault Secrets User",
        "# Storage Blob Data Contributor",
    ]


def test_the_team_deployers_condition_needs_the_platform_outputs(tmp_path, capsys) -> None:
    alone = shutil.copy(ORDERS, tmp_path)  # no Pulumi.platform.yaml beside it, no --platform-outputs
    assert rbac_condition.main(["--stack-file", str(alone)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("Pulumi.team-orders.yaml: aca-jobs:platformStack: `acme/aca-jobs/platform`")
    assert "--platform-outputs FILE" in captured.err


# --- promotion ---------------------------------------------------------------------------------------------------


@pytest.fixture
def team_project(tmp_path: Path) -> Path:
    """A project of one team: its staging and prod stacks (prod is the example's), prod's policy config."""
    shutil.copy(PROJECT_DIR / "Pulumi.yaml", tmp_path)
    shutil.copy(ORDERS, tmp_path)
    with_image(ORDERS, tmp_path / "Pulumi.team-orders-staging.yaml", NEW_IMAGE)
    (tmp_path / "policy").mkdir()
    shutil.copy(PROJECT_DIR / "policy" / "prod.json", tmp_path / "policy" / "team-orders.json")
    return tmp_path


def promote_team(project: Path, *args: str) -> int:
    return promote.main(["--from", "team-orders-staging", "--to", "team-orders", "--project-dir", str(project), *args])


def queue_image(path: Path) -> str:
    return yaml.safe_load(path.read_text())["config"]["aca-jobs:eventJobs"][QUEUE_JOB]["image"]


def test_promotion_to_a_team_stack_with_its_platform_outputs(team_project, outputs_file) -> None:
    assert promote_team(team_project, "--platform-outputs", str(outputs_file)) == 0
    assert queue_image(team_project / "Pulumi.team-orders.yaml") == NEW_IMAGE


def test_promotion_to_a_team_stack_previews_the_platform_stack_beside_it(team_project) -> None:
    shutil.copy(PROJECT_DIR / "__main__.py", team_project)  # the program the platform stack's preview runs
    shutil.copy(ORG / "Pulumi.platform.yaml", team_project)
    assert promote_team(team_project) == 0
    assert queue_image(team_project / "Pulumi.team-orders.yaml") == NEW_IMAGE


def test_promotion_checks_a_team_image_against_the_platform_contracts_registry(
    team_project, outputs_file, capsys
) -> None:
    other = NEW_IMAGE.replace(REGISTRY, "other.azurecr.io")
    with_image(ORDERS, team_project / "Pulumi.team-orders-staging.yaml", other)
    before = (team_project / "Pulumi.team-orders.yaml").read_text()
    assert promote_team(team_project, "--platform-outputs", str(outputs_file)) == 2
    err = capsys.readouterr().err
    assert f"is not from Pulumi.team-orders.yaml's registry `{REGISTRY}`" in err
    assert "registry.server of the platform stack `acme/aca-jobs/platform`'s contract" in err
    assert (team_project / "Pulumi.team-orders.yaml").read_text() == before


@pytest.mark.parametrize("bad", ["no_platform", "other_version", "missing"])
def test_promotion_to_a_team_stack_refuses_bad_platform_outputs(team_project, bad, request, capsys) -> None:
    path = team_project / "missing.json" if bad == "missing" else request.getfixturevalue(bad)
    before = (team_project / "Pulumi.team-orders.yaml").read_text()
    assert promote_team(team_project, "--platform-outputs", str(path)) == 2
    err = capsys.readouterr().err
    assert str(path) in err
    if bad == "other_version":
        assert "Pulumi.team-orders.yaml: aca-jobs:platformStack:" in err
    assert (team_project / "Pulumi.team-orders.yaml").read_text() == before


def test_promotion_to_a_team_stack_without_its_platform_outputs(team_project, capsys) -> None:
    assert promote_team(team_project) == 2
    err = capsys.readouterr().err
    assert "Pulumi.team-orders.yaml: aca-jobs:platformStack: `acme/aca-jobs/platform`" in err
    assert "(Pulumi.platform.yaml)" in err and "--platform-outputs FILE" in err
