"""The delivery workflows: preview on pull requests with their own read-only identity, ordered and gated
deployment on main through one reusable workflow. The stacks come from the repository, not from this file: the
single stacks (platform and jobs together) by name, platform and team stacks through tools/delivery.py's plan."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import yaml
from conftest import PROJECT_DIR

from policy.aca_facts.cron import parse_cron
from tools import delivery

WORKFLOWS = PROJECT_DIR / ".github" / "workflows"
# Every committed single stack, in promotion order (dev first, prod last; any other stack between them).
STACKS = delivery.plan(delivery.stacks_in(PROJECT_DIR))["singles"]
DEPLOY_STACK = "./.github/workflows/deploy-stack.yml"
PLAN_OUTPUT = '.venv/bin/python -m tools.delivery plan >> "$GITHUB_OUTPUT"'


def workflow(name: str) -> dict[str, Any]:
    document = yaml.safe_load((WORKFLOWS / name).read_text())
    document["on"] = document.pop(True, document.get("on"))  # YAML 1.1 reads `on:` as true
    return document


def needs(job: dict[str, Any]) -> list[str]:
    value = job.get("needs", [])
    return [value] if isinstance(value, str) else list(value)


def pulumi_steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for step in job["steps"] if str(step.get("uses", "")).startswith("pulumi/actions@")]


def all_pulumi_steps() -> list[dict[str, Any]]:
    steps = []
    for path in WORKFLOWS.glob("*.yml"):
        for job in workflow(path.name)["jobs"].values():
            steps += pulumi_steps(job) if "steps" in job else []
    return steps


def test_the_stacks_are_read_from_the_repository() -> None:
    assert STACKS[0] == "dev" and STACKS[-1] == "prod" and "staging" in STACKS


# --- pull requests ------------------------------------------------------------------------------------------


def test_pull_requests_run_tests_then_the_offline_preview_of_the_stacks_they_touch() -> None:
    pr = workflow("pull-request.yml")
    assert "pull_request" in pr["on"]
    jobs = pr["jobs"]
    assert any(step.get("run") == "make test" for step in jobs["test"]["steps"])
    offline = jobs["offline-preview"]
    assert needs(offline) == ["test", "plan"]
    assert offline["strategy"]["matrix"]["stack"] == "${{ fromJSON(needs.plan.outputs.stacks) }}"
    assert offline["if"] == "needs.plan.outputs.stacks != '[]'"  # an empty matrix is an error; docs preview none
    assert any("make preview STACK=${{ matrix.stack }}" in str(step.get("run")) for step in offline["steps"])


def test_a_pull_request_previews_only_the_stacks_its_changed_files_name() -> None:
    plan = workflow("pull-request.yml")["jobs"]["plan"]
    assert plan["outputs"] == {"stacks": "${{ steps.affected.outputs.stacks }}"}
    [checkout] = [step for step in plan["steps"] if str(step.get("uses", "")).startswith("actions/checkout@")]
    assert checkout["with"]["fetch-depth"] == 0  # the merge base of base and head must be fetched
    [affected] = [step for step in plan["steps"] if step.get("id") == "affected"]
    # The pull request's own changes (three dots: since the merge base), one path a line, into the selection.
    assert affected["env"] == {
        "BASE_SHA": "${{ github.event.pull_request.base.sha }}",
        "HEAD_SHA": "${{ github.event.pull_request.head.sha }}",
    }
    lines = affected["run"].splitlines()
    assert lines[0] == 'git diff --name-only --no-renames "${BASE_SHA}...${HEAD_SHA}" > changed.txt'
    assert lines[1] == '.venv/bin/python -m tools.delivery affected < changed.txt >> "$GITHUB_OUTPUT"'
    assert any(step.get("run") == "make setup" for step in plan["steps"])
    # What that selection previews of a team's change: only that team's stack (tests/test_delivery.py has the rule).
    # Here, on the committed stacks: a change to one stack file previews that stack alone, and a contract change
    # previews every stack.
    stacks = delivery.stacks_in(PROJECT_DIR)
    assert delivery.affected(["Pulumi.staging.yaml"], stacks) == ["staging"]
    assert sorted(delivery.affected(["components/platform_contract.py"], stacks)) == sorted(STACKS)


def test_ci_runs_the_bench_smoke_after_the_tests() -> None:
    runs = [step.get("run") for step in workflow("pull-request.yml")["jobs"]["test"]["steps"]]
    assert runs.index("make bench-smoke") > runs.index("make test")
    ci = (PROJECT_DIR / ".ci" / "run").read_text().splitlines()
    assert ci.index("make bench-smoke") > next(i for i, line in enumerate(ci) if line.startswith("make test"))


def test_pull_request_previews_use_their_own_environment_and_identity() -> None:
    jobs = workflow("pull-request.yml")["jobs"]
    preview = jobs["preview"]
    # The OIDC subject is repo:<org>/<repo>:environment:pr-preview: a federated credential of the read-only
    # preview identity only, never of an identity that deploys.
    assert preview["environment"] == "pr-preview"
    assert preview["environment"] not in STACKS
    assert preview["permissions"] == {"contents": "read", "id-token": "write", "pull-requests": "write"}
    # The credentials gate reads the same environment's secrets.
    assert jobs["azure-credentials"]["environment"] == "pr-preview"
    assert set(needs(preview)) == {"plan", "offline-preview", "azure-credentials"}
    assert preview["if"] == (
        "needs.azure-credentials.outputs.configured == 'true' && needs.plan.outputs.stacks != '[]'"
    )
    docs = (PROJECT_DIR / "docs" / "first-deployment.md").read_text()
    assert "repo:<org>/<repo>:environment:pr-preview" in docs


def test_pull_request_previews_run_with_the_policy_pack_for_each_touched_stack() -> None:
    preview = workflow("pull-request.yml")["jobs"]["preview"]
    assert preview["strategy"]["matrix"]["stack"] == "${{ fromJSON(needs.plan.outputs.stacks) }}"
    [step] = pulumi_steps(preview)
    assert step["with"]["command"] == "preview"
    assert step["with"]["policyPacks"] == "policy"
    assert step["with"]["policyPackConfigs"] == "policy/${{ matrix.stack }}.json"
    assert "upsert" not in step["with"]  # a preview never creates a stack


# --- deployment -----------------------------------------------------------------------------------------


def single_stack_callers(jobs: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The deploy jobs of the single stacks: one per stack, named in the workflow (not from a matrix)."""
    return {
        name: job
        for name, job in jobs.items()
        if job.get("uses") == DEPLOY_STACK and "matrix" not in str(job["with"]["stack"])
    }


def test_main_deploys_every_stack_in_promotion_order_through_one_reusable_workflow() -> None:
    deploy = workflow("deploy.yml")
    assert deploy["on"]["push"]["branches"] == ["main"]
    jobs = deploy["jobs"]
    callers = single_stack_callers(jobs)
    assert sorted(job["with"]["stack"] for job in callers.values()) == sorted(STACKS)
    previous = "test"
    for stack in STACKS:
        [(name, job)] = [(n, j) for n, j in callers.items() if j["with"]["stack"] == stack]
        assert needs(job) == [previous], f"{stack} must wait for {previous}"
        assert job["secrets"] == "inherit"
        previous = name
    assert all("steps" not in job for job in callers.values())  # no copied deploy steps


def test_main_deploys_the_platform_stacks_before_the_team_stacks() -> None:
    jobs = workflow("deploy.yml")["jobs"]
    plan, platform, teams = jobs["plan"], jobs["platform"], jobs["teams"]
    # The roles come from the stack files in the repository.
    assert needs(plan) == ["test"]
    assert any(step.get("run") == PLAN_OUTPUT for step in plan["steps"])
    assert set(plan["outputs"]) == {"platforms", "teams", "protected"}
    # Every platform stack, each through the one reusable workflow.
    assert needs(platform) == ["plan"]
    assert platform["uses"] == DEPLOY_STACK and platform["with"]["stack"] == "${{ matrix.stack }}"
    assert platform["strategy"]["matrix"]["stack"] == "${{ fromJSON(needs.plan.outputs.platforms) }}"
    assert platform["if"] == "needs.plan.outputs.platforms != '[]'"
    # Then every team stack: after the platform job, and only when it succeeded or there was no platform to deploy.
    assert set(needs(teams)) == {"plan", "platform"}
    assert teams["uses"] == DEPLOY_STACK and teams["with"]["stack"] == "${{ matrix.stack }}"
    assert teams["strategy"]["matrix"]["stack"] == "${{ fromJSON(needs.plan.outputs.teams) }}"
    condition = " ".join(teams["if"].split())
    assert condition == (
        "!cancelled() && needs.plan.result == 'success' && needs.plan.outputs.teams != '[]' && "
        "(needs.platform.result == 'success' || needs.platform.result == 'skipped')"
    )
    assert teams["strategy"]["fail-fast"] is False  # one team's failure does not cancel the others
    for job in (platform, teams):
        assert job["secrets"] == "inherit"
        assert job["permissions"] == {"contents": "read", "id-token": "write", "actions": "read"}
        assert job["with"]["require-reviewers"] == (
            "${{ contains(fromJSON(needs.plan.outputs.protected), matrix.stack) }}"
        )
        assert "steps" not in job
    # The single stacks' chain is not held up by, and does not hold up, the platform and team stacks.
    singles = single_stack_callers(jobs)
    assert not {"platform", "teams", "plan"} & {n for job in singles.values() for n in needs(job)}


def test_only_prod_requires_reviewers_and_the_gate_refuses_an_unprotected_environment() -> None:
    jobs = workflow("deploy.yml")["jobs"]
    required = {
        job["with"]["stack"]: job["with"].get("require-reviewers", False) for job in single_stack_callers(jobs).values()
    }
    assert required == {stack: stack == "prod" for stack in STACKS}
    deploy = workflow("deploy-stack.yml")["jobs"]["deploy"]
    assert deploy["environment"] == "${{ inputs.stack }}"
    gate = deploy["steps"][0]
    assert gate["if"] == "inputs.require-reviewers"
    assert 'select(.type == "required_reviewers")' in gate["run"] and "exit 1" in gate["run"]
    assert deploy["permissions"]["actions"] == "read"  # what reading the environment's rules needs
    [up, _] = pulumi_steps(deploy)
    assert deploy["steps"].index(gate) < deploy["steps"].index(up)


def test_a_waiting_deployment_is_never_cancelled() -> None:
    assert "concurrency" not in workflow("deploy.yml")  # a workflow-level group would drop a waiting run
    concurrency = workflow("deploy-stack.yml")["jobs"]["deploy"]["concurrency"]
    assert concurrency == {"group": "deploy-${{ inputs.stack }}", "cancel-in-progress": False, "queue": "max"}


def test_a_missing_stack_is_created_with_the_documented_secrets_provider() -> None:
    deploy = workflow("deploy-stack.yml")["jobs"]["deploy"]
    up, check = pulumi_steps(deploy)
    assert (up["with"]["command"], up["with"]["upsert"]) == ("up", True)
    assert up["with"]["secrets-provider"] == "${{ secrets.PULUMI_SECRETS_PROVIDER }}"
    assert "PULUMI_SECRETS_PROVIDER" in (PROJECT_DIR / "docs" / "first-deployment.md").read_text()
    assert (check["with"]["command"], check["with"]["expect-no-changes"]) == ("preview", True)


@pytest.mark.parametrize("command", ["up", "preview"])
def test_each_deployment_runs_with_the_stacks_policy_config(command: str) -> None:
    deploy = workflow("deploy-stack.yml")["jobs"]["deploy"]
    [step] = [s for s in pulumi_steps(deploy) if s["with"]["command"] == command]
    assert step["with"]["stack-name"] == "${{ inputs.stack }}"
    assert step["with"]["policyPacks"] == "policy"
    assert step["with"]["policyPackConfigs"] == "policy/${{ inputs.stack }}.json"


def test_the_pulumi_cli_is_pinned_to_the_sdk_version_everywhere() -> None:
    pinned = (PROJECT_DIR / ".pulumi.version").read_text().strip()
    sdk = next(
        line.split("==")[1]
        for line in (PROJECT_DIR / "requirements.txt").read_text().splitlines()
        if line.startswith("pulumi==")
    )
    assert pinned == sdk
    steps = all_pulumi_steps()
    assert steps and all(step["with"].get("pulumi-version-file") == ".pulumi.version" for step in steps)


def test_workflows_install_the_one_dependency_set() -> None:
    for name in ("deploy-stack.yml", "pull-request.yml"):
        text = (WORKFLOWS / name).read_text()
        assert "setup-uv" not in text
    deploy = workflow("deploy-stack.yml")["jobs"]["deploy"]
    assert any(step.get("run") == "make setup" for step in deploy["steps"])


def test_promotion_lag_is_reported_without_blocking_pull_requests() -> None:
    job = workflow("pull-request.yml")["jobs"]["promotion-status"]
    assert job["continue-on-error"] is True
    assert any(step.get("run") == "make promotion-check" for step in job["steps"])


# --- time zones -----------------------------------------------------------------------------------------------


def test_time_zone_stacks_are_applied_again_daily_through_the_one_reusable_workflow() -> None:
    document = workflow("time-zones.yml")
    [schedule] = document["on"]["schedule"]
    # Daily, and each change is seen by at least one run: the look-back is longer than the time between runs.
    assert parse_cron(schedule["cron"]).shortest_interval() == timedelta(days=1)
    assert delivery.REAPPLY_WINDOW_HOURS > 24
    dispatch = document["on"]["workflow_dispatch"]["inputs"]["since-hours"]
    assert dispatch["default"] == str(delivery.REAPPLY_WINDOW_HOURS)
    jobs = document["jobs"]
    plan, reapply = jobs["plan"], jobs["reapply"]
    [due] = [step for step in plan["steps"] if step.get("id") == "due"]
    assert due["env"] == {"SINCE_HOURS": f"${{{{ inputs.since-hours || '{delivery.REAPPLY_WINDOW_HOURS}' }}}}"}
    assert due["run"] == (
        '.venv/bin/python -m tools.delivery time-zones --since-hours "${SINCE_HOURS}" >> "$GITHUB_OUTPUT"'
    )
    assert any(step.get("run") == "make setup" for step in plan["steps"])
    assert set(plan["outputs"]) == {"stacks", "protected"}
    # Each due stack deploys as deploy.yml deploys it: its environment, the policy pack, reviewers where required.
    assert needs(reapply) == ["plan"]
    assert reapply["if"] == "needs.plan.outputs.stacks != '[]'"
    assert reapply["uses"] == DEPLOY_STACK and reapply["with"]["stack"] == "${{ matrix.stack }}"
    assert reapply["strategy"]["matrix"]["stack"] == "${{ fromJSON(needs.plan.outputs.stacks) }}"
    assert (
        reapply["with"]["require-reviewers"] == "${{ contains(fromJSON(needs.plan.outputs.protected), matrix.stack) }}"
    )
    assert reapply["secrets"] == "inherit"
    assert reapply["permissions"] == {"contents": "read", "id-token": "write", "actions": "read"}
    assert document["permissions"] == {"contents": "read"}
    assert "time-zones.yml" in (PROJECT_DIR / "docs" / "schedules.md").read_text()
