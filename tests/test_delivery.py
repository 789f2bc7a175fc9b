"""tools/delivery.py: the stacks' roles the workflows deploy in order (platform stacks, then team stacks), and the
stacks a pull request's change previews. Stack files are written to a temporary project, read as the workflows
read them (`python -m tools.delivery ...` prints $GITHUB_OUTPUT lines)."""

from __future__ import annotations

import io
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from components import scheduled_job
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


# --- applying time-zone schedules again after an offset change (time-zones.yml) ----------------------------

TIMED_SINGLE = """config:
  aca-jobs:platform:
    resourceGroup: rg-{name}
  aca-jobs:scheduledJobs:
    job-utc:
      image: acrsharedprod.azurecr.io/jobs/x:v1
      cronExpression: "0 2 * * *"
    job-local:
      image: acrsharedprod.azurecr.io/jobs/x:v1
      timeZone: {zone}
      cronExpression: "{cron}"
"""
TIMED_TEAM = """config:
  aca-jobs:platformStack: contoso/aca-jobs/platform-prod
  aca-jobs:team:
    resourceGroup: rg-{name}
    protect: {protect}
  aca-jobs:scheduledJobs:
    job-{name}:
      image: acrsharedprod.azurecr.io/jobs/x:v1
      timeZone: {zone}
      cronExpression: "{cron}"
"""
NEW_YORK_DST = datetime(2027, 3, 14, 7, 0, tzinfo=UTC)  # New York moves from -05:00 to -04:00
BERLIN_DST = datetime(2027, 3, 28, 1, 0, tzinfo=UTC)  # Berlin moves from +01:00 to +02:00


@pytest.fixture
def timed_project(tmp_path: Path) -> Path:
    files = {
        "dev": TIMED_SINGLE.format(name="dev", zone="America/New_York", cron="30 2 * * 1"),
        "prod": TIMED_SINGLE.format(name="prod", zone="America/New_York", cron="30 2 * * 1"),
        "platform-prod": PLATFORM.format(protect="true"),
        "orders": TIMED_TEAM.format(name="orders", protect="true", zone="Europe/Berlin", cron="0 3 * * *"),
        # On the hour, every hour: an offset change of whole hours moves no run.
        "billing": TIMED_TEAM.format(name="billing", protect="false", zone="Europe/Berlin", cron="0 * * * *"),
        "seoul": TIMED_TEAM.format(name="seoul", protect="false", zone="Asia/Seoul", cron="0 11 * * *"),
        "sandbox": TEAM.format(name="sandbox", platform="platform-prod", protect="false"),
    }
    for name, text in files.items():
        (tmp_path / f"Pulumi.{name}.yaml").write_text(text)
    (tmp_path / "Pulumi.yaml").write_text("name: aca-jobs\n")
    return tmp_path


@pytest.mark.parametrize(
    ("now", "due"),
    [
        # The next daily run after New York's change: its stacks, prod among those that need reviewers.
        (NEW_YORK_DST + timedelta(hours=4, minutes=23), {"stacks": ["dev", "prod"], "protected": ["prod"]}),
        # 25 hours after it: still within 26 hours (a run that started late).
        (NEW_YORK_DST + timedelta(hours=25), {"stacks": ["dev", "prod"], "protected": ["prod"]}),
        # The day after: applied already.
        (NEW_YORK_DST + timedelta(hours=28), {"stacks": [], "protected": []}),
        # Berlin's change moves the 03:00 job, not the hourly one; Seoul never changes.
        (BERLIN_DST + timedelta(hours=10), {"stacks": ["orders"], "protected": ["orders"]}),
        (datetime(2027, 6, 1, 11, 23, tzinfo=UTC), {"stacks": [], "protected": []}),
    ],
)
def test_time_zones_lists_the_stacks_whose_schedules_an_offset_change_moved(
    timed_project: Path, monkeypatch: pytest.MonkeyPatch, now: datetime, due: dict[str, list[str]]
) -> None:
    monkeypatch.setattr(scheduled_job, "clock", lambda: now)
    assert run(timed_project, "time-zones", monkeypatch=monkeypatch) == due


def test_time_zones_looks_back_as_far_as_asked(timed_project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scheduled_job, "clock", lambda: NEW_YORK_DST + timedelta(days=3))
    monkeypatch.setattr("sys.stdout", io.StringIO())
    assert delivery.main(["time-zones", "--project-dir", str(timed_project), "--since-hours", "96"]) == 0
    assert 'stacks=["dev", "prod"]' in sys.stdout.getvalue()


@pytest.mark.parametrize(
    ("zone", "cron", "message"),
    [
        ("Europe/Berln", "0 3 * * *", "Pulumi.dev.yaml: aca-jobs:scheduledJobs.job-local.timeZone: `Europe/Berln`"),
        ("Asia/Seoul", "30 1 1 * *", "Pulumi.dev.yaml: aca-jobs:scheduledJobs.job-local.cronExpression: `30 1 1 * *`"),
        ("Asia/Seoul", "0 2 * * * *", "Pulumi.dev.yaml: aca-jobs:scheduledJobs.job-local.cronExpression: 6 fields"),
    ],
)
def test_a_time_zone_job_the_program_refuses_is_a_usage_error_naming_its_key(
    timed_project: Path, capsys: pytest.CaptureFixture[str], zone: str, cron: str, message: str
) -> None:
    (timed_project / "Pulumi.dev.yaml").write_text(TIMED_SINGLE.format(name="dev", zone=zone, cron=cron))
    assert delivery.main(["time-zones", "--project-dir", str(timed_project)]) == 2
    captured = capsys.readouterr()
    assert message in captured.err and "Fix: " in captured.err and "Traceback" not in captured.err
    assert captured.out == ""


def test_the_committed_stacks_schedule_in_seoul_so_no_offset_change_applies_them_again() -> None:
    a_year = timedelta(days=365)  # Seoul has not changed its offset since 1988
    assert delivery.reapply_due(delivery.stacks_in(), NEW_YORK_DST, a_year) == {
        "stacks": [],
        "protected": [],
    }
