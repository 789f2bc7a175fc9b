"""The delivery workflows: preview on pull requests, ordered and gated deployment on main."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from conftest import PROJECT_DIR

WORKFLOWS = PROJECT_DIR / ".github" / "workflows"
STACKS = ["dev", "staging", "prod"]


def workflow(name: str) -> dict[str, Any]:
    document = yaml.safe_load((WORKFLOWS / name).read_text())
    document["on"] = document.pop(True, document.get("on"))  # YAML 1.1 reads `on:` as true
    return document


def needs(job: dict[str, Any]) -> list[str]:
    value = job.get("needs", [])
    return [value] if isinstance(value, str) else list(value)


def pulumi_steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for step in job["steps"] if str(step.get("uses", "")).startswith("pulumi/actions@")]


def test_pull_requests_run_tests_then_the_offline_preview_of_every_stack() -> None:
    pr = workflow("pull-request.yml")
    assert "pull_request" in pr["on"]
    jobs = pr["jobs"]
    assert any(step.get("run") == "make test" for step in jobs["test"]["steps"])
    offline = jobs["offline-preview"]
    assert needs(offline) == ["test"]
    assert offline["strategy"]["matrix"]["stack"] == STACKS
    assert any("make preview STACK=${{ matrix.stack }}" in str(step.get("run")) for step in offline["steps"])


def test_pull_requests_run_a_real_preview_with_the_policy_pack_only_with_azure_credentials() -> None:
    jobs = workflow("pull-request.yml")["jobs"]
    preview = jobs["preview"]
    assert set(needs(preview)) == {"offline-preview", "azure-credentials"}
    assert preview["if"] == "needs.azure-credentials.outputs.configured == 'true'"
    assert preview["permissions"]["id-token"] == "write"  # OIDC, no stored Azure secret
    assert preview["strategy"]["matrix"]["stack"] == STACKS
    [step] = pulumi_steps(preview)
    assert step["with"]["command"] == "preview"
    assert step["with"]["policyPacks"] == "policy"
    assert step["with"]["policyPackConfigs"] == "policy/${{ matrix.stack }}.json"


def test_main_deploys_dev_then_staging_then_prod() -> None:
    deploy = workflow("deploy.yml")
    assert deploy["on"]["push"]["branches"] == ["main"]
    jobs = deploy["jobs"]
    assert needs(jobs["deploy-dev"]) == ["test"]
    assert needs(jobs["deploy-staging"]) == ["deploy-dev"]
    assert needs(jobs["deploy-prod"]) == ["deploy-staging"]
    assert deploy["concurrency"]["cancel-in-progress"] is False  # never cancel a deployment halfway


def test_prod_waits_behind_its_environment_with_reviewers() -> None:
    jobs = workflow("deploy.yml")["jobs"]
    assert jobs["deploy-prod"]["environment"] == "prod"
    assert all(jobs[f"deploy-{stack}"]["environment"] == stack for stack in STACKS)


@pytest.mark.parametrize("stack", STACKS)
def test_each_deployment_uses_its_policy_config_then_checks_idempotency(stack: str) -> None:
    job = workflow("deploy.yml")["jobs"][f"deploy-{stack}"]
    up, check = pulumi_steps(job)
    assert (up["with"]["command"], up["with"]["stack-name"]) == ("up", stack)
    assert up["with"]["policyPackConfigs"] == f"policy/{stack}.json"
    assert (check["with"]["command"], check["with"]["stack-name"]) == ("preview", stack)
    assert check["with"]["expect-no-changes"] is True
    assert job["steps"].index(up) < job["steps"].index(check)


def test_promotion_lag_is_reported_without_blocking_pull_requests() -> None:
    job = workflow("pull-request.yml")["jobs"]["promotion-status"]
    assert job["continue-on-error"] is True
    assert any(step.get("run") == "make promotion-check" for step in job["steps"])
