"""tools/delivery.py: the stacks' roles the workflows deploy in order (platform stacks, then team stacks), and the
stacks a pull request's change previews. Stack files are written to a temporary project, read as the workflows
read them (`python -m tools.delivery ...` prints $GITHUB_OUTPUT lines)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from tools import delivery

PLATFORM = """config:
  aca-jobs:platform:
    resourceGroup: rg-platform
    protect: {protect}
"""
TEAM = """config:
  aca-jobs:platformStack: contoso/aca-jobs/{platform}
  aca-jobs:team:
    resourceGroup: rg-{name}
    protect: {protect}
  aca-jobs:manualJobs:
    job-{name}:
      image: acrsharedprod.azurecr.io/jobs/x:v1
"""
SINGLE = """config:
  aca-jobs:platform:
    resourceGroup: rg-{name}
  aca-jobs:scheduledJobs:
    job-a:
      image: acrsharedprod.azurecr.io/jobs/x:v1
      cronExpression: "0 2 * * *"
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """An organisation: two single stacks, two platforms (one protected), a team on each, one protected team."""
    files = {
        "dev": SINGLE.format(name="dev"),
        "prod": SINGLE.format(name="prod"),
        "platform-prod": PLATFORM.format(protect="true"),
        "platform-test": PLATFORM.format(protect="false"),
        "orders": TEAM.format(name="orders", platform="platform-prod", protect="true"),
        "billing": TEAM.format(name="billing", platform="platform-prod", protect="false"),
        "sandbox": TEAM.format(name="sandbox", platform="platform-test", protect="false"),
    }
    for name, text in files.items():
        (tmp_path / f"Pulumi.{name}.yaml").write_text(text)
    (tmp_path / "Pulumi.yaml").write_text("name: aca-jobs\n")
    return tmp_path


def run(project: Path, command: str, stdin: str = "", monkeypatch: pytest.MonkeyPatch | None = None) -> dict:
    assert monkeypatch is not None
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    out = io.StringIO()
    monkeypatch.setattr("sys.stdout", out)
    assert delivery.main([command, "--project-dir", str(project)]) == 0
    # $GITHUB_OUTPUT's format: one `name=value` a line, each value a JSON list.
    return {key: json.loads(value) for key, value in (line.split("=", 1) for line in out.getvalue().splitlines())}


def test_the_plan_sorts_stacks_by_role(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert run(project, "plan", monkeypatch=monkeypatch) == {
        "singles": ["dev", "prod"],
        "platforms": ["platform-prod", "platform-test"],
        "teams": ["billing", "orders", "sandbox"],
        # Their deploys refuse a GitHub environment without required reviewers, as prod's does.
        "protected": ["orders", "platform-prod"],
    }


def test_the_committed_stacks_are_single_stacks_in_promotion_order() -> None:
    assert delivery.plan(delivery.stacks_in()) == {
        "singles": ["dev", "staging", "prod"],
        "platforms": [],
        "teams": [],
        "protected": [],
    }


@pytest.mark.parametrize(
    ("changed", "previewed"),
    [
        # A team's own files preview only that team.
        (["Pulumi.orders.yaml"], ["orders"]),
        (["policy/billing.json"], ["billing"]),
        (["Pulumi.orders.yaml", "policy/sandbox.json", "docs/teams.md"], ["orders", "sandbox"]),
        # A platform's stack file previews it and the teams that read it, not the other platform's.
        (["Pulumi.platform-prod.yaml"], ["billing", "orders", "platform-prod"]),
        (["Pulumi.platform-test.yaml"], ["platform-test", "sandbox"]),
        # A single stack, as before, previews itself.
        (["Pulumi.dev.yaml"], ["dev"]),
        # Docs preview nothing.
        (["README.md", "docs/teams.md"], []),
        # The contract, the program, the policy pack, the pins: every stack.
        (["components/platform_contract.py"], None),
        (["Pulumi.orders.yaml", "policy/aca_jobs_policies.py"], None),
        (["requirements.txt"], None),
        # A removed stack's file names no stack left to preview.
        (["Pulumi.gone.yaml"], []),
    ],
)
def test_a_pull_request_previews_the_stacks_its_change_touches(
    project: Path, monkeypatch: pytest.MonkeyPatch, changed: list[str], previewed: list[str] | None
) -> None:
    every = sorted(path.name.split(".")[1] for path in project.glob("Pulumi.*.yaml"))
    stacks = run(project, "affected", "\n".join(changed) + "\n", monkeypatch)["stacks"]
    assert sorted(stacks) == (every if previewed is None else previewed)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            PLATFORM.format(protect="false") + "  aca-jobs:platformStack: contoso/aca-jobs/platform-prod\n",
            "Pulumi.broken.yaml: sets both `aca-jobs:platform` and `aca-jobs:platformStack`",
        ),
        ("config:\n  aca-jobs:team:\n    resourceGroup: rg-x\n", "Pulumi.broken.yaml: sets neither"),
        ("config:\n  aca-jobs:platform: [\n", "Pulumi.broken.yaml"),
    ],
)
def test_a_stack_file_of_no_role_is_a_usage_error_naming_it(
    project: Path, capsys: pytest.CaptureFixture[str], text: str, message: str
) -> None:
    (project / "Pulumi.broken.yaml").write_text(text)
    assert delivery.main(["plan", "--project-dir", str(project)]) == 2
    captured = capsys.readouterr()
    assert message in captured.err and "Traceback" not in captured.err
    assert captured.out == ""  # no partial plan for the workflow to act on
