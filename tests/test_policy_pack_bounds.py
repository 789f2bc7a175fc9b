"""The policy pack is bounded: every call has a deadline, the pack process dies with the preview, and what a user
writes in a policy config is read and validated against the pack's schemas, or refused with a message.

Packs that never answer are copies of `policy/` whose `__main__.py` hangs before serving or adds a policy that
sleeps. Every subprocess has a timeout, so a missing bound fails a test instead of hanging it."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from conftest import PROJECT_DIR
from google.protobuf import empty_pb2
from pulumi.runtime.proto import analyzer_pb2

from tools.policy_runner import (
    PolicyConfigError,
    PolicyPackProcess,
    PolicyPackTimeoutError,
    _validate,
    read_policy_config,
    reconcile_config,
)

SUBPROCESS_TIMEOUT = 30  # seconds; far above what a bounded run needs, so only a missing bound reaches it

HANG_BEFORE_SERVING = """\
import time

time.sleep(3600)  # never prints its port
"""

HANG_IN_STACK_POLICY = """\
import time

from aca_jobs_policies import POLICIES
from pulumi_policy import PolicyPack, StackValidationPolicy


def _hang(args, report):
    time.sleep(3600)


PolicyPack(
    name="aca-jobs-policies",
    policies=[*POLICIES, StackValidationPolicy(name="never-answers", description="Sleeps.", validate=_hang)],
)
"""

HANG_IN_RESOURCE_POLICY = HANG_IN_STACK_POLICY.replace("StackValidationPolicy", "ResourceValidationPolicy")


def pack_copy(tmp_path: Path, main: str | None = None) -> Path:
    """`policy/` copied into tmp_path, with another `__main__.py` if given."""
    pack = tmp_path / "pack"
    shutil.copytree(PROJECT_DIR / "policy", pack, ignore=shutil.ignore_patterns("__pycache__", "venv"))
    if main is not None:
        (pack / "__main__.py").write_text(main)
    return pack.resolve()


def run_preview_main(*args: str, policy_timeout: float) -> subprocess.CompletedProcess[str]:
    """`tools.preview_main(args, policy_timeout=...)` in its own process, bounded by SUBPROCESS_TIMEOUT."""
    code = f"from tools import preview; preview.exit_now(preview.main({list(args)!r}, policy_timeout={policy_timeout}))"
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT,
    )


# --- 1. a deadline on every call ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("main", "call"),
    [
        (HANG_IN_STACK_POLICY, "AnalyzeStack"),
        (HANG_IN_RESOURCE_POLICY, "Analyze for urn:pulumi:dev::aca-jobs::"),
    ],
    ids=["AnalyzeStack", "Analyze"],
)
def test_a_pack_that_never_answers_exits_3_naming_the_pack_and_the_call(tmp_path: Path, main: str, call: str) -> None:
    pack = pack_copy(tmp_path, main)
    started = time.monotonic()
    result = run_preview_main("--stack", "dev", "--policy-pack", str(pack), policy_timeout=0.5)
    elapsed = time.monotonic() - started
    assert result.returncode == 3, result.stderr
    assert f"policy pack {pack} did not answer {call}" in result.stderr
    assert "within 0.5 s, so the stack was not reviewed" in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert elapsed < 10  # the deadline, the program and a start of the interpreter; not a grace period


def test_a_pack_that_never_starts_serving_is_a_timeout_not_a_hang(tmp_path: Path) -> None:
    pack = pack_copy(tmp_path, HANG_BEFORE_SERVING)
    process = PolicyPackProcess(pack, start_timeout=0.5)
    started = time.monotonic()
    try:
        with pytest.raises(PolicyPackTimeoutError, match=re.escape(f"policy pack {pack} did not start within 0.5 s")):
            process.connect()
        assert time.monotonic() - started < 3
        assert process.process.poll() is not None  # killed, not left sleeping
    finally:
        process.close()


def test_calls_on_the_stub_get_the_call_deadline(tmp_path: Path) -> None:
    """Also a call that names no deadline (as tests make them on `connect()`'s stub) cannot wait forever."""
    pack = pack_copy(tmp_path, HANG_IN_STACK_POLICY)
    stack = analyzer_pb2.AnalyzerResource(
        type="pulumi:pulumi:Stack", name="p-s", urn="urn:pulumi:s::p::pulumi:pulumi:Stack::p-s"
    )
    with PolicyPackProcess(pack, call_timeout=0.5) as process:
        stub = process.connect()
        assert stub.GetAnalyzerInfo(empty_pb2.Empty()).name == "aca-jobs-policies"
        raised: list[BaseException] = []

        def call() -> None:
            try:
                stub.AnalyzeStack(analyzer_pb2.AnalyzeStackRequest(resources=[stack]))  # names no deadline
            except BaseException as error:
                raised.append(error)

        caller = threading.Thread(target=call, daemon=True)
        caller.start()
        caller.join(5)  # bounds this test: without a default deadline the call never returns
        assert not caller.is_alive(), "a call without a deadline of its own waited for the pack forever"
        assert isinstance(raised[0], grpc.RpcError) and raised[0].code() == grpc.StatusCode.DEADLINE_EXCEEDED
        expected = re.escape(f"{pack} did not answer AnalyzeStack within 0.5 s")
        with pytest.raises(PolicyPackTimeoutError, match=expected), process.answering("AnalyzeStack"):
            raise raised[0]


# --- 2. the pack dies with the preview ---------------------------------------------------------------------


def _stat(pid: int) -> tuple[str, int] | None:
    """(state, ppid) of a process, or None once it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return fields[0], int(fields[1])


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := _stat(int(entry.name))) is not None and stat[1] == pid:
            found.append(int(entry.name))
    return found


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _wait_for(condition: Any, seconds: float) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.02)
    return condition()


@pytest.fixture
def preview_with_a_running_pack(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """`python -m tools.preview --stack dev` whose pack is running (it never serves), and the pack's pid."""
    pack = pack_copy(tmp_path, HANG_BEFORE_SERVING)
    process = subprocess.Popen(
        [sys.executable, "-m", "tools.preview", "--stack", "dev", "--policy-pack", str(pack)],
        cwd=PROJECT_DIR,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    pack_pid = None
    try:
        packs = _wait_for(
            lambda: [pid for pid in _children(process.pid) if b"pulumi.policy" in _cmdline(pid)],
            SUBPROCESS_TIMEOUT,
        )
        assert packs, "the preview did not start its policy pack"
        pack_pid = packs[0]
        yield process, pack_pid
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(SUBPROCESS_TIMEOUT)
        if pack_pid is not None and (_stat(pack_pid) or ("Z",))[0] != "Z":
            os.kill(pack_pid, signal.SIGKILL)  # an orphan this test made; the assertion has already failed


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG and /proc are Linux's")
@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_killing_the_preview_leaves_no_pack_running(preview_with_a_running_pack, how: signal.Signals) -> None:
    process, pack_pid = preview_with_a_running_pack
    assert _stat(pack_pid) is not None
    process.send_signal(how)
    process.wait(SUBPROCESS_TIMEOUT)
    # Gone, or a zombie waiting for init to reap it: either way no longer running.
    assert _wait_for(lambda: (_stat(pack_pid) or ("gone",))[0] in ("gone", "Z", "X"), 5), (
        f"policy pack {pack_pid} outlived the preview killed with {how.name}: {_stat(pack_pid)}"
    )


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG fires per thread on Linux")
def test_a_pack_started_from_a_thread_that_ends_keeps_running() -> None:
    """PR_SET_PDEATHSIG fires when the thread that forked the child ends: a pack started from a short-lived
    thread must not be killed with it (it is forked by a thread that lives as long as the process)."""
    started: list[PolicyPackProcess] = []
    thread = threading.Thread(target=lambda: started.append(PolicyPackProcess(PROJECT_DIR / "policy")))
    thread.start()
    thread.join(SUBPROCESS_TIMEOUT)
    assert started and not thread.is_alive()
    with started[0] as pack:
        assert pack.call("GetAnalyzerInfo", empty_pb2.Empty()).name == "aca-jobs-policies"
        assert pack.process.poll() is None


# --- 3. a policy config that cannot be read is a usage error -----------------------------------------------


def test_policy_config_naming_a_directory_exits_2(preview_main, tmp_path: Path, capsys) -> None:
    assert preview_main(["--stack", "dev", "--policy-config", str(tmp_path)]) == 2
    captured = capsys.readouterr()
    assert f"{tmp_path}: is a directory, not a policy config file" in captured.err
    assert "Traceback" not in captured.err and captured.out == ""


def test_a_directory_where_the_default_policy_config_is_exits_2(preview_main, tmp_path: Path, capsys) -> None:
    pack = pack_copy(tmp_path)
    (pack / "dev.json").unlink()
    (pack / "dev.json").mkdir()
    assert preview_main(["--stack", "dev", "--policy-pack", str(pack)]) == 2
    assert "dev.json: is a directory" in capsys.readouterr().err


def test_an_unreadable_policy_config_exits_2(preview_main, tmp_path: Path, capsys, monkeypatch) -> None:
    path = tmp_path / "dev.json"
    path.write_text("{}")

    def unreadable(self: Path, *args: Any, **kwargs: Any) -> str:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_text", unreadable)  # root reads a chmod 000 file anyway
    assert preview_main(["--stack", "dev", "--policy-config", str(path)]) == 2
    assert f"{path}: policy config cannot be read: Permission denied" in capsys.readouterr().err


def test_non_json_numbers_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "dev.json"
    path.write_text('{"job-timeout-bounded": {"maxReplicaTimeout": NaN}}')
    with pytest.raises(PolicyConfigError, match=re.escape("dev.json: not valid JSON: NaN is not a JSON value")):
        read_policy_config(path)


# --- 4. settings validated against their schemas -------------------------------------------------------------


@pytest.fixture(scope="module")
def info() -> Any:
    with PolicyPackProcess(PROJECT_DIR / "policy") as pack:
        return pack.call("GetAnalyzerInfo", empty_pb2.Empty())


@pytest.mark.parametrize(
    ("user", "words"),
    [
        (
            {"job-timeout-bounded": {"maxReplicaTimeout": 0}},
            "job-timeout-bounded.maxReplicaTimeout: must be at least 1, got 0",
        ),
        ({"job-retry-bounded": {"maxRetryLimit": -1}}, "job-retry-bounded.maxRetryLimit: must be at least 0, got -1"),
        ({"job-timeout-bounded": {"maxReplicaTimeout": 1.5}}, "maxReplicaTimeout: must be of type integer, got 1.5"),
        ({"job-retry-bounded": {"maxRetryLimit": True}}, "maxRetryLimit: must be of type integer, got true"),
        ({"required-tags": {"requiredTags": [1]}}, "required-tags.requiredTags[0]: must be of type string, got 1"),
        ({"required-tags": {"requiredTags": "owner"}}, 'requiredTags: must be of type array, got "owner"'),
        ({"job-image-pinned": {"requireDigest": 1}}, "job-image-pinned.requireDigest: must be of type boolean, got 1"),
    ],
    ids=[
        "below-minimum",
        "negative",
        "non-integral",
        "boolean-for-integer",
        "tag-not-string",
        "tags-not-list",
        "int-for-bool",
    ],
)
def test_a_setting_outside_its_schema_is_refused(info, user: dict[str, Any], words: str) -> None:
    with pytest.raises(PolicyConfigError) as raised:
        reconcile_config(info, user, "prod.json")
    assert str(raised.value).startswith("prod.json: ")
    assert words in str(raised.value)


def test_settings_within_their_schemas_pass(info) -> None:
    config = reconcile_config(
        info,
        {
            "job-timeout-bounded": {"maxReplicaTimeout": 7200.0},  # JSON has one number type: 7200.0 is an integer
            "job-retry-bounded": {"maxRetryLimit": 0},
            "required-tags": {"requiredTags": []},
        },
    )
    assert config["job-retry-bounded"][1]["maxRetryLimit"] == 0


def test_a_setting_below_its_minimum_exits_2_through_the_preview(preview_main, tmp_path: Path, capsys) -> None:
    path = tmp_path / "bounds.json"
    path.write_text(json.dumps({"job-timeout-bounded": {"maxReplicaTimeout": 0}}))
    assert preview_main(["--stack", "dev", "--policy-config", str(path)]) == 2
    captured = capsys.readouterr()
    assert "bounds.json: job-timeout-bounded.maxReplicaTimeout: must be at least 1, got 0" in captured.err
    assert captured.out == ""


@pytest.mark.parametrize(
    ("schema", "value", "words"),
    [
        ({"enum": [1, 2]}, True, "must be one of [1, 2], got true"),
        ({"type": "string", "minLength": 2}, "a", "must be at least 2 characters long"),
        ({"type": "string", "maxLength": 3}, "abcd", "must be at most 3 characters long"),
        ({"type": "number", "maximum": 10.0}, 10.5, "must be at most 10, got 10.5"),
        ({"type": "number", "exclusiveMinimum": 0.0}, 0, "must be greater than 0"),
        ({"type": "array", "items": {"type": "integer", "minimum": 1.0}}, [1, 0], "where[1]: must be at least 1"),
        ({"type": ["string", "null"]}, 3, "must be of type string or null"),
    ],
)
def test_the_validator_keywords(schema: dict[str, Any], value: Any, words: str) -> None:
    with pytest.raises(PolicyConfigError) as raised:
        _validate(schema, value, "where")
    assert words in str(raised.value)


def test_a_schema_keyword_the_tool_cannot_check_is_not_passed_unchecked() -> None:
    with pytest.raises(RuntimeError, match=r"uses \['multipleOf'\], which this tool cannot validate"):
        _validate({"type": "integer", "multipleOf": 5.0}, 7, "p.setting")
    _validate({"type": "integer", "description": "annotations are fine", "default": 1.0}, 7, "p.setting")
