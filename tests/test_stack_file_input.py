"""Nothing a user writes is silently dropped, crashes the preview, or hangs it: each case exits 2 with a message
naming the stack file and the key, prints nothing on stdout, registers nothing, and shows no traceback."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import EVENT_SEED_CONFIG, PROJECT_DIR, assert_rule_broken, find

from components import stack_file
from components.config import consumption_pairs
from components.event_sources.service_bus import ServiceBusJobConfig
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


def test_an_alias_bomb_is_refused_before_anything_is_built(tmp_path, capsys, monkeypatch) -> None:
    rows = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    rows += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    assert len("\n".join(rows).encode()) < 1024  # a 1 KB bomb: 10^9 elements once expanded
    bomb = "\n".join(rows) + "\n" + dev_text().replace("      owner: platform-team", "      owner: *a8", 1)
    assert_refused(preview_file(tmp_path, bomb, capsys), "line 5", "more than 50,000 values", "`*a3` repeats")
    assert_refused_before_building(bomb, monkeypatch)


def assert_refused_before_building(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The loader refuses `text` from the parser's events, before it composes (let alone expands) anything."""

    def never_composed(self: object) -> None:
        raise AssertionError("the loader built the document before refusing it")

    monkeypatch.setattr(stack_file._Loader, "get_single_node", never_composed)
    with pytest.raises(stack_file.StackFileError):
        stack_file.parse_stack_yaml(text, "Pulumi.dev.yaml")


# A 1 MB string repeated 10^4 times through aliases: 10 GB of text once anything walks it (JSON encoding does).
STRING_BOMB = (
    "config:\n  aca-jobs:platform:\n    tags:\n"
    f"      a: &a {'x' * 1_000_000}\n"
    "      b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
    "      c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
    "      d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
    "      e: [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
)


def test_aliases_repeating_a_large_string_are_refused_before_anything_is_built(tmp_path, capsys, monkeypatch) -> None:
    """The budget counts text, not only values: 40 values here, but 10 GB."""
    assert_refused(preview_file(tmp_path, STRING_BOMB, capsys), "line 5", "more than 4 MiB of text", "`*a` repeats")
    assert_refused_before_building(STRING_BOMB, monkeypatch)


# Previews each file named on its command line in one child process limited to 1 GiB of address space (so that a
# regression fails with MemoryError instead of taking the machine's memory); prints the exit codes and the peak
# memory (KiB on Linux) as JSON on stdout, where a refused preview prints nothing.
LIMITED_PREVIEWS = """
import json, resource, sys
resource.setrlimit(resource.RLIMIT_AS, (2**30, 2**30))
from tools import preview
codes = [preview.main(["--stack", "dev", "--config-file", path]) for path in sys.argv[1:]]
print(json.dumps({"codes": codes, "peak_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""


def test_hostile_files_are_refused_with_exit_2_in_bounded_memory(tmp_path: Path) -> None:
    bomb, huge, deep = (tmp_path / name / "Pulumi.dev.yaml" for name in ("bomb", "huge", "deep"))
    for path in (bomb, huge, deep):
        path.parent.mkdir()
    bomb.write_text(STRING_BOMB)
    with huge.open("wb") as file:
        file.truncate(3 * 2**30)  # sparse: 3 GiB that take no disk, but would take memory if read whole
    # 90 KB nested 45,000 levels deep (within the values budget): libyaml's composer recurses in C and crashes
    # the process on it (SIGSEGV).
    deep.write_text("config:\n  aca-jobs:x: " + "[" * 45_000 + "]" * 45_000 + "\n")
    result = subprocess.run(
        [sys.executable, "-c", LIMITED_PREVIEWS, str(bomb), str(huge), str(deep)],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr[-3000:]
    measured = json.loads(result.stdout)
    assert measured["codes"] == [2, 2, 2]
    assert measured["peak_kib"] < 500 * 1024
    bomb_message, huge_message, deep_message = result.stderr.splitlines()
    assert deep_message == "Pulumi.dev.yaml: line 2, column 46: nested more than 32 levels deep. Fix: flatten it."
    assert bomb_message.startswith("Pulumi.dev.yaml: line 5, column ") and "more than 4 MiB of text" in bomb_message
    assert huge_message.startswith("Pulumi.dev.yaml: the file is larger than the 1 MiB limit of a stack file")
    assert "Fix: " in bomb_message and "Fix: " in huge_message


def test_a_file_at_the_size_limit_is_read(tmp_path, capsys) -> None:
    text = dev_text() + "#" * (stack_file.MAX_BYTES - len(dev_text().encode()) - 1) + "\n"
    assert len(text.encode()) == stack_file.MAX_BYTES
    (tmp_path / "Pulumi.dev.yaml").write_text(text)
    assert stack_file.load_stack_yaml(tmp_path / "Pulumi.dev.yaml") == yaml.safe_load(dev_text())
    assert_refused(preview_file(tmp_path, text + "\n", capsys), "larger than the 1 MiB limit")


def test_the_fast_parser_is_the_one_in_use() -> None:
    """The time bounds above are libyaml's (PyYAML's wheels ship it); the pure-Python parser is a fallback."""
    assert stack_file._PARSER_BASE is yaml.CSafeLoader


# (case, text replaced in Pulumi.dev.yaml, its replacement, text of the line the message must point at, words)
SYNTAX_ERRORS = [
    ("tab-indent", "      parallelism: 2\n", "\tparallelism: 2\n", "parallelism: 2", "a tab in the indentation"),
    (
        "colon-in-value",
        "      owner: platform-team",
        "      owner: platform team: orders",
        "owner: platform team",
        'quote the value: `owner: "platform team: orders"`',
    ),
    (
        "dash-without-space",
        "      args: [--since, 24h]",
        "      args:\n        - --since\n        -24h",
        "-24h",
        "`- 24h`",
    ),
    (
        "colon-without-space",
        "      cpu: 0.5\n      memory: 1Gi",
        "      cpu:0.5\n      memory: 1Gi",
        "cpu:0.5",
        "`cpu: 0.5`",
    ),
    ("quote-not-closed", 'Expression: "0 11 * * *"', 'Expression: "0 11 * * *', "cronExpression", "never closed"),
    ("bracket-not-closed", "export]", "export", "command: [python", "the `[` opened here is not closed"),
    ("bracket-not-opened", "--since, 24h]", "--since, 24h]]", "args: [", "`]` closes a bracket that was never opened"),
    (
        "indent-between-keys",
        "      replicaCompletionCount",
        "     replicaCompletionCount",
        "CompletionCount",
        "indented 5",
    ),
    (
        "indent-under-a-value",
        "      replicaCompletionCount",
        "        replicaCompletionCount",
        "CompletionCount",
        "deeper",
    ),
    ("list-item-among-keys", "      idempotent: true\n", "      idempotent: true\n      - x\n", "- x", "a list item"),
    ("reserved-first-character", "owner: platform-team", "owner: @platform", "owner: @", '`"@platform"`'),
    (
        "text-after-quote",
        'Expression: "0 11 * * *"',
        'Expression: "0 11 * * *" KST',
        "cronExpression",
        "after the closing",
    ),
    ("alias-sign-as-text", "owner: platform-team", "owner: * team", "owner: *", "begins an alias (`*name`)"),
    ("block-sign-as-text", "owner: platform-team", "owner: |team", "owner: |", "quote the value if `|` is part"),
    ("undefined-alias", "owner: platform-team", "owner: *team", "owner: *", "`*team` refers to no `&team` above it"),
    ("tag", "owner: platform-team", "owner: !team", "owner: !", "`!team` is a YAML tag"),
]


@pytest.mark.parametrize("parser", [yaml.CSafeLoader, yaml.SafeLoader], ids=["libyaml", "pure-python"])
@pytest.mark.parametrize(
    ("old", "new", "marker", "words"), [c[1:] for c in SYNTAX_ERRORS], ids=[c[0] for c in SYNTAX_ERRORS]
)
def test_a_yaml_syntax_error_names_line_column_and_likely_cause(
    tmp_path, capsys, monkeypatch, parser: type[yaml.SafeLoader], old: str, new: str, marker: str, words: str
) -> None:
    monkeypatch.setattr(stack_file, "_PARSER_BASE", parser)  # syntax errors surface in the first (event) pass
    assert old in dev_text()
    text = dev_text().replace(old, new, 1)
    line = next(number for number, row in enumerate(text.splitlines(), 1) if marker in row)
    code, out, err = preview_file(tmp_path, text, capsys)
    assert_refused((code, out, err), f"Pulumi.dev.yaml: line {line}, column ", words, ". Fix: ")
    assert "while parsing" not in err and "while scanning" not in err  # the parser's words are not the message


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


# --- every problem in one run ------------------------------------------------------------------------------------

# A newcomer's first stack file: alerts at the wrong level, and three problems in each of two jobs.
NEWCOMER_EDITS = [
    ("    protect: false\n", "    protect: false\n  aca-jobs:alerts:\n    emails: [oncall@example.com]\n"),
    ("      cpu: 0.5\n      memory: 1Gi\n", '      cpu: "0.5"\n      memory: 2\n      cronExpression: "0 2 * * *"\n'),
    ("      idempotent: true\n", '      idempotent: "true"\n      imagePullPolicy: Always\n      cpu: 0.3\n'),
]


def newcomer_text() -> str:
    text = dev_text()
    for old, new in NEWCOMER_EDITS:
        assert text.count(old) == 1
        text = text.replace(old, new)
    return text


def test_every_problem_of_the_stack_file_is_reported_in_one_run(tmp_path, capsys) -> None:
    code, out, err = preview_file(tmp_path, newcomer_text(), capsys)
    assert (code, out) == (2, "") and "Traceback" not in err
    backfill, queue = "aca-jobs:manualJobs.job-orders-backfill", EVENT_JOB
    assert err.splitlines() == [
        "Pulumi.dev.yaml: 8 config problems (nothing was created):",
        "  aca-jobs:alerts:",
        "    - Pulumi.dev.yaml: aca-jobs:alerts: unknown key. Fix: `alerts` belongs under `aca-jobs:platform`: move "
        "it there (`aca-jobs:platform.alerts`).",
        f"  {backfill} (4 problems):",
        f'    - Pulumi.dev.yaml: {backfill}.cpu: must be a number, got "0.5". Fix: write the number without quotes: '
        "`cpu: 0.5`.",
        f"    - Pulumi.dev.yaml: {backfill}.cronExpression: unknown key. Fix: `cronExpression` is a key of the jobs "
        "under `aca-jobs:scheduledJobs`: if `job-orders-backfill` is meant to be such a job, move it from "
        "`aca-jobs:manualJobs` to `aca-jobs:scheduledJobs`; otherwise remove `cronExpression`.",
        f"    - Pulumi.dev.yaml: {backfill}.memory: must be a size in Gi, like `1Gi`, got 2. Fix: write the size with "
        "its unit, `memory: 2Gi` (no quotes needed).",
        # What the fix above would break next, found in the same run (the job is checked with the fixes applied).
        f"    - Pulumi.dev.yaml: {backfill}.memory: cpu 0.5 with memory 2Gi is not a valid Consumption pair. Fix: set "
        f"memory to `1Gi` (always 1 vCPU : 2Gi; pairs: {consumption_pairs()}).",
        f"  {queue} (3 problems):",
        f"    - Pulumi.dev.yaml: {queue}.cpu: cpu 0.3 is not a size of the Consumption profile. Fix: use a multiple "
        f"of 0.25 from 0.25 to 4.0 with memory twice as many Gi ({consumption_pairs()}), or run the job on a "
        "dedicated profile (`workloadProfile`).",
        f'    - Pulumi.dev.yaml: {queue}.idempotent: must be true or false, got "true". Fix: write `idempotent: '
        "true` without quotes.",
        f"    - Pulumi.dev.yaml: {queue}.imagePullPolicy: unknown key. Fix: remove it; allowed keys here: "
        + ", ".join(f"`{key}`" for key in sorted(field.alias for field in ServiceBusJobConfig.model_fields.values()))
        + ".",
    ]


def test_the_program_registers_nothing_and_names_every_problem() -> None:
    """Under the CLI the program validates before it registers anything: every problem, nothing created."""
    config = yaml.safe_load(newcomer_text())["config"]
    registered: list[Any] = []
    with pytest.raises(StackConfigError) as raised:
        run_program(config, "dev", stack_file="Pulumi.dev.yaml", on_register=registered.append)
    assert registered == []
    assert str(raised.value).startswith("Pulumi.dev.yaml: 8 config problems (nothing was created):\n")
