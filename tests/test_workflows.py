"""The delivery workflows: preview on pull requests with their own read-only identity, ordered and gated
deployment on main through one reusable workflow. The stacks come from the repository, not from this file."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from conftest import PROJECT_DIR

WORKFLOWS = PROJECT_DIR / ".github" / "workflows"
# Every committed stack, in promotion order (dev first, prod last; any other stack between them).
PROMOTION_ORDER = {"dev": 0, "prod": 2}
STACKS = sorted(
    (path.name.split(".")[1] for path in PROJECT_DIR.glob("Pulumi.*.yaml")),
    key=lambda stack: (PROMOTION_ORDER.get(stack, 1), stack),
)
DEPLOY_STACK = "./.github/workflows/deploy-stack.yml"


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


def test_pull_requests_run_tests_then_the_offline_preview_of_every_stack() -> None:
    pr = workflow("pull-request.yml")
    assert "pull_request" in pr["on"]
    jobs = pr["jobs"]
    assert any(step.get("run") == "make test" for step in jobs["test"]["steps"])
    offline = jobs["offline-preview"]
    assert needs(offline) == ["test"]
    assert sorted(offline["strategy"]["matrix"]["stack"]) == sorted(STACKS)
    assert any("make preview STACK=${{ matrix.stack }}" in str(step.get("run")) for step in offline["steps"])


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
    assert set(needs(preview)) == {"offline-preview", "azure-credentials"}
    assert preview["if"] == "needs.azure-credentials.outputs.configured == 'true'"
    docs = (PROJECT_DIR / "docs" / "first-deployment.md").read_text()
    assert "repo:<org>/<repo>:environment:pr-preview" in docs


def test_pull_request_previews_run_with_the_policy_pack_for_every_stack() -> None:
    preview = workflow("pull-request.yml")["jobs"]["preview"]
    assert sorted(preview["strategy"]["matrix"]["stack"]) == sorted(STACKS)
    [step] = pulumi_steps(preview)
    assert step["with"]["command"] == "preview"
    assert step["with"]["policyPacks"] == "policy"
    assert step["with"]["policyPackConfigs"] == "policy/${{ matrix.stack }}.json"
    assert "upsert" not in step["with"]  # a preview never creates a stack


# --- deployment -----------------------------------------------------------------------------------------


def test_main_deploys_every_stack_in_promotion_order_through_one_reusable_workflow() -> None:
    deploy = workflow("deploy.yml")
    assert deploy["on"]["push"]["branches"] == ["main"]
    jobs = deploy["jobs"]
    callers = {name: job for name, job in jobs.items() if job.get("uses") == DEPLOY_STACK}
    assert sorted(job["with"]["stack"] for job in callers.values()) == sorted(STACKS)
    previous = "test"
    for stack in STACKS:
        [(name, job)] = [(n, j) for n, j in callers.items() if j["with"]["stack"] == stack]
        assert needs(job) == [previous], f"{stack} must wait for {previous}"
        assert job["secrets"] == "inherit"
        previous = name
    assert all("steps" not in job for job in callers.values())  # no copied deploy steps


def test_only_prod_requires_reviewers_and_the_gate_refuses_an_unprotected_environment() -> None:
    jobs = workflow("deploy.yml")["jobs"]
    required = {
        job["with"]["stack"]: job["with"].get("require-reviewers", False) for job in jobs.values() if "with" in job
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
