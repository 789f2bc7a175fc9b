"""Promotion moves only images, keeps the target file as written, refuses what it must not move; the stack
comparison shows what else differs."""

from __future__ import annotations

import errno
import os
import re
import shutil
import stat
import tempfile
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml
from conftest import PROJECT_DIR

from components.naming import ACR_PULL
from tools import preview, promote, rbac_condition
from tools.compare import compare
from tools.provider_model import UNKNOWN


@pytest.fixture
def project(tmp_path: Path) -> Path:
    for name in ("Pulumi.yaml", "Pulumi.dev.yaml", "Pulumi.staging.yaml", "Pulumi.prod.yaml"):
        shutil.copy(PROJECT_DIR / name, tmp_path)
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
    staging, dev = images(project / "Pulumi.staging.yaml"), images(project / "Pulumi.dev.yaml")
    # Dev also has jobs new there (not yet in staging): they keep their images.
    assert {job: dev[job] for job in staging} == staging and set(dev) - set(staging)


def test_a_job_missing_from_the_target_is_reported_or_refused(project: Path, capsys) -> None:
    assert run(project, "--from", "staging", "--to", "prod", "--job", "job-not-here") == 2
    assert "job `job-not-here` is not in the source stack" in capsys.readouterr().err
    staging = (project / "Pulumi.staging.yaml").read_text()
    extra = "    job-staging-only:\n      image: acrsharedprod.azurecr.io/jobs/x:v1@sha256:" + "c" * 64 + "\n"
    (project / "Pulumi.staging.yaml").write_text(
        staging.replace("  aca-jobs:eventJobs:\n", extra + "  aca-jobs:eventJobs:\n")
    )
    # Without --job: the jobs both stacks have move, and the one only in staging is reported with what to do.
    assert run(project, "--from", "staging", "--to", "prod") == 0
    err = capsys.readouterr().err
    assert "note: job `job-staging-only` is in Pulumi.staging.yaml but not in Pulumi.prod.yaml" in err
    assert "copy its block into Pulumi.prod.yaml in its own reviewed change" in err
    assert "job-staging-only" not in (project / "Pulumi.prod.yaml").read_text()
    # Asked for by name, it is refused: promotion moves images, never jobs.
    assert run(project, "--from", "staging", "--to", "prod", "--job", "job-staging-only") == 2
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


def test_compare_summarizes_what_may_differ_one_line_each(capsys) -> None:
    assert preview.main(["--compare", "staging", "prod"]) == 0  # the committed stacks: no unexpected drift
    out = capsys.readouterr().out
    unexpected, expected = out.split("Expected (may differ between stacks by design), one line each:")
    assert unexpected.rstrip().endswith("(none)")
    assert "    logRetentionDays: 1 value on 1 resource" in expected
    assert "    image (moves only by promotion): job-orders-backfill, job-orders-queue" in expected
    assert "    protect (stateful resources protected in prod): 5 values on 5 resources" in expected
    assert "resourceGroupName" not in out and "Result: no unexpected drift" in out


def test_compare_exits_1_on_unexpected_drift_with_a_readable_title(monkeypatch, capsys) -> None:
    original = preview.load_run

    def drifted(stack, config_file, *args, **kwargs):
        if stack != "prod":
            return original(stack, config_file, *args, **kwargs)
        given = preview.read_stack("prod", None)
        given.config["aca-jobs:eventJobs"]["job-orders-queue"]["replicaTimeout"] = 1200
        return original(given, *args, **kwargs)

    monkeypatch.setattr(preview, "load_run", drifted)
    assert preview.main(["--compare", "staging", "prod"]) == 1
    out = capsys.readouterr().out
    assert "    job job-orders-queue · Job · configuration.replicaTimeout: 900 → 1200" in out.split("Expected")[0]
    assert "Result: 1 unexpected difference: exit 1" in out


def test_compare_json_marks_by_design_differences(capsys) -> None:
    import json

    # Dev has two jobs not yet promoted (a Storage Queue and an Event Hubs job): each resource of theirs is a
    # difference (exit 1), listed as only in dev.
    assert preview.main(["--compare", "dev", "prod", "--json"]) == 1
    document = json.loads(capsys.readouterr().out)
    by_path = {(d["resource"].rsplit("::", 1)[-1], d["path"]): d for d in document["inputDifferences"]}
    assert by_path[("resource-group", "resourceGroupName")]["byDesign"] is True
    assert by_path[("workspace", "retentionInDays")]["byDesign"] is False
    assert {urn.rsplit("::", 1)[-1] for urn in document["onlyIn_dev"] if "Job::" in urn} == {
        "job-invoices-storage",
        "job-telemetry-hub",
    }
    assert all(":StorageQueueEventJob" in urn or ":EventHubEventJob" in urn for urn in document["onlyIn_dev"]), (
        document["onlyIn_dev"]
    )
    # Prod alerts (an action group, a failed-execution rule per job, two queue rules per event job); dev does not.
    assert sorted(urn.rsplit("::", 1)[-1] for urn in document["onlyIn_prod"]) == [
        "action-group",
        "job-orders-backfill-failed-executions",
        "job-orders-nightly-failed-executions",
        "job-orders-queue-dead-letters",
        "job-orders-queue-failed-executions",
        "job-orders-queue-stuck-backlog",
        "job-orders-settle-failed-executions",
    ]


def test_a_malformed_or_invalid_stack_file_is_refused_with_a_message(project: Path, capsys) -> None:
    (project / "Pulumi.staging.yaml").write_text("config:\n  aca-jobs:manualJobs: [unclosed\n")
    assert run(project, "--from", "staging", "--to", "prod") == 2
    assert "Pulumi.staging.yaml: line 2, column 24 in `aca-jobs:manualJobs: [unclosed`" in capsys.readouterr().err
    shutil.copy(PROJECT_DIR / "Pulumi.staging.yaml", project)
    prod = (project / "Pulumi.prod.yaml").read_text()
    first_image = next(line for line in prod.splitlines(keepends=True) if line.strip().startswith("image:"))
    (project / "Pulumi.prod.yaml").write_text(prod.replace(first_image, "", 1))
    assert run(project, "--from", "staging", "--to", "prod") == 2
    err = capsys.readouterr().err
    assert "Pulumi.prod.yaml: aca-jobs:scheduledJobs.job-orders-nightly.image: is required" in err
    assert "Traceback" not in err


# --- nothing a user writes is silently dropped, crashes the tool, or slips past review -------------------


def image_swaps(project: Path) -> list[tuple[str, str]]:
    """(prod image, staging image) per job: what a full promotion replaces, and nothing else."""
    prod, staging = images(project / "Pulumi.prod.yaml"), images(project / "Pulumi.staging.yaml")
    return [(prod[job], staging[job]) for job in sorted(prod) if prod[job] != staging[job]]


def promoted(text: str, swaps: list[tuple[str, str]]) -> str:
    for old, new in swaps:
        text = text.replace(old, new)
    return text


def diff_lines(out: str) -> tuple[list[str], list[str]]:
    body = [line for line in out.splitlines() if not line.startswith(("---", "+++"))]
    return [line for line in body if line.startswith("-")], [line for line in body if line.startswith("+")]


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


@pytest.mark.parametrize("failing_step", ["write", "fsync", "replace"])
def test_an_interrupted_write_leaves_the_target_as_it_was(
    project: Path, capsys, monkeypatch: pytest.MonkeyPatch, failing_step: str
) -> None:
    target = project / "Pulumi.prod.yaml"
    before, files = target.read_bytes(), sorted(os.listdir(project))
    real_write = os.write

    def write_half_then_fill_the_disk(descriptor: int, data: bytes) -> int:
        real_write(descriptor, bytes(data[: len(data) // 2]))
        raise OSError(errno.ENOSPC, "No space left on device")

    def fail(*_args: object) -> None:
        raise OSError(errno.EIO, "Input/output error")

    step = {"write": write_half_then_fill_the_disk, "fsync": fail, "replace": fail}[failing_step]
    monkeypatch.setattr(os, failing_step, step)
    assert run(project, "--from", "staging", "--to", "prod") == 2
    monkeypatch.undo()
    assert target.read_bytes() == before
    assert sorted(os.listdir(project)) == files  # no temporary file left behind
    err = capsys.readouterr().err
    assert "Pulumi.prod.yaml: could not write it" in err and "it is unchanged" in err and "Traceback" not in err


def test_the_written_file_keeps_its_mode_and_a_symlink_stays_a_symlink(project: Path) -> None:
    real = project / "stacks" / "prod.yaml"
    real.parent.mkdir()
    shutil.move(project / "Pulumi.prod.yaml", real)
    (project / "Pulumi.prod.yaml").symlink_to(real)
    real.chmod(0o640)
    assert run(project, "--from", "staging", "--to", "prod") == 0
    assert (project / "Pulumi.prod.yaml").is_symlink()
    assert stat.S_IMODE(real.stat().st_mode) == 0o640
    assert images(real) == images(project / "Pulumi.staging.yaml")
    assert sorted(os.listdir(real.parent)) == ["prod.yaml"]


@pytest.mark.parametrize(
    ("newline", "bom", "final_newline"),
    [("\r\n", "", True), ("\r\n", "\ufeff", False), ("\n", "", False), ("\n", "\ufeff", True)],
)
def test_line_endings_byte_order_mark_and_final_newline_are_kept(
    project: Path, capsys, newline: str, bom: str, final_newline: bool
) -> None:
    target = project / "Pulumi.prod.yaml"
    swaps = image_swaps(project)
    text = target.read_text()
    text = bom + (text if final_newline else text.rstrip("\n")).replace("\n", newline)
    target.write_bytes(text.encode())
    assert run(project, "--from", "staging", "--to", "prod") == 0
    assert target.read_bytes() == promoted(text, swaps).encode()  # only the images changed, byte for byte
    removed, added = diff_lines(capsys.readouterr().out)
    assert len(removed) == len(added) == len(swaps) == 2
    assert all(line.lstrip("-+ ").startswith("image:") for line in removed + added)


def test_mixed_line_endings_are_refused(project: Path, capsys) -> None:
    target = project / "Pulumi.prod.yaml"
    text = target.read_text().replace("\n", "\r\n", 3)
    target.write_bytes(text.encode())
    assert run(project, "--from", "staging", "--to", "prod") == 2
    assert target.read_bytes() == text.encode()
    assert "Pulumi.prod.yaml: mixes line endings" in capsys.readouterr().err


def test_formatting_the_writer_would_not_keep_is_refused(project: Path, capsys) -> None:
    target = project / "Pulumi.prod.yaml"
    # 4-space indentation; a block sequence item's content moves with its continuation lines (`- name:` under
    # `initContainers` -> `-   name:`), so the file stays valid YAML, written otherwise than the writer writes it.
    text = re.sub(r"(?m)^( +)(- )?", lambda m: m[1] * 2 + ("-   " if m[2] else ""), target.read_text())
    target.write_text(text)
    assert run(project, "--from", "staging", "--to", "prod") == 2
    assert target.read_text() == text
    assert "would be rewritten too, not only the image lines" in capsys.readouterr().err


def test_the_image_line_keeps_its_quotes_comment_and_anchor(project: Path) -> None:
    target = project / "Pulumi.prod.yaml"
    (old, new), _ = image_swaps(project)
    edit(target, f"image: {old}\n", f'image: &backfill "{old}"  # promoted from staging\n')
    text = target.read_text()
    assert run(project, "--from", "staging", "--to", "prod", "--job", "job-orders-backfill") == 0
    assert target.read_text() == text.replace(old, new)


def shared_by_alias(project: Path) -> None:
    (backfill, _), (queue, _) = image_swaps(project)
    edit(project / "Pulumi.prod.yaml", f"image: {backfill}", f"image: &image {backfill}")
    edit(project / "Pulumi.prod.yaml", f"image: {queue}", "image: *image")


def shared_by_merge_key(project: Path) -> None:
    edit(project / "Pulumi.prod.yaml", "    job-orders-backfill:\n", "    job-orders-backfill: &backfill\n")
    second_job = "    job-orders-backfill-eu:\n      <<: *backfill\n"
    edit(project / "Pulumi.prod.yaml", "  aca-jobs:eventJobs:\n", second_job + "  aca-jobs:eventJobs:\n")


@pytest.mark.parametrize(
    ("share", "other_job", "how"),
    [
        (shared_by_alias, "job-orders-queue", "is shared through a YAML anchor (`&`) and alias (`*`)"),
        (shared_by_merge_key, "job-orders-backfill-eu", "is shared through a YAML anchor (`&`) and alias (`*`)"),
    ],
)
def test_an_image_shared_through_an_anchor_or_merge_key_is_refused(
    project: Path, capsys, share, other_job: str, how: str
) -> None:
    share(project)
    target = project / "Pulumi.prod.yaml"
    text = target.read_text()
    assert run(project, "--from", "staging", "--to", "prod", "--job", "job-orders-backfill") == 2
    assert target.read_text() == text
    err = capsys.readouterr().err
    assert f"job `job-orders-backfill`: its image in Pulumi.prod.yaml {how}, with job `{other_job}`" in err
    assert "write the image out in each job" in err


def test_a_job_whose_image_comes_from_a_merge_key_is_refused(project: Path, capsys) -> None:
    shared_by_merge_key(project)
    (project / "Pulumi.staging.yaml").write_text(
        (project / "Pulumi.staging.yaml")
        .read_text()
        .replace(
            "  aca-jobs:eventJobs:\n",
            "    job-orders-backfill-eu:\n      image: "
            + images(project / "Pulumi.staging.yaml")["job-orders-backfill"]
            + "\n      parallelism: 2\n      replicaCompletionCount: 2\n      replicaRetryLimit: 1\n"
            "      replicaTimeout: 1800\n      cpu: 0.5\n      memory: 1Gi\n  aca-jobs:eventJobs:\n",
        )
    )
    assert run(project, "--from", "staging", "--to", "prod", "--job", "job-orders-backfill-eu") == 2
    err = capsys.readouterr().err
    assert "job `job-orders-backfill-eu`: its image in Pulumi.prod.yaml comes from a `<<` merge key" in err
    assert "with job `job-orders-backfill`" in err


def test_other_providers_keys_pass_through_untouched(project: Path) -> None:
    target = project / "Pulumi.prod.yaml"
    provider_keys = (
        "  azure-native:subscriptionId: 11111111-1111-1111-1111-111111111111\n"
        "  azure-native:clientSecret:\n    secure: AAABAKx2bm9wZQ==\n"
        "  azure-native:useMsi: true\n"
    )
    edit(target, "config:\n", "config:\n" + provider_keys)
    text, swaps = target.read_text(), image_swaps(project)
    assert run(project, "--from", "staging", "--to", "prod") == 0
    assert target.read_text() == promoted(text, swaps)


def test_bare_project_keys_are_read_as_the_cli_reads_them(project: Path) -> None:
    target, swaps = project / "Pulumi.prod.yaml", image_swaps(project)
    edit(target, "  aca-jobs:eventJobs:\n", "  eventJobs:\n")
    text = target.read_text()
    assert run(project, "--from", "staging", "--to", "prod") == 0
    assert target.read_text() == promoted(text, swaps)


def test_an_image_from_another_registry_is_refused(project: Path, capsys) -> None:
    staging = project / "Pulumi.staging.yaml"
    staging.write_text(staging.read_text().replace("acrsharedprod", "acrstaging"))
    before = (project / "Pulumi.prod.yaml").read_text()
    assert run(project, "--from", "staging", "--to", "prod", "--job", "job-orders-queue") == 2
    assert (project / "Pulumi.prod.yaml").read_text() == before
    err = capsys.readouterr().err
    image = images(staging)["job-orders-queue"]
    assert (
        f"job `job-orders-queue`: `{image}` is not from Pulumi.prod.yaml's registry `acrsharedprod.azurecr.io`" in err
    )


def promote_queue_image_from(host: str) -> tuple[str, Any]:
    """Promote staging's queue job to prod with its image moved to `host`: (the image, prod's document)."""
    document_yaml = promote.round_trip_yaml()
    source = document_yaml.load((PROJECT_DIR / "Pulumi.staging.yaml").read_text())
    target = document_yaml.load((PROJECT_DIR / "Pulumi.prod.yaml").read_text())
    job = source["config"]["aca-jobs:eventJobs"]["job-orders-queue"]
    job["image"] = job["image"].replace("acrsharedprod.azurecr.io", host, 1)
    promote.promote(
        source,
        target,
        ["job-orders-queue"],
        True,
        "Pulumi.prod.yaml",
        registry_server="acrsharedprod.azurecr.io",
        shared_images={},
    )
    return job["image"], target


@pytest.mark.parametrize("host", ["acrsharedprod.azurecr.io:443", "acrsharedprod.azurecr.io.evil.example"])
def test_a_registry_host_must_match_exactly(host: str) -> None:
    with pytest.raises(promote.PromotionRefusedError) as refused:
        promote_queue_image_from(host)
    image = images(PROJECT_DIR / "Pulumi.staging.yaml")["job-orders-queue"].replace("acrsharedprod.azurecr.io", host, 1)
    assert f"`{image}` is not from Pulumi.prod.yaml's registry `acrsharedprod.azurecr.io`" in str(refused.value)


def make_read_only(project: Path) -> str:
    (project / "Pulumi.prod.yaml").chmod(0o444)
    return "Pulumi.prod.yaml is read-only"


def remove_target(project: Path) -> str:
    (project / "Pulumi.prod.yaml").unlink()
    return "Pulumi.prod.yaml not found in"


def directory_as_target(project: Path) -> str:
    (project / "Pulumi.prod.yaml").unlink()
    (project / "Pulumi.prod.yaml").mkdir()
    return "Pulumi.prod.yaml is a directory, not a stack file"


def unreadable_policy(project: Path) -> str:
    (project / "policy" / "prod.json").unlink()
    (project / "policy" / "prod.json").mkdir()
    return "prod.json"  # with the reason (a directory), in policy_runner's words


@pytest.mark.parametrize("break_it", [make_read_only, remove_target, directory_as_target, unreadable_policy])
def test_files_that_cannot_be_read_or_written_are_refused_with_a_message(project: Path, capsys, break_it) -> None:
    message = break_it(project)
    target = project / "Pulumi.prod.yaml"
    before = target.read_bytes() if target.is_file() else None
    assert run(project, "--from", "staging", "--to", "prod") == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert (target.read_bytes() if target.is_file() else None) == before


def test_an_unwritable_folder_is_refused_with_a_message(project: Path, capsys, monkeypatch) -> None:
    def denied(*_args: object, **_kwargs: object) -> None:
        raise PermissionError(errno.EACCES, "Permission denied")

    before = (project / "Pulumi.prod.yaml").read_bytes()
    monkeypatch.setattr(tempfile, "mkstemp", denied)
    assert run(project, "--from", "staging", "--to", "prod") == 2
    assert (project / "Pulumi.prod.yaml").read_bytes() == before
    assert "Pulumi.prod.yaml: could not write it (Permission denied)" in capsys.readouterr().err


def test_a_failure_of_the_tool_itself_exits_3_without_a_traceback(project: Path, capsys, monkeypatch) -> None:
    def broken(_text: str) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(promote, "shared_images", broken)
    before = (project / "Pulumi.prod.yaml").read_bytes()
    assert run(project, "--from", "staging", "--to", "prod") == 3
    err = capsys.readouterr().err
    assert "a bug in this tool" in err and "RuntimeError: boom" in err and "Traceback" not in err
    assert (project / "Pulumi.prod.yaml").read_bytes() == before


@pytest.mark.parametrize(
    ("stack", "content", "message"),
    [
        ("prod", None, "`job-orders-backfill` is written twice in the same map"),
        ("staging", b"config:\n  aca-jobs:platform: \xff\n", "Pulumi.staging.yaml: byte 29 is not UTF-8"),
    ],
)
def test_both_stack_files_are_read_strictly(
    project: Path, capsys, stack: str, content: bytes | None, message: str
) -> None:
    path = project / f"Pulumi.{stack}.yaml"
    if content is None:  # the same job twice: YAML would keep only the second, silently
        text = path.read_text()
        job = text[text.index("    job-orders-backfill:\n") : text.index("  aca-jobs:eventJobs:\n")]
        content = text.replace(job, job + job).encode()
    path.write_bytes(content)
    before = (project / "Pulumi.prod.yaml").read_bytes()
    assert run(project, "--from", "staging", "--to", "prod") == 2
    assert (project / "Pulumi.prod.yaml").read_bytes() == before
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def as_scheduled_job(text: str, job: str) -> str:
    """The stack file with manual job `job` moved, under the same name, to scheduledJobs (with a schedule)."""
    start = text.index(f"    {job}:\n", text.index("  aca-jobs:manualJobs:\n"))
    # The job's lines: up to the next line at the jobs' indentation (another job, or its comment) or section.
    following = re.compile(r"(?m)^ {0,4}\S").search(text, start + len(f"    {job}:\n"))
    end = following.start() if following else len(text)
    block = text[start:end]
    scheduled = block.replace(f"    {job}:\n", f'    {job}:\n      cronExpression: "0 3 * * *"\n', 1)
    text = text[:start] + text[end:]
    return text.replace("  aca-jobs:scheduledJobs:\n", "  aca-jobs:scheduledJobs:\n" + scheduled, 1)


@pytest.mark.parametrize("chosen", [[], ["--job", "job-orders-backfill"]], ids=["all-jobs", "by-name"])
def test_an_image_is_never_copied_between_jobs_of_different_kinds(project: Path, capsys, chosen: list[str]) -> None:
    """A scheduled job in prod and a manual job in staging under one name are two jobs: refused, naming both."""
    prod = project / "Pulumi.prod.yaml"
    prod.write_text(as_scheduled_job(prod.read_text(), "job-orders-backfill"))
    before = prod.read_bytes()
    assert run(project, "--from", "staging", "--to", "prod", *chosen) == 2
    assert prod.read_bytes() == before
    err = capsys.readouterr().err
    assert (
        "job `job-orders-backfill` is under `aca-jobs:manualJobs` in Pulumi.staging.yaml but under "
        "`aca-jobs:scheduledJobs` in Pulumi.prod.yaml: promotion copies an image between jobs of one kind only"
    ) in err
    assert "Traceback" not in err


def test_stacks_with_no_job_in_common_say_so(project: Path, capsys) -> None:
    prod = project / "Pulumi.prod.yaml"
    prod.write_text(prod.read_text().replace("job-orders-", "job-sales-"))
    before = prod.read_bytes()
    assert run(project, "--from", "staging", "--to", "prod") == 0
    assert prod.read_bytes() == before
    captured = capsys.readouterr()
    assert captured.out == (
        "Pulumi.staging.yaml and Pulumi.prod.yaml have no job in common: there is no image to promote\n"
    )
    assert "note: job `job-orders-queue` is in Pulumi.staging.yaml but not in Pulumi.prod.yaml" in captured.err


def with_role_definition(monkeypatch: pytest.MonkeyPatch, definition: str) -> None:
    """Every stack registers one role assignment, with `definition` as its roleDefinitionId."""
    assignment = SimpleNamespace(name="job-x-pull-acr-pull", inputs={"roleDefinitionId": definition})
    run = SimpleNamespace(by_type=lambda _type: [assignment])
    monkeypatch.setattr(preview, "load_run", lambda *_args, **_kwargs: run)


def test_the_deployers_condition_reads_each_role_by_its_guid(monkeypatch) -> None:
    """A role definition id parsed, case-insensitively (ARM ids are): the upper-case GUID is AcrPull."""
    with_role_definition(
        monkeypatch,
        "/SUBSCRIPTIONS/00000000-0000-0000-0000-000000000000/providers/Microsoft.Authorization/roleDefinitions/"
        + ACR_PULL.guid.upper(),
    )
    assert rbac_condition.granted_roles(["prod"]) == [ACR_PULL]


def test_the_deployers_condition_refuses_a_role_it_cannot_read(monkeypatch, capsys) -> None:
    """An id that names no role (here: not known yet) is never put in the condition as if it were a GUID."""
    with_role_definition(monkeypatch, UNKNOWN)
    assert rbac_condition.main(["--stack", "prod"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(
        "Pulumi.prod.yaml: role assignment `job-x-pull-acr-pull` has roleDefinitionId "
        f"'{UNKNOWN}', not /subscriptions/<sub>/providers/Microsoft.Authorization/roleDefinitions/<role GUID>"
    )


def test_a_registry_host_in_capitals_is_the_registry() -> None:
    """Host names are case-insensitive: the config and the pack accept `ACRSHAREDPROD.azurecr.io`, so does promotion."""
    image, target = promote_queue_image_from("ACRSHAREDPROD.azurecr.io")
    assert target["config"]["aca-jobs:eventJobs"]["job-orders-queue"]["image"] == image
