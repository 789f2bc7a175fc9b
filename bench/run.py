"""`make bench`: offline preview cost of generated stacks against a baseline, measured in the same run.

The generated stack (`generated_config`) is shaped like the committed `Pulumi.prod.yaml`: alerts on (an action group
mailing the on-call address), the stack's Key Vault, protected stateful resources, digest-pinned images, and the
jobs split evenly over five shapes (`SHAPES`), every job kind and every event source: manual jobs with an
`azureAccess` grant; scheduled jobs with a command, a Key Vault secret and an `azureAccess` grant; and event jobs on
a Service Bus queue (`queue`), on a storage queue (`storageQueue`, its own queue in a shared account) and on an event
hub (`eventHub`, its own hub, consumer group and checkpoint container), each with a Key Vault secret and an
`azureAccess` grant. It is reviewed with the strictest committed policy config (`policy/prod.json`: every policy
mandatory).

What is measured, for 10, 100 and 300 jobs:
- baseline: `bench/baseline_program.py` registers the same Azure resources directly with pulumi-azure-native under
  the same mock runtime (no components, no config models, no policies);
- ours: the real `__main__.py` (config models, components) and the policy pack review over gRPC, as
  `python -m tools.preview` does;
- ours without policies: the same minus the review, to show the policy analysis's share.
And what a team's pull-request preview costs against the single stack's: the team stack (`team_config`, 15 jobs of
the same mix on a platform stack, in its own resource group, protected, tagged) previewed as `python -m tools.preview`
previews a team stack whose platform stack file is beside it: the platform stack (`platform_stack_config`: the same
platform, no jobs) first, as deployed, for the outputs its StackReference reads, then the team stack, reviewed.
Every variant runs the program through `tools.offline.run_program` in its default mode, `new-stack` (the first
preview of a new stack: azure-native's preview outputs, ids unknown), the mode `make preview` uses.

How: each measurement is one fresh process (`python -m bench.run --measure VARIANT --jobs N`, which prints one
JSON line), so imports, the mock runtime and the policy pack start from cold every time. Per size the variants
alternate run by run, in rounds: baseline, ours, ours without policies, baseline, ours, ... (`--pairs` rounds,
default 5). Each round yields a pair ratio, ours seconds / baseline seconds of that same round (likewise for
ours without policies and for peak memory); the reported ratio is the MEDIAN of the per-round ratios. Slow
phases of a shared, noisy machine then hit both sides of a pair alike and cancel out, and a single disturbed
round cannot move the median. Then, alike, the team stack against the single stack of the largest size measured
(300 by default): `--team-pairs` pairs (default: `--pairs`; 0 skips it) of ours (the single stack), team, ours,
team, ...; the reported ratio is the median of the per-pair ratios team seconds / single seconds. Each child has a
timeout (`CHILD_TIMEOUT_SECONDS`), so a hung child fails the bench instead of hanging it.

A broken run prints no numbers: the bench stops with exit 1 and the reason on stderr when a child fails or times
out, when the review reports a violation or the program a warning for a generated stack (the team's and its
platform stack's included), or when the baseline did not register the same Azure resource types, with the same
counts, as ours (checked in every round). The tables are printed only once everything has been measured.

Printed per size: the median wall seconds of each variant, the median pair ratio, the policy share (median over
the `ours` runs of the time the review adds after the program has finished, over that run's wall time), median
peak memory of the preview process and its median pair ratio against the baseline's (the same harness in both: the
program, the engine and provider models), the policy pack process's peak, and the pair ratio of the two processes
summed against the baseline's one (`+pack`). Below the table, each aim of issue 20 and whether it is met: a time
ratio ours/baseline of at most 1.3 (`AIM_RATIO`) at every size, a ratio at 300 jobs at most 0.05 above the ratio at
100 jobs (`AIM_GROWTH`), and a peak memory ratio of the preview process of at most 1.3. (The pack is a process of its
own under the CLI too; its peak is printed, not hidden, and `+pack` shows what both need together.)
Then, in a second table, the team stack against the single stack (both sizes named): the median seconds of each,
of which the platform stack's preview, the median pair ratio team/single, median peak memory (preview process and
pack, both reviewed) and its pair ratio.
Not a test: seconds depend on the machine; the pair ratios are what is comparable between runs and machines.
`make bench-smoke` (`--sizes 10 --pairs 1`: the team stack against the 10-job stack, one pair) is the CI check that
the bench still runs; its seconds mean nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import statistics
import subprocess
import sys
import time
import traceback
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from components.stack_config import StackConfigError
from tools.preview import exit_now

if TYPE_CHECKING:
    from tools.offline import ProgramRun, Registration

PROJECT_DIR = Path(__file__).resolve().parent.parent
SIZES = (10, 100, 300)
PAIRS = 5
VARIANTS = ("baseline", "ours", "ours-no-policy")  # the order of the runs within a round
TEAM = "team"  # the team stack's measurement (with the review), paired with `ours` of the single stack
AIM_RATIO = 1.3
# The ratio must not grow with the stack: at GROWTH_TO jobs at most AIM_GROWTH above the ratio at GROWTH_FROM jobs.
GROWTH_FROM, GROWTH_TO, AIM_GROWTH = 100, 300, 0.05
CHILD_TIMEOUT_SECONDS = 600
SHOWN_VIOLATIONS = 5  # a broken generator breaks every job alike: the first few say why
# The strictest committed policy config: every policy mandatory, digests, protection and both tags required.
POLICY_CONFIG = PROJECT_DIR / "policy" / "prod.json"

# --- the generated stack ----------------------------------------------------------------------------------

# The job shapes a generated stack holds, in order: every job kind, and every event source of the event kind
# (`components/job_kinds.py` JOB_KINDS, `EVENT_SOURCES`; docs/event-sources.md).
SHAPES = ("manual", "scheduled", "serviceBus", "storageQueue", "eventHub")
MIN_JOBS = len(SHAPES)  # at least one job of every shape
# A subscription that is not the committed files' all-zero placeholder, which the program warns about.
SUBSCRIPTION = "5b0c2d1e-7f3a-4e8b-9c6d-1a2b3c4d5e6f"
REGISTRY = "acrbench"
KEY_VAULT = "kv-aca-bench"
IMAGE = f"{REGISTRY}.azurecr.io/jobs/generated:v1.0.0@sha256:{'5d41402abc4b2a76b9719d911017c592' * 2}"


def _arm_id(resource_group: str, provider_path: str) -> str:
    return f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{resource_group}/providers/{provider_path}"


REGISTRY_ID = _arm_id("rg-shared", f"Microsoft.ContainerRegistry/registries/{REGISTRY}")
KEY_VAULT_ID = _arm_id("rg-shared", f"Microsoft.KeyVault/vaults/{KEY_VAULT}")
EXPORTS_CONTAINER_ID = _arm_id(
    "rg-data-bench", "Microsoft.Storage/storageAccounts/stbenchdata/blobServices/default/containers/exports"
)
# What the storage-queue and Event Hubs jobs read, referenced only (the stack creates the queues, the consumer
# groups and the checkpoint containers in them). In the stack's subscription, as the program requires
# (docs/event-sources.md, "Limitation").
QUEUE_ACCOUNT_ID = _arm_id("rg-data-bench", "Microsoft.Storage/storageAccounts/stbenchqueues")
EVENT_HUBS_NAMESPACE_ID = _arm_id("rg-data-bench", "Microsoft.EventHub/namespaces/evhns-aca-bench")
CHECKPOINT_ACCOUNT_ID = _arm_id("rg-data-bench", "Microsoft.Storage/storageAccounts/stbenchcheckpoints")


# The budget the single stack declares (`aca-jobs:budget.roleAssignments`, at most Azure's 4,000 per subscription).
ROLE_ASSIGNMENT_BUDGET = 4000


def shape_counts(jobs: int) -> dict[str, int]:
    """`jobs` split over the shapes as evenly as possible (the first shapes take the remainder)."""
    return {shape: jobs // len(SHAPES) + (index < jobs % len(SHAPES)) for index, shape in enumerate(SHAPES)}


def _secret(job: str, secret: str) -> dict[str, str]:
    return {"keyVaultSecretUrl": f"https://{KEY_VAULT}.vault.azure.net/secrets/{job}-{secret}"}


def _with_secret(name: str, variable: str, secret: str) -> dict[str, Any]:
    """A Key Vault secret the job reads through `env`."""
    return {"env": {variable: {"secretRef": secret}}, "secrets": {secret: _secret(name, secret)}}


def _access(role: str) -> dict[str, Any]:
    return {"azureAccess": [{"role": role, "scope": EXPORTS_CONTAINER_ID}]}


def _manual(name: str, index: int) -> dict[str, Any]:
    return {
        "image": IMAGE,
        "parallelism": 2,
        "replicaCompletionCount": 2,
        "replicaRetryLimit": 1,
        **_access("Storage Blob Data Reader"),
    }


def _scheduled(name: str, index: int) -> dict[str, Any]:
    secret = _with_secret(name, "DB_PASSWORD", "db-password")
    return {
        "image": IMAGE,
        # Daily, each job at its own minute of the day (UTC).
        "cronExpression": f"{index % 60} {index // 60 % 24} * * *",
        "command": ["python", "-m", "jobs.export"],
        "args": ["--since", "24h"],
        "replicaTimeout": 3600,
        "replicaRetryLimit": 1,
        "cpu": 0.25,
        "memory": "0.5Gi",
        **secret,
        "env": {"DB_HOST": "db-bench.postgres.database.azure.com", **secret["env"]},
        **_access("Storage Blob Data Contributor"),
    }


def _service_bus(name: str, index: int) -> dict[str, Any]:
    return {
        "image": IMAGE,
        "queue": f"queue-{index:04d}",
        "messageCount": 10,
        "replicaTimeout": 900,
        "replicaRetryLimit": 2,
        "idempotent": True,
        **_with_secret(name, "API_TOKEN", "api-token"),
        **_access("Storage Blob Data Contributor"),
    }


def _storage_queue(name: str, index: int) -> dict[str, Any]:
    # Every job its own queue (and poison queue) in one shared account, as docs/event-sources.md's example.
    return {
        "image": IMAGE,
        "storageQueue": {"accountId": QUEUE_ACCOUNT_ID, "queue": f"work-{index:04d}"},
        "messageCount": 16,
        "maxExecutions": 5,
        "replicaTimeout": 900,
        "replicaRetryLimit": 1,
        **_with_secret(name, "API_TOKEN", "api-token"),
        **_access("Storage Blob Data Contributor"),
    }


def _event_hub(name: str, index: int) -> dict[str, Any]:
    # Every job its own hub of one namespace, its own consumer group and checkpoint container (in one account).
    return {
        "image": IMAGE,
        "eventHub": {
            "namespaceId": EVENT_HUBS_NAMESPACE_ID,
            "name": f"telemetry-{index:04d}",
            "consumerGroup": name,
            "checkpoint": {"accountId": CHECKPOINT_ACCOUNT_ID, "container": f"checkpoints-{index:04d}"},
        },
        "messageCount": 100,
        "maxExecutions": 4,
        "replicaTimeout": 900,
        "replicaRetryLimit": 1,
        **_with_secret(name, "API_TOKEN", "api-token"),
        **_access("Storage Blob Data Reader"),
    }


# shape -> (its config key, the prefix of its jobs' names, the builder of one job's settings)
_BUILDERS: dict[str, tuple[str, str, Callable[[str, int], dict[str, Any]]]] = {
    "manual": ("aca-jobs:manualJobs", "job-manual", _manual),
    "scheduled": ("aca-jobs:scheduledJobs", "job-scheduled", _scheduled),
    "serviceBus": ("aca-jobs:eventJobs", "job-servicebus", _service_bus),
    "storageQueue": ("aca-jobs:eventJobs", "job-storagequeue", _storage_queue),
    "eventHub": ("aca-jobs:eventJobs", "job-eventhub", _event_hub),
}


def generated_jobs(jobs: int) -> dict[str, dict[str, dict[str, Any]]]:
    """`jobs` jobs split evenly over SHAPES, by config key (`aca-jobs:eventJobs` holds the three sources)."""
    if jobs < MIN_JOBS:
        raise ValueError(f"a generated stack has at least {MIN_JOBS} jobs, one of each shape ({', '.join(SHAPES)})")
    by_key: dict[str, dict[str, dict[str, Any]]] = {}
    for shape, count in shape_counts(jobs).items():
        key, prefix, build = _BUILDERS[shape]
        for index in range(count):
            name = f"{prefix}-{index:04d}"
            by_key.setdefault(key, {})[name] = build(name, index)
    return by_key


def _platform() -> dict[str, Any]:
    return {
        "resourceGroup": "rg-aca-bench",
        # Room for every event job at its peak (maxExecutions 10 x 0.5 cores) at every size.
        "environment": {"name": "aca-env-bench", "logRetentionDays": 90, "coreQuota": 1_000_000},
        "registry": {"server": f"{REGISTRY}.azurecr.io", "resourceId": REGISTRY_ID},
        "serviceBus": {"namespace": "sb-aca-bench", "sku": "Standard"},
        "keyVault": {"resourceId": KEY_VAULT_ID},
        "alerts": {"emails": ["aca-oncall@example.com"]},
        "protect": True,
        "tags": {"owner": "platform-team", "environment": "bench"},
    }


_PROVIDER = {"azure-native:location": "koreacentral", "azure-native:subscriptionId": SUBSCRIPTION}


def generated_config(jobs: int) -> dict[str, Any]:
    """The single stack of `jobs` jobs (at least `MIN_JOBS`), as `Pulumi.<stack>.yaml` holds it: see the module
    docstring. It must pass config, the program's warnings and the review with `POLICY_CONFIG` cleanly."""
    return {
        **_PROVIDER,
        "aca-jobs:platform": _platform(),
        # 23 role assignments per 5 jobs: 1,380 at 300 jobs, past the default budget of 1,000, which the program
        # warns about. A stack that size owns its subscription's room (docs/scale.md): it says so, as a real one would.
        "aca-jobs:budget": {"roleAssignments": ROLE_ASSIGNMENT_BUDGET},
        **generated_jobs(jobs),
    }


# --- the generated team stack -----------------------------------------------------------------------------

TEAM_JOBS = 15
# The platform stack the team stack names (`<organization>/<project>/<stack>`); offline its outputs come from
# previewing `platform_stack_config()` as deployed, as `tools/platform_outputs.py` does for a stack file beside.
PLATFORM_STACK_NAME = "bench-platform"
PLATFORM_STACK = f"bench/aca-jobs/{PLATFORM_STACK_NAME}"
TEAM_STACK_NAME = "bench-team"


def platform_stack_config() -> dict[str, Any]:
    """The platform stack the team stack runs on: the single stack's platform (alerts, Key Vault, Service Bus
    namespace), no jobs, so it exports the platform contract (docs/teams.md)."""
    return {**_PROVIDER, "aca-jobs:platform": _platform()}


def team_config(jobs: int = TEAM_JOBS) -> dict[str, Any]:
    """A team stack of `jobs` jobs of the same mix as the single stack, on `PLATFORM_STACK` (its environment,
    registry, Key Vault, namespace and action group), in the team's own resource group (docs/teams.md)."""
    return {
        **_PROVIDER,
        "aca-jobs:platformStack": PLATFORM_STACK,
        "aca-jobs:team": {
            "resourceGroup": "rg-team-bench",
            "tags": {"owner": "bench-team", "environment": "bench"},
            "protect": True,
        },
        **generated_jobs(jobs),
    }


# --- one measurement (in a fresh child process) -----------------------------------------------------------


class BenchError(Exception):
    """The bench cannot give numbers: a child failed, or what it measured is not the stack it claims to measure."""


def resource_types(run: Any) -> dict[str, int]:
    """How many Azure resources of each type a run registered: components are not Azure resources, nor is a team
    stack's read of its platform stack (`pulumi:pulumi:StackReference`)."""
    return dict(
        sorted(Counter(r.type for r in run.resources if r.custom and r.type.startswith("azure-native:")).items())
    )


def check_clean(violations: Sequence[Any], warnings: Sequence[str]) -> None:
    """The generated stack is meant to be one a reviewer would pass: any policy violation or program warning means
    the generator (or the program) broke, and the numbers would measure something else."""
    from tools.preview import render_violations

    if violations:
        shown = render_violations(list(violations[:SHOWN_VIOLATIONS]))
        more = f"\n    ... and {len(violations) - SHOWN_VIOLATIONS} more" if len(violations) > SHOWN_VIOLATIONS else ""
        raise BenchError(
            f"the generated stack fails the policy review with {POLICY_CONFIG.name} "
            f"({sum(v.enforcement_level == 'mandatory' for v in violations)} mandatory of {len(violations)} "
            f"violations); fix the generator in bench/run.py or the program:\n{shown}{more}"
        )
    if warnings:
        raise BenchError(
            "the program warns about the generated stack; fix the generator in bench/run.py:\n"
            + "\n".join(f"  {warning}" for warning in warnings)
        )


def preview_platform_stack() -> ProgramRun:
    """The platform stack's run as deployed, whose outputs a team stack reads: what `tools/platform_outputs.py` does
    when the platform's stack file is beside the team's (`make preview STACK=<team>`, the pull-request workflow)."""
    from tools.offline import DEPLOYED, run_program

    return run_program(platform_stack_config(), PLATFORM_STACK_NAME, mode=DEPLOYED)


def preview_team_stack(
    jobs: int, platform_outputs: dict[str, Any], on_register: Callable[[Registration], None] | None = None
) -> ProgramRun:
    """The team stack of `jobs` jobs, reading `platform_outputs` through its StackReference, in the default mode."""
    from tools.offline import run_program

    return run_program(
        team_config(jobs), TEAM_STACK_NAME, stack_outputs={PLATFORM_STACK: platform_outputs}, on_register=on_register
    )


def measure(variant: str, jobs: int) -> dict[str, Any]:
    """One measurement, in this (fresh) process. `team`: the team stack of `jobs` jobs, as `python -m tools.preview`
    previews a team stack whose platform stack file is beside it: the platform stack first, as deployed, for its
    outputs (while the policy pack boots), then the team stack, reviewed."""
    sys.path.insert(0, str(PROJECT_DIR))
    from tools.offline import run_program
    from tools.policy_runner import PolicyPackProcess, PolicyReview, read_policy_config

    config = generated_config(jobs) if variant != TEAM else None
    policy_config = read_policy_config(POLICY_CONFIG)
    violations: list[Any] = []
    warnings: list[str] = []
    started = time.perf_counter()
    policy_seconds = platform_seconds = 0.0
    if variant == "baseline":
        run = run_program(config, "bench", program=PROJECT_DIR / "bench" / "baseline_program.py")
    elif variant == "ours-no-policy":
        run = run_program(config, "bench")
    else:
        with PolicyPackProcess(PROJECT_DIR / "policy") as pack:
            # As tools.preview does: the analysis overlaps the program.
            policy_review = PolicyReview(pack, policy_config, POLICY_CONFIG.name)
            if variant == TEAM:
                platform_started = time.perf_counter()
                platform_run = preview_platform_stack()
                platform_seconds = time.perf_counter() - platform_started
                warnings += platform_run.warnings
                run = preview_team_stack(jobs, platform_run.outputs, on_register=policy_review.submit)
            else:
                run = run_program(config, "bench", on_register=policy_review.submit)
            policy_started = time.perf_counter()
            violations = policy_review.finish(run)
            # What the review adds after the program has finished (the rest overlapped with it).
            policy_seconds = time.perf_counter() - policy_started
    seconds = time.perf_counter() - started
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    pack_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if variant != "baseline":
        check_clean(violations, [*warnings, *run.warnings])
    return {
        "seconds": seconds,
        "policy_seconds": policy_seconds,
        "platform_seconds": platform_seconds,
        "peak_mb": own / 1024,
        "pack_mb": pack_peak / 1024,  # 0 for a variant without the review
        "resources": resource_types(run),
    }


def profiled(variant: str, jobs: int, stats_file: Path) -> dict[str, Any]:
    """`measure` under cProfile, its stats written to `stats_file`. This process only: the policy pack answers on
    gRPC worker threads, which cProfile does not follow (py-spy does; docs/internals.md, Performance). The seconds
    include the profiler's overhead: profile to see where the time goes, bench to see how much."""
    import cProfile

    profiler = cProfile.Profile()
    result = profiler.runcall(measure, variant, jobs)
    profiler.dump_stats(stats_file)
    return result


# --- the runs ---------------------------------------------------------------------------------------------


def run_child(variant: str, jobs: int) -> dict[str, Any]:
    """One measurement in a fresh process, killed (with the policy pack it started) after CHILD_TIMEOUT_SECONDS."""
    command = [sys.executable, "-m", "bench.run", "--measure", variant, "--jobs", str(jobs)]
    # Own process group, so a timeout also ends the grandchildren (the policy pack) and no pipe stays open.
    child = subprocess.Popen(
        command, cwd=PROJECT_DIR, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        out, err = child.communicate(timeout=CHILD_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)
        child.communicate()
        raise BenchError(f"{variant} at {jobs} jobs did not finish within {CHILD_TIMEOUT_SECONDS} s") from None
    finally:
        if child.poll() is None:  # interrupted (e.g. Ctrl-C): do not leave the child group running
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()
    lines = out.strip().splitlines()
    if child.returncode != 0 or not lines:
        raise BenchError(f"{variant} at {jobs} jobs failed (exit {child.returncode}):\n{_shortened(err.strip())}")
    try:
        return json.loads(lines[-1])
    except ValueError:
        raise BenchError(f"{variant} at {jobs} jobs printed no measurement: {lines[-1][:200]!r}") from None


def _shortened(text: str, head: int = 1500, tail: int = 2500) -> str:
    """A child's stderr, kept readable: its start (what failed) and its end (a traceback's last frames)."""
    return text if len(text) <= head + tail else f"{text[:head]}\n[...]\n{text[-tail:]}"


def check_same_resources(jobs: int, round_: dict[str, dict[str, Any]]) -> None:
    """The baseline must register what ours registers, or the ratio compares different work."""
    expected = round_["ours"]["resources"]
    for variant, result in round_.items():
        if result["resources"] != expected:
            types = sorted(set(expected) | set(result["resources"]))
            differences = [
                f"  {type_}: {variant} {result['resources'].get(type_, 0)}, ours {expected.get(type_, 0)}"
                for type_ in types
                if result["resources"].get(type_, 0) != expected.get(type_, 0)
            ]
            raise BenchError(
                f"at {jobs} jobs, {variant} registered other Azure resources than ours (fix bench/"
                f"baseline_program.py):\n" + "\n".join(differences)
            )


Runner = Callable[[str, int], dict[str, Any]]


def measured(jobs: int, pairs: int, runner: Runner = run_child) -> dict[str, dict[str, float]]:
    """`pairs` rounds of fresh processes, one per variant in VARIANTS order (A B C A B C ...); medians per variant
    and medians of the per-round ratios against the baseline of the same round."""
    rounds = []
    for index in range(pairs):
        print(f"bench: {jobs} jobs, round {index + 1} of {pairs}", file=sys.stderr, flush=True)
        round_ = {variant: runner(variant, jobs) for variant in VARIANTS}
        check_same_resources(jobs, round_)
        rounds.append(round_)
    numbers = ("seconds", "policy_seconds", "peak_mb", "pack_mb")
    summary: dict[str, dict[str, float]] = {
        variant: {key: statistics.median(r[variant][key] for r in rounds) for key in numbers} for variant in VARIANTS
    }
    for variant in VARIANTS:
        summary[variant]["resources"] = sum(rounds[0][variant]["resources"].values())
    for variant in VARIANTS[1:]:
        summary[variant]["ratio"] = statistics.median(r[variant]["seconds"] / r["baseline"]["seconds"] for r in rounds)
        summary[variant]["mem_ratio"] = statistics.median(
            r[variant]["peak_mb"] / r["baseline"]["peak_mb"] for r in rounds
        )
        summary[variant]["mem_ratio_with_pack"] = statistics.median(
            (r[variant]["peak_mb"] + r[variant]["pack_mb"]) / r["baseline"]["peak_mb"] for r in rounds
        )
    summary["ours"]["policy_share"] = statistics.median(
        r["ours"]["policy_seconds"] / r["ours"]["seconds"] for r in rounds
    )
    return summary


def team_measured(single_jobs: int, team_jobs: int, pairs: int, runner: Runner = run_child) -> dict[str, float]:
    """`pairs` pairs of fresh processes alternating the single stack of `single_jobs` jobs (`ours`) and the team
    stack of `team_jobs` jobs (`team`), both reviewed; medians of each and the median of the per-pair ratios
    team/single."""
    pairs_ = []
    for index in range(pairs):
        print(
            f"bench: team stack of {team_jobs} jobs against the single stack of {single_jobs} jobs, pair {index + 1} "
            f"of {pairs}",
            file=sys.stderr,
            flush=True,
        )
        pairs_.append((runner("ours", single_jobs), runner(TEAM, team_jobs)))
    return {
        "single_jobs": single_jobs,
        "team_jobs": team_jobs,
        "pairs": pairs,
        "single_resources": sum(pairs_[0][0]["resources"].values()),
        "team_resources": sum(pairs_[0][1]["resources"].values()),
        "single_seconds": statistics.median(single["seconds"] for single, _ in pairs_),
        "team_seconds": statistics.median(team["seconds"] for _, team in pairs_),
        "platform_seconds": statistics.median(team["platform_seconds"] for _, team in pairs_),
        "ratio": statistics.median(team["seconds"] / single["seconds"] for single, team in pairs_),
        # Both reviewed: each is the preview process and its policy pack together.
        "single_mb": statistics.median(single["peak_mb"] + single["pack_mb"] for single, _ in pairs_),
        "team_mb": statistics.median(team["peak_mb"] + team["pack_mb"] for _, team in pairs_),
        "mem_ratio": statistics.median(
            (team["peak_mb"] + team["pack_mb"]) / (single["peak_mb"] + single["pack_mb"]) for single, team in pairs_
        ),
    }


def aims(results: dict[int, dict[str, dict[str, float]]]) -> list[tuple[str, bool]]:
    """Each aim of issue 20, with whether these results meet it: the time ratio at every size, no growth of the
    ratio from 100 to 300 jobs beyond `AIM_GROWTH` (when both were measured), the preview process's peak memory."""
    ours = {jobs: result["ours"] for jobs, result in results.items()}
    checks = [
        (f"time ratio <= {AIM_RATIO} at every size", all(o["ratio"] <= AIM_RATIO for o in ours.values())),
        (
            f"peak memory ratio of the preview process <= {AIM_RATIO} at every size",
            all(o["mem_ratio"] <= AIM_RATIO for o in ours.values()),
        ),
    ]
    if GROWTH_FROM in ours and GROWTH_TO in ours:
        growth = ours[GROWTH_TO]["ratio"] - ours[GROWTH_FROM]["ratio"]
        checks.append(
            (
                f"ratio at {GROWTH_TO} jobs <= ratio at {GROWTH_FROM} jobs + {AIM_GROWTH} (it is {growth:+.2f})",
                growth <= AIM_GROWTH,
            )
        )
    return checks


def table(results: dict[int, dict[str, dict[str, float]]], pairs: int) -> str:
    lines = [
        f"offline preview (default mode of tools.offline.run_program), {pairs} pairs per size: fresh processes "
        f"alternating {' / '.join(VARIANTS)}; ratio = median of per-pair ratios, aim <= {AIM_RATIO}; "
        f"jobs split over {', '.join(SHAPES)}; reviewed with {POLICY_CONFIG.name}: no violation; MB = peak RSS of "
        "the preview process, pack MB = of the policy pack process, +pack = the two summed over the baseline's",
        f"{'jobs':>5} {'resources':>9} {'baseline s':>10} {'ours s':>8} {'ratio':>6} {'no-policy s':>11} "
        f"{'np ratio':>8} {'policy share':>12} {'baseline MB':>11} {'ours MB':>8} {'mem ratio':>9} {'pack MB':>7} "
        f"{'+pack':>6}",
    ]
    for jobs, result in results.items():
        base, ours, bare = (result[v] for v in VARIANTS)
        lines.append(
            f"{jobs:>5} {int(base['resources']):>9} {base['seconds']:>10.2f} {ours['seconds']:>8.2f} "
            f"{ours['ratio']:>6.2f} {bare['seconds']:>11.2f} {bare['ratio']:>8.2f} {ours['policy_share']:>12.0%} "
            f"{base['peak_mb']:>11.0f} {ours['peak_mb']:>8.0f} {ours['mem_ratio']:>9.2f} {ours['pack_mb']:>7.0f} "
            f"{ours['mem_ratio_with_pack']:>6.2f}"
        )
    lines += [f"aim {'met' if met else 'MISSED'}: {aim}" for aim, met in aims(results)]
    return "\n".join(lines)


def team_table(team: dict[str, float]) -> str:
    pairs, team_jobs, single_jobs = int(team["pairs"]), int(team["team_jobs"]), int(team["single_jobs"])
    return "\n".join(
        [
            f"a team's PR preview: the team stack of {team_jobs} jobs against the single stack of {single_jobs} jobs, "
            f"{pairs} pairs: fresh processes alternating ours ({single_jobs} jobs) / team ({team_jobs} jobs), both "
            f"reviewed with {POLICY_CONFIG.name}: no violation; the team's seconds include previewing its platform "
            "stack for its outputs (platform s); ratio = median of per-pair ratios team/single",
            f"{'team jobs':>9} {'resources':>9} {'team s':>7} {'platform s':>10} {'single jobs':>11} {'resources':>9} "
            f"{'single s':>8} {'ratio':>6} {'team MB':>7} {'single MB':>9} {'mem ratio':>9}",
            f"{team_jobs:>9} {int(team['team_resources']):>9} {team['team_seconds']:>7.2f} "
            f"{team['platform_seconds']:>10.2f} {single_jobs:>11} {int(team['single_resources']):>9} "
            f"{team['single_seconds']:>8.2f} {team['ratio']:>6.2f} {team['team_mb']:>7.0f} {team['single_mb']:>9.0f} "
            f"{team['mem_ratio']:>9.2f}",
        ]
    )


def bench(sizes: Sequence[int], pairs: int, runner: Runner = run_child, team_pairs: int | None = None) -> int:
    """Measure every size, then the team stack against the largest size (`team_pairs` pairs, default `pairs`; 0:
    not measured), then print the tables; on any failure print only the reason (stderr) and return 1."""
    team_pairs = pairs if team_pairs is None else team_pairs
    try:
        results = {jobs: measured(jobs, pairs, runner) for jobs in sizes}
        team = team_measured(max(sizes), TEAM_JOBS, team_pairs, runner) if team_pairs else None
    except BenchError as failure:
        print(f"bench failed, no numbers: {failure}", file=sys.stderr)
        return 1
    print(table(results, pairs), flush=True)
    if team is not None:
        print()
        print(team_table(team), flush=True)
    if pairs == 1 or team_pairs == 1:
        print("one pair: a check that the bench runs, not a measurement (`make bench` measures)")
    return 0


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--measure", choices=(*VARIANTS, TEAM), help="internal: one measurement, printed as a JSON line"
    )
    parser.add_argument("--jobs", type=int, help="internal: the size of the --measure run")
    parser.add_argument(
        "--sizes",
        type=int,
        nargs="+",
        default=list(SIZES),
        help=f"numbers of jobs to measure (default {' '.join(map(str, SIZES))}; at least {MIN_JOBS} each)",
    )
    parser.add_argument("--pairs", type=int, default=PAIRS, help=f"alternating rounds per size (default {PAIRS})")
    parser.add_argument(
        "--team-pairs",
        type=int,
        help=f"pairs of the team stack ({TEAM_JOBS} jobs) against the single stack of the largest size (default: "
        "--pairs; 0 skips it)",
    )
    parser.add_argument(
        "--profile",
        metavar="FILE",
        type=Path,
        help="with --measure: run that one measurement under cProfile and write its stats to FILE (read them with "
        "`python -m pstats FILE`; see docs/internals.md, Performance)",
    )
    args = parser.parse_args(argv)
    if args.measure and args.jobs is None:
        parser.error("--measure needs --jobs")
    if args.profile and not args.measure:
        parser.error("--profile needs --measure and --jobs")
    if args.pairs < 1:
        parser.error("--pairs must be at least 1")
    if args.team_pairs is not None and args.team_pairs < 0:
        parser.error("--team-pairs must be at least 0")
    if any(size < MIN_JOBS for size in [*args.sizes, *([args.jobs] if args.measure else [])]):
        parser.error(f"every size must be at least {MIN_JOBS} (one job of each shape: {', '.join(SHAPES)})")
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    if not args.measure:
        exit_now(bench(args.sizes, args.pairs, team_pairs=args.team_pairs))
    try:
        print(
            json.dumps(
                profiled(args.measure, args.jobs, args.profile) if args.profile else measure(args.measure, args.jobs)
            )
        )
        code = 0
    except BenchError as failure:
        print(failure, file=sys.stderr)
        code = 1
    except StackConfigError as error:  # the program refused the generated stack: say so without a traceback
        print(
            f"the generated stack is not a valid stack config; fix the generator in bench/run.py:\n{error}",
            file=sys.stderr,
        )
        code = 1
    except Exception:  # the program or the pack failed: the parent shows this with the exit code
        traceback.print_exc()
        code = 1
    exit_now(code)


if __name__ == "__main__":
    main()
