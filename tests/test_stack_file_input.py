"""Nothing a user writes is silently dropped, crashes the preview, or hangs it: each case exits 2 with a message
naming the stack file and the key, prints nothing on stdout, registers nothing, and shows no traceback."""

from __future__ import annotations

import copy
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import EVENT_SEED_CONFIG, PROJECT_DIR, assert_rule_broken, find

from components.stack_config import StackConfigError, load_stack_config
from tools import preview
from tools.offline import run_program

EVENT_JOB = "aca-jobs:eventJobs.job-orders-queue"


def dev_text() -> str:
    return (PROJECT_DIR / "Pulumi.dev.yaml").read_text()


def preview_file(tmp_path: Path, text: str | bytes, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    path = tmp_path / "Pulumi.dev.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    code = preview.main(["--stack", "dev", "--config-file", str(path)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_refused(result: tuple[int, str, str], *words: str) -> None:
    code, out, err = result
    assert (code, out) == (2, ""), err
    assert err.startswith("Pulumi.dev.yaml: ") and "Traceback" not in err
    for word in words:
        assert word in err, err


# --- silent drops ---------------------------------------------------------------------------------------------


def test_a_misspelt_namespace_is_refused_with_did_you_mean(tmp_path, capsys) -> None:
    text = dev_text().replace("aca-jobs:eventJobs:", "aca-job:eventJobs:")
    assert_refused(preview_file(tmp_path, text, capsys), "aca-job:eventJobs", "did you mean `aca-jobs:eventJobs`")


def test_a_second_event_jobs_block_is_refused(tmp_path, capsys) -> None:
    text = dev_text() + "  aca-jobs:eventJobs:\n    job-other:\n      image: acrsharedprod.azurecr.io/x:v1\n"
    assert_refused(preview_file(tmp_path, text, capsys), "`aca-jobs:eventJobs` is written twice")


def test_a_bare_key_beside_the_namespaced_one_is_refused(tmp_path, capsys) -> None:
    text = dev_text() + "  eventJobs:\n    job-other:\n      image: acrsharedprod.azurecr.io/x:v1\n"
    assert_refused(preview_file(tmp_path, text, capsys), "eventJobs: sets `aca-jobs:eventJobs`")


def test_the_same_job_twice_is_refused(tmp_path, capsys) -> None:
    text = dev_text() + "    job-orders-queue:\n      image: acrsharedprod.azurecr.io/x:v1\n"
    assert_refused(preview_file(tmp_path, text, capsys), "`job-orders-queue` is written twice")


def test_other_providers_keys_pass_untouched_encrypted_or_not(tmp_path, capsys) -> None:
    text = dev_text().replace(
        "config:\n",
        "config:\n  azure-native:subscriptionId: 33333333-3333-3333-3333-333333333333\n"
        "  azure-native:clientSecret:\n    secure: AAABAHhlbmNyeXB0ZWQ=\n",
        1,
    )
    code, _, err = preview_file(tmp_path, text, capsys)
    assert (code, err) == (0, "")


# --- values YAML turns into something else ----------------------------------------------------------------------

HOSTILE = [
    ("nan", dev_text().replace("cpu: 0.5", "cpu: .nan"), "config.aca-jobs:manualJobs.job-orders-backfill.cpu"),
    ("beyond-float", dev_text().replace("coreQuota: 20", "coreQuota: 1" + "0" * 400), "coreQuota"),
    ("5000-digits", dev_text().replace("coreQuota: 20", "coreQuota: " + "9" * 5000), "not a usable number"),
    ("integer-key", dev_text().replace("    tags:\n", "    tags:\n      1: one\n"), "the key `1`"),
    ("null-key", dev_text().replace("    tags:\n", "    tags:\n      null: x\n"), "the key `null`"),
    ("yes-key", dev_text().replace("    tags:\n", "    tags:\n      yes: x\n"), "the key `yes`"),
    ("date", dev_text().replace("    tags:\n", "    tags:\n      created: 2024-05-01\n"), "tags.created"),
    ("deep", dev_text() + "  aca-jobs:deep: " + "[" * 100 + "]" * 100 + "\n", "nested"),
]


@pytest.mark.parametrize(("text", "words"), [c[1:] for c in HOSTILE], ids=[c[0] for c in HOSTILE])
def test_values_no_setting_can_hold_are_refused(tmp_path, capsys, text: str, words: str) -> None:
    assert_refused(preview_file(tmp_path, text, capsys), words)


def test_a_file_that_is_not_utf8_is_refused(tmp_path, capsys) -> None:
    assert_refused(preview_file(tmp_path, dev_text().encode().replace(b"owner", b"own\xe9r"), capsys), "UTF-8")


def test_an_alias_bomb_is_refused_in_well_under_a_second(tmp_path, capsys) -> None:
    rows = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    rows += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    assert len("\n".join(rows).encode()) < 1024  # a 1 KB bomb: 10^9 elements once expanded
    bomb = "\n".join(rows) + "\n" + dev_text().replace("      owner: platform-team", "      owner: *a8", 1)
    started = time.perf_counter()
    assert_refused(preview_file(tmp_path, bomb, capsys), "aliases")
    assert time.perf_counter() - started < 1.0


def test_the_process_refuses_a_hostile_file_with_exit_2_and_no_traceback(tmp_path: Path) -> None:
    path = tmp_path / "Pulumi.dev.yaml"
    path.write_text(dev_text() + "  aca-jobs:eventJobs:\n    job-x:\n      image: y\n")
    result = subprocess.run(
        [sys.executable, "-m", "tools.preview", "--stack", "dev", "--config-file", str(path)],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (result.returncode, result.stdout) == (2, "")
    assert "written twice" in result.stderr and "Traceback" not in result.stderr


# --- images, case, coupling, limits -----------------------------------------------------------------------------


def event_config() -> dict[str, Any]:
    return copy.deepcopy(EVENT_SEED_CONFIG)


@pytest.mark.parametrize(
    "image",
    [
        "otheracr.azurecr.io/jobs/orders:v1",
        "docker.io/library/busybox:1.36",
        "acrsharedprod.azurecr.io:443/jobs/orders:v1",
    ],
)
def test_images_come_only_from_the_configured_registry(image: str) -> None:
    config = event_config()
    config["aca-jobs:manualJobs"]["job-orders-backfill"]["image"] = image
    assert_rule_broken(config, "aca-jobs:manualJobs.job-orders-backfill.image", "reviewed registry")


def test_queue_names_differing_only_in_case_are_one_queue() -> None:
    config = event_config()
    config["aca-jobs:eventJobs"]["job-invoices"] = {
        **config["aca-jobs:eventJobs"]["job-orders-queue"],
        "queue": "Orders",
    }
    assert_rule_broken(config, "aca-jobs:eventJobs.job-orders-queue.queue", "already consumed")


def test_changing_only_a_queues_case_changes_nothing() -> None:
    lower = run_program(event_config(), "test", stack_file="Pulumi.test.yaml")
    config = event_config()
    config["aca-jobs:eventJobs"]["job-orders-queue"]["queue"] = "ORDERS"
    upper = run_program(config, "test", stack_file="Pulumi.test.yaml")
    queue = "azure-native:servicebus:Queue"
    assert (find(upper, queue).urn, find(upper, queue).inputs) == (find(lower, queue).urn, find(lower, queue).inputs)


def test_a_basic_namespace_keeps_messages_at_most_14_days() -> None:
    config = event_config()
    config["aca-jobs:platform"]["serviceBus"]["sku"] = "Basic"
    config["aca-jobs:eventJobs"]["job-orders-queue"]["messageTimeToLive"] = "P14D"
    load_stack_config(config, stack_file="Pulumi.test.yaml")
    config["aca-jobs:eventJobs"]["job-orders-queue"]["messageTimeToLive"] = "P15D"
    assert_rule_broken(config, f"{EVENT_JOB}.messageTimeToLive", "Basic namespace")


@pytest.mark.parametrize("tag", ["aca-jobs-idempotent", "aca-jobs-partial-completion"])
def test_platform_tags_cannot_set_the_job_markers(tag: str) -> None:
    config = event_config()
    config["aca-jobs:platform"]["tags"][tag] = "true"
    assert_rule_broken(config, f"aca-jobs:platform.tags.{tag}", "marker")


def test_tag_values_longer_than_azure_accepts_are_refused() -> None:
    config = event_config()
    config["aca-jobs:platform"]["tags"]["note"] = "x" * 257
    assert_rule_broken(config, "aca-jobs:platform.tags.note", "longer than Azure accepts")
    config["aca-jobs:platform"]["tags"]["note"] = "x" * 256
    load_stack_config(config, stack_file="Pulumi.test.yaml")


def test_an_encrypted_env_value_is_told_where_secrets_go() -> None:
    config = event_config()
    config["aca-jobs:manualJobs"]["job-orders-backfill"]["env"] = {"DB_PASSWORD": {"secure": "AAAB"}}
    with pytest.raises(StackConfigError) as raised:
        load_stack_config(config, stack_file="Pulumi.test.yaml")
    message = str(raised.value)
    assert "env.DB_PASSWORD: is an encrypted value" in message
    assert "write a string value" not in message and "Key Vault" in message and "secretRef" in message


def test_the_program_reads_its_own_stack_file_strictly(tmp_path: Path, monkeypatch) -> None:
    """Under the real CLI, config arrives after YAML dropped a duplicate; the program reads the file itself."""
    (tmp_path / "Pulumi.dev.yaml").write_text(dev_text() + "    job-orders-queue:\n      image: x\n")
    monkeypatch.chdir(tmp_path)
    config = yaml.safe_load(dev_text())["config"]
    with pytest.raises(StackConfigError, match="written twice"):
        run_program(config, "dev")
