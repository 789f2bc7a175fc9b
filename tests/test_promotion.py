"""Promotion moves only images, keeps the target file as written, refuses what it must not move; the stack
comparison shows what else differs."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from conftest import PROJECT_DIR

from tools import preview, promote
from tools.compare import compare


@pytest.fixture
def project(tmp_path: Path) -> Path:
    for stack in ("dev", "staging", "prod"):
        shutil.copy(PROJECT_DIR / f"Pulumi.{stack}.yaml", tmp_path)
    shutil.copytree(PROJECT_DIR / "policy", tmp_path / "policy", ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


def run(project: Path, *args: str) -> int:
    return promote.main([*args, "--project-dir", str(project)])


def images(path: Path) -> dict[str, str]:
    config = yaml.safe_load(path.read_text())["config"]
    jobs = {**config.get("aca-jobs:manualJobs", {}), **config.get("aca-jobs:eventJobs", {})}
    return {name: job["image"] for name, job in jobs.items()}


def test_promotion_changes_only_image_lines_and_keeps_comments(project: Path, capsys) -> None:
    before = (project / "Pulumi.prod.yaml").read_text()
    assert run(project, "--from", "staging", "--to", "prod") == 0
    after = (project / "Pulumi.prod.yaml").read_text()
    changed = [(a, b) for a, b in zip(before.splitlines(), after.splitlines(), strict=True) if a != b]
    assert len(changed) == 2 and all(
        a.strip().startswith("image:") and b.strip().startswith("image:") for a, b in changed
    )
    assert before.splitlines()[0].startswith("# prod:") and after.splitlines()[0] == before.splitlines()[0]
    assert images(project / "Pulumi.prod.yaml") == images(project / "Pulumi.staging.yaml")
    out = capsys.readouterr().out
    assert (
        "--- Pulumi.prod.yaml" in out
        and "+      image: acrsharedprod.azurecr.io/jobs/orders-backfill:v1.1.0@sha256:" in out
    )


def test_after_promotion_the_comparison_shows_no_image_difference(project: Path) -> None:
    def image_differences() -> list[str]:
        staging = preview.load_run("staging", project / "Pulumi.staging.yaml")
        prod = preview.load_run("prod", project / "Pulumi.prod.yaml")
        return [d.resource for d in compare(staging, prod).differences if d.path.endswith(".image")]

    assert len(image_differences()) == 2
    assert run(project, "--from", "staging", "--to", "prod") == 0
    assert image_differences() == []


def test_round_trip_without_changes_is_byte_identical() -> None:
    document_yaml = promote.round_trip_yaml()
    for stack in ("dev", "staging", "prod"):
        text = (PROJECT_DIR / f"Pulumi.{stack}.yaml").read_text()
        assert promote.dump(document_yaml, document_yaml.load(text)) == text


def test_an_image_without_digest_is_refused_where_the_target_requires_digests(project: Path, capsys) -> None:
    before = (project / "Pulumi.prod.yaml").read_text()
    assert run(project, "--from", "dev", "--to", "prod") == 2
    assert (project / "Pulumi.prod.yaml").read_text() == before
    err = capsys.readouterr().err
    assert "has no digest" in err and "job-orders-backfill" in err


def test_digest_is_not_required_where_the_target_does_not_ask(project: Path) -> None:
    assert run(project, "--from", "staging", "--to", "dev") == 0
    assert images(project / "Pulumi.dev.yaml") == images(project / "Pulumi.staging.yaml")


def test_a_job_missing_from_the_target_is_refused(project: Path, capsys) -> None:
    assert run(project, "--from", "staging", "--to", "prod", "--job", "job-not-here") == 2
    assert "job `job-not-here` is not in the source stack" in capsys.readouterr().err
    staging = (project / "Pulumi.staging.yaml").read_text()
    extra = "    job-staging-only:\n      image: acrsharedprod.azurecr.io/jobs/x:v1@sha256:" + "c" * 64 + "\n"
    (project / "Pulumi.staging.yaml").write_text(
        staging.replace("  aca-jobs:eventJobs:\n", extra + "  aca-jobs:eventJobs:\n")
    )
    assert run(project, "--from", "staging", "--to", "prod") == 2
    assert "job `job-staging-only` does not exist in Pulumi.prod.yaml" in capsys.readouterr().err


def test_only_the_chosen_jobs_move(project: Path) -> None:
    assert run(project, "--from", "staging", "--to", "prod", "--job", "job-orders-queue") == 0
    prod, staging = images(project / "Pulumi.prod.yaml"), images(project / "Pulumi.staging.yaml")
    assert prod["job-orders-queue"] == staging["job-orders-queue"]
    assert prod["job-orders-backfill"] != staging["job-orders-backfill"]


def test_check_exits_1_while_the_target_lags_and_changes_nothing(project: Path) -> None:
    before = (project / "Pulumi.prod.yaml").read_text()
    assert run(project, "--from", "staging", "--to", "prod", "--check") == 1
    assert (project / "Pulumi.prod.yaml").read_text() == before
    assert run(project, "--from", "staging", "--to", "prod") == 0
    assert run(project, "--from", "staging", "--to", "prod", "--check") == 0


def test_dry_run_prints_the_diff_and_writes_nothing(project: Path, capsys) -> None:
    before = (project / "Pulumi.prod.yaml").read_text()
    assert run(project, "--from", "staging", "--to", "prod", "--dry-run") == 0
    assert (project / "Pulumi.prod.yaml").read_text() == before
    assert "+++ Pulumi.prod.yaml" in capsys.readouterr().out


def test_compare_lists_differences_beyond_stack_names(capsys) -> None:
    assert preview.main(["--compare", "staging", "prod"]) == 0
    out = capsys.readouterr().out
    assert "retentionInDays: 30 -> 90" in out
    assert "protect: False -> True" in out
    assert "template.containers[0].image" in out
    assert "resourceGroupName" not in out.split("more differ only")[0]  # a by-design difference, summarized


def test_compare_json_marks_by_design_differences(capsys) -> None:
    import json

    assert preview.main(["--compare", "dev", "prod", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    by_path = {(d["resource"].rsplit("::", 1)[-1], d["path"]): d for d in document["inputDifferences"]}
    assert by_path[("resource-group", "resourceGroupName")]["byDesign"] is True
    assert by_path[("workspace", "retentionInDays")]["byDesign"] is False
    assert document["onlyIn_dev"] == [] and document["onlyIn_prod"] == []


def test_a_malformed_or_invalid_stack_file_is_refused_with_a_message(project: Path, capsys) -> None:
    (project / "Pulumi.staging.yaml").write_text("config:\n  aca-jobs:manualJobs: [unclosed\n")
    assert run(project, "--from", "staging", "--to", "prod") == 2
    assert "Pulumi.staging.yaml: not valid YAML" in capsys.readouterr().err
    shutil.copy(PROJECT_DIR / "Pulumi.staging.yaml", project)
    prod = (project / "Pulumi.prod.yaml").read_text()
    first_image = next(line for line in prod.splitlines(keepends=True) if line.strip().startswith("image:"))
    (project / "Pulumi.prod.yaml").write_text(prod.replace(first_image, "", 1))
    assert run(project, "--from", "staging", "--to", "prod") == 2
    err = capsys.readouterr().err
    assert "Pulumi.prod.yaml: aca-jobs:manualJobs.job-orders-backfill.image: is required" in err
    assert "Traceback" not in err
