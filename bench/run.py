"""`make bench`: offline preview cost of generated stacks against a baseline, measured in the same run.

What is measured, for 10, 100 and 300 jobs (half manual, half Service Bus event jobs):
- baseline: `bench/baseline_program.py` registers the same resources directly with pulumi-azure-native under
  the same mock runtime (no components, no config models, no policies);
- ours: the real `__main__.py` (config models, components) and the policy pack review over gRPC, as
  `python -m tools.preview` does;
- ours without policies: the same minus the review, to show the policy analysis's share.
Every variant runs the program through `tools.offline.run_program` in its default mode, `new-stack` (the first
preview of a new stack: azure-native's preview outputs, ids unknown), the mode `make preview` uses.

How: each measurement is one fresh process (`python -m bench.run --measure VARIANT --jobs N`, which prints one
JSON line), so imports, the mock runtime and the policy pack start from cold every time. Per size the variants
alternate run by run, in rounds: baseline, ours, ours without policies, baseline, ours, ... (`--pairs` rounds,
default 5). Each round yields a pair ratio, ours seconds / baseline seconds of that same round (likewise for
ours without policies and for peak memory); the reported ratio is the MEDIAN of the per-round ratios. Slow
phases of a shared, noisy machine then hit both sides of a pair alike and cancel out, and a single disturbed
round cannot move the median. Each child has a timeout (`CHILD_TIMEOUT_SECONDS`), so a hung child fails the
bench instead of hanging it.

Printed per size: the median wall seconds of each variant, the median pair ratio, the policy share (median over
the `ours` runs of the time the review adds after the program has finished, over that run's wall time), median
peak memory (process plus its children, i.e. the policy pack) and the median pair ratio of peak memory.
The aim is a time ratio ours/baseline of at most 1.3 (`AIM_RATIO`); the last column says whether it is met.
Not a test: seconds depend on the machine; the pair ratios are what is comparable between runs and machines.
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
from pathlib import Path
from typing import Any

from tools.preview import exit_now

PROJECT_DIR = Path(__file__).resolve().parent.parent
SIZES = (10, 100, 300)
PAIRS = 5
VARIANTS = ("baseline", "ours", "ours-no-policy")  # the order of the runs within a round
AIM_RATIO = 1.3
CHILD_TIMEOUT_SECONDS = 600
REGISTRY_ID = (
    "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-shared/providers/"
    "Microsoft.ContainerRegistry/registries/acrsharedprod"
)


def generated_config(jobs: int) -> dict[str, Any]:
    image = "acrsharedprod.azurecr.io/jobs/generated:v1.0.0"
    manual = {f"job-manual-{i:04d}": {"image": image, "replicaRetryLimit": 1} for i in range(jobs // 2)}
    event = {
        f"job-event-{i:04d}": {"image": image, "queue": f"queue-{i:04d}", "messageCount": 10}
        for i in range(jobs - jobs // 2)
    }
    return {
        "azure-native:location": "koreacentral",
        "aca-jobs:platform": {
            "resourceGroup": "rg-aca-bench",
            "environment": {"name": "aca-env-bench", "coreQuota": 1_000_000},
            "registry": {"server": "acrsharedprod.azurecr.io", "resourceId": REGISTRY_ID},
            "serviceBus": {"namespace": "sb-aca-bench"},
            "tags": {"owner": "platform-team"},
        },
        "aca-jobs:manualJobs": manual,
        "aca-jobs:eventJobs": event,
    }


def measure(variant: str, jobs: int) -> dict[str, float]:
    """One measurement, in this (fresh) process."""
    sys.path.insert(0, str(PROJECT_DIR))
    from tools.offline import run_program
    from tools.policy_runner import PolicyPackProcess, PolicyReview

    config = generated_config(jobs)
    started = time.perf_counter()
    policy_seconds = 0.0
    if variant == "baseline":
        run = run_program(config, "bench", program=PROJECT_DIR / "bench" / "baseline_program.py")
    elif variant == "ours-no-policy":
        run = run_program(config, "bench")
    else:
        with PolicyPackProcess(PROJECT_DIR / "policy") as pack:
            policy_review = PolicyReview(pack, {})  # as tools.preview does: analysis overlaps the program
            run = run_program(config, "bench", on_register=policy_review.submit)
            policy_started = time.perf_counter()
            violations = policy_review.finish(run)
            # What the review adds after the program has finished (the rest overlapped with it).
            policy_seconds = time.perf_counter() - policy_started
        if violations:
            raise SystemExit(f"generated stack should be compliant: {violations[:3]}")
    seconds = time.perf_counter() - started
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    pack_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {
        "seconds": seconds,
        "policy_seconds": policy_seconds,
        "peak_mb": (own + pack_peak) / 1024,
        "resources": len([r for r in run.resources if r.custom]),
    }


def run_child(variant: str, jobs: int) -> dict[str, float]:
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
        raise SystemExit(f"bench: {variant} at {jobs} jobs did not finish within {CHILD_TIMEOUT_SECONDS} s") from None
    finally:
        if child.poll() is None:  # interrupted (e.g. Ctrl-C): do not leave the child group running
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()
    lines = out.strip().splitlines()
    if child.returncode != 0 or not lines:
        raise SystemExit(f"bench: {variant} at {jobs} jobs failed (exit {child.returncode}):\n{err[-4000:]}")
    return json.loads(lines[-1])


def measured(jobs: int, pairs: int) -> dict[str, dict[str, float]]:
    """`pairs` rounds of fresh processes, one per variant in VARIANTS order (A B C A B C ...); medians per variant
    and medians of the per-round ratios against the baseline of the same round."""
    rounds = [{variant: run_child(variant, jobs) for variant in VARIANTS} for _ in range(pairs)]
    summary = {
        variant: {key: statistics.median(r[variant][key] for r in rounds) for key in rounds[0][variant]}
        for variant in VARIANTS
    }
    for variant in VARIANTS[1:]:
        summary[variant]["ratio"] = statistics.median(r[variant]["seconds"] / r["baseline"]["seconds"] for r in rounds)
        summary[variant]["mem_ratio"] = statistics.median(
            r[variant]["peak_mb"] / r["baseline"]["peak_mb"] for r in rounds
        )
    summary["ours"]["policy_share"] = statistics.median(
        r["ours"]["policy_seconds"] / r["ours"]["seconds"] for r in rounds
    )
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.run")
    parser.add_argument("--measure", choices=VARIANTS, help="internal: one measurement, printed as a JSON line")
    parser.add_argument("--jobs", type=int)
    parser.add_argument("--sizes", type=int, nargs="*", default=list(SIZES))
    parser.add_argument("--pairs", type=int, default=PAIRS, help=f"alternating rounds per size (default {PAIRS})")
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.jobs)))
        exit_now(0)
    if args.pairs < 1:
        parser.error("--pairs must be at least 1")

    print(
        f"offline preview (default mode of tools.offline.run_program), {args.pairs} pairs per size: fresh processes "
        f"alternating {' / '.join(VARIANTS)}; ratio = median of per-pair ratios, aim <= {AIM_RATIO}; "
        "half manual, half event jobs"
    )
    header = (
        f"{'jobs':>5} {'resources':>9} {'baseline s':>10} {'ours s':>8} {'ratio':>6} {'no-policy s':>11} "
        f"{'np ratio':>8} {'policy share':>12} {'baseline MB':>11} {'ours MB':>8} {'mem ratio':>9} {'aim':>6}"
    )
    print(header, flush=True)
    for jobs in args.sizes:
        result = measured(jobs, args.pairs)
        base, ours, bare = (result[v] for v in VARIANTS)
        aim = "met" if ours["ratio"] <= AIM_RATIO else "missed"
        print(
            f"{jobs:>5} {int(base['resources']):>9} {base['seconds']:>10.2f} {ours['seconds']:>8.2f} "
            f"{ours['ratio']:>6.2f} {bare['seconds']:>11.2f} {bare['ratio']:>8.2f} {ours['policy_share']:>12.0%} "
            f"{base['peak_mb']:>11.0f} {ours['peak_mb']:>8.0f} {ours['mem_ratio']:>9.2f} {aim:>6}",
            flush=True,
        )


if __name__ == "__main__":
    main()
