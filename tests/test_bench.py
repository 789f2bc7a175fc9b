"""The benchmark measures what it claims: its baseline registers the resources the real program registers for the
generated stack, and a broken run prints no numbers. (That the whole bench runs, and that the generated stack passes
the policy review, is `make bench-smoke`, run by CI.)"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from bench import run as bench_run
from components.scale import budget_warnings
from components.stack_config import load_stack_config
from tools.offline import DEPLOYED, ProgramRun, run_program
from tools.policy_runner import PolicyViolation


@pytest.fixture(scope="module")
def programs() -> tuple[ProgramRun, ProgramRun]:
    """The real program and the baseline on the smallest generated stack (one job of each kind). As a deployed
    stack, so that every id and name is known and the two can be compared value for value."""
    config = bench_run.generated_config(bench_run.MIN_JOBS)
    ours = run_program(config, "bench", mode=DEPLOYED)
    baseline = run_program(
        config, "bench", mode=DEPLOYED, program=bench_run.PROJECT_DIR / "bench" / "baseline_program.py"
    )
    return ours, baseline


def _scale_rule_types(run: ProgramRun) -> Counter[str]:
    return Counter(
        rule["type"]
        for job in run.by_type("azure-native:app:Job")
        for rule in job.inputs["configuration"].get("eventTriggerConfig", {}).get("scale", {}).get("rules", [])
    )


def _roles_at(run: ProgramRun, scope: str) -> Counter[str]:
    return Counter(
        r.inputs["description"].split(" for ")[0]
        for r in run.by_type("azure-native:authorization:RoleAssignment")
        if r.inputs["scope"] == scope
    )


def test_generated_stack_has_every_kind_source_alerts_secrets_and_grants(
    programs: tuple[ProgramRun, ProgramRun],
) -> None:
    ours, _ = programs
    triggers = Counter(r.inputs["configuration"]["triggerType"] for r in ours.by_type("azure-native:app:Job"))
    assert triggers == {"Manual": 1, "Schedule": 1, "Event": 3}
    assert _scale_rule_types(ours) == {"azure-servicebus": 1, "azure-queue": 1, "azure-eventhub": 1}
    # What each source creates: the Service Bus queue; the storage queue and its poison queue; the consumer group and
    # the checkpoint container.
    assert len(ours.by_type("azure-native:servicebus:Queue")) == 1
    assert len(ours.by_type("azure-native:storage:Queue")) == 2
    assert len(ours.by_type("azure-native:eventhub:ConsumerGroup")) == 1
    assert len(ours.by_type("azure-native:storage:BlobContainer")) == 1
    assert len(ours.by_type("azure-native:monitor:ActionGroup")) == 1
    assert len(ours.by_type("azure-native:monitor:ScheduledQueryRule")) == 5  # failed executions, every job
    # Service Bus dead letters and stuck backlog, the storage account's backlog, the hub's unread events.
    assert len(ours.by_type("azure-native:monitor:MetricAlert")) == 4
    roles = Counter(
        r.inputs["description"].split(" for ")[0] for r in ours.by_type("azure-native:authorization:RoleAssignment")
    )
    assert roles["Key Vault Secrets User"] == 4  # the scheduled and the three event jobs' secret
    assert sum(_roles_at(ours, bench_run.EXPORTS_CONTAINER_ID).values()) == 5  # every job's azureAccess


@pytest.mark.parametrize("jobs", bench_run.SIZES)
def test_every_size_passes_config_with_no_warning(jobs: int) -> None:
    """What the program warns about from config alone, before it registers anything (`__main__.py`), at every size
    `make bench` measures: e.g. the role-assignment budget, which only the largest size passes. (The registration's
    own warnings and the review are `make bench-smoke`'s, at the smallest size.)"""
    config = load_stack_config(bench_run.generated_config(jobs), stack_file="Pulumi.bench.yaml")
    assert [*config.warnings(), *budget_warnings(config)] == []


def test_baseline_registers_what_the_program_registers(programs: tuple[ProgramRun, ProgramRun]) -> None:
    ours, baseline = programs
    assert bench_run.resource_types(baseline) == bench_run.resource_types(ours)

    def by_name(run: ProgramRun) -> dict[tuple[str, str | None], dict[str, Any]]:
        # Role assignments' names are GUIDs of scope, principal and role: equal names are equal grants.
        return {(r.type, r.physical_name): r.plain_inputs for r in run.resources if r.custom}

    assert sorted(by_name(baseline)) == sorted(by_name(ours))
    different = [key for key, inputs in by_name(ours).items() if by_name(baseline)[key] != inputs]
    assert not different, f"the baseline registers these with other inputs: {different}"


def _result(resources: dict[str, int]) -> dict[str, Any]:
    return {"seconds": 1.0, "policy_seconds": 0.0, "peak_mb": 100.0, "pack_mb": 0.0, "resources": resources}


def test_a_failed_child_prints_no_numbers(capsys: pytest.CaptureFixture[str]) -> None:
    def runner(variant: str, jobs: int) -> dict[str, Any]:
        if variant == "ours":
            raise bench_run.BenchError("ours at 10 jobs failed (exit 1):\njob-failure-alerted")
        return _result({"azure-native:app:Job": 10})

    assert bench_run.bench([10], 1, runner) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert "bench failed, no numbers: ours at 10 jobs failed" in err


def test_a_baseline_that_registers_other_resources_fails_the_bench(capsys: pytest.CaptureFixture[str]) -> None:
    def runner(variant: str, jobs: int) -> dict[str, Any]:
        alerts = 0 if variant == "baseline" else 10
        return _result({"azure-native:app:Job": 10, "azure-native:monitor:ScheduledQueryRule": alerts})

    assert bench_run.bench([10], 1, runner) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert "azure-native:monitor:ScheduledQueryRule: baseline 0, ours 10" in err


def test_a_policy_violation_or_a_warning_of_the_generated_stack_is_a_failure() -> None:
    violation = PolicyViolation("job-failure-alerted", "mandatory", "urn:pulumi:bench::aca-jobs::x::job", "no alert")
    with pytest.raises(bench_run.BenchError, match=r"(?s)fails the policy review.*job-failure-alerted"):
        bench_run.check_clean([violation], [])
    with pytest.raises(bench_run.BenchError, match="placeholder"):
        bench_run.check_clean([], ["these ids still hold a placeholder"])
    bench_run.check_clean([], [])


def test_a_size_without_every_kind_is_refused() -> None:
    with pytest.raises(SystemExit) as exit_:
        bench_run.parse_args(["--sizes", "2"])
    assert exit_.value.code == 2
    with pytest.raises(SystemExit):
        bench_run.parse_args(["--sizes"])  # an empty list measured nothing and exited 0


def test_the_team_stack_is_valid_and_previews_clean() -> None:
    """The team stack the bench measures against the single stack: its config passes, the program warns about
    nothing, and it reads the platform stack, creating no platform piece and every shape's resources. (Reviewed with
    policy/prod.json by `make bench-smoke`, as the single stack is.)"""
    platform = bench_run.preview_platform_stack()
    team = bench_run.preview_team_stack(bench_run.MIN_JOBS, platform.outputs)
    assert platform.warnings == [] and team.warnings == []
    [reference] = team.by_type("pulumi:pulumi:StackReference")
    assert reference.inputs["name"] == bench_run.PLATFORM_STACK
    types = bench_run.resource_types(team)
    assert "azure-native:app:ManagedEnvironment" not in types and "azure-native:servicebus:Namespace" not in types
    [group] = team.by_type("azure-native:resources:ResourceGroup")
    assert group.inputs["resourceGroupName"] == "rg-team-bench"
    assert _scale_rule_types(team) == {"azure-servicebus": 1, "azure-queue": 1, "azure-eventhub": 1}


def test_the_team_ratio_is_the_median_of_per_pair_ratios() -> None:
    calls: list[tuple[str, int]] = []
    single, team = iter([10.0, 20.0, 30.0]), iter([1.0, 4.0, 3.0])

    def runner(variant: str, jobs: int) -> dict[str, Any]:
        calls.append((variant, jobs))
        seconds = next(team) if variant == "team" else next(single)
        return {**_result({"azure-native:app:Job": jobs}), "seconds": seconds, "platform_seconds": 0.5}

    summary = bench_run.team_measured(300, 15, 3, runner)
    assert calls == [("ours", 300), ("team", 15)] * 3  # alternating, single first
    # Pair ratios 0.1, 0.2, 0.1: their median, not the ratio of the medians (3 / 20).
    assert summary["ratio"] == pytest.approx(0.1)
    assert (summary["single_seconds"], summary["team_seconds"]) == (20.0, 3.0)


def test_the_team_table_follows_the_main_one_naming_both_sizes(capsys: pytest.CaptureFixture[str]) -> None:
    calls: list[tuple[str, int]] = []

    def runner(variant: str, jobs: int) -> dict[str, Any]:
        calls.append((variant, jobs))
        seconds = 0.5 if variant == "team" else 2.0
        return {**_result({"azure-native:app:Job": jobs}), "seconds": seconds, "platform_seconds": 0.1}

    assert bench_run.bench([10, 20], 1, runner, team_pairs=2) == 0
    out = capsys.readouterr().out
    main, team = out.split("\n\n")
    assert "   20        20" in main
    assert "the team stack of 15 jobs against the single stack of 20 jobs, 2 pairs" in team
    assert calls[-4:] == [("ours", 20), ("team", 15)] * 2  # against the largest size, after the main rounds
    [row] = team.splitlines()[2:3]
    assert row.split()[:4] == ["15", "15", "0.50", "0.10"] and row.split()[7] == "0.25"


def test_a_failed_team_child_prints_no_numbers(capsys: pytest.CaptureFixture[str]) -> None:
    def runner(variant: str, jobs: int) -> dict[str, Any]:
        if variant == "team":
            raise bench_run.BenchError("team at 15 jobs failed (exit 1):\nthe program warns")
        return _result({"azure-native:app:Job": jobs})

    assert bench_run.bench([10], 1, runner) == 1
    out, err = capsys.readouterr()
    assert out == ""  # not even the main table
    assert "bench failed, no numbers: team at 15 jobs failed" in err


def test_team_pairs_zero_skips_the_team_stack(capsys: pytest.CaptureFixture[str]) -> None:
    variants: set[str] = set()

    def runner(variant: str, jobs: int) -> dict[str, Any]:
        variants.add(variant)
        return _result({"azure-native:app:Job": jobs})

    assert bench_run.bench([10], 1, runner, team_pairs=0) == 0
    assert "team" not in variants and "team stack" not in capsys.readouterr().out
    with pytest.raises(SystemExit):
        bench_run.parse_args(["--team-pairs", "-1"])


def _summary(ratio: float, mem_ratio: float) -> dict[str, dict[str, float]]:
    return {"ours": {"ratio": ratio, "mem_ratio": mem_ratio}}


def test_the_aims_are_checked_at_every_size_and_for_growth_from_100_to_300_jobs() -> None:
    met = bench_run.aims({10: _summary(1.2, 1.1), 100: _summary(1.2, 1.2), 300: _summary(1.24, 1.25)})
    assert [ok for _, ok in met] == [True, True, True]
    # One size over the time aim, one over the memory aim, and a ratio that grows by more than 0.05.
    missed = bench_run.aims({10: _summary(1.35, 1.1), 100: _summary(1.1, 1.31), 300: _summary(1.2, 1.2)})
    assert [ok for _, ok in missed] == [False, False, False]
    assert "ratio at 300 jobs <= ratio at 100 jobs + 0.05 (it is +0.10)" in missed[2][0]
    # The growth aim needs both sizes: a smoke run at 10 jobs checks only the other two.
    assert len(bench_run.aims({10: _summary(1.2, 1.1)})) == 2
