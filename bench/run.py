"""`make bench`: offline preview cost of generated stacks against a baseline, measured in the same run.

For 10, 100 and 300 jobs (half manual, half Service Bus event jobs) each variant runs in a fresh process:
- baseline: `bench/baseline_program.py` registers the same resources directly with pulumi-azure-native under
  the same mock runtime (no components, no config models, no policies);
- ours: the real `__main__.py` (config models, components) and the policy pack review over gRPC, as
  `python -m tools.preview` does;
- ours without policies: the same minus the review, to show the policy analysis's share.

Prints median wall time and peak memory per variant, the ratio ours/baseline per size and the policy share.
Not a test: timings depend on the machine; ratios from one run are comparable with each other.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tools.preview import exit_now

PROJECT_DIR = Path(__file__).resolve().parent.parent
SIZES = (10, 100, 300)
REPEATS = 3
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


def measured(variant: str, jobs: int) -> dict[str, float]:
    """Median of REPEATS fresh-process measurements."""
    runs = []
    for _ in range(REPEATS):
        out = subprocess.run(
            [sys.executable, "-m", "bench.run", "--measure", variant, "--jobs", str(jobs)],
            cwd=PROJECT_DIR,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        runs.append(json.loads(out.strip().splitlines()[-1]))
    return {key: statistics.median(r[key] for r in runs) for key in runs[0]}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.run")
    parser.add_argument("--measure", choices=["baseline", "ours", "ours-no-policy"])
    parser.add_argument("--jobs", type=int)
    parser.add_argument("--sizes", type=int, nargs="*", default=list(SIZES))
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.jobs)))
        exit_now(0)

    print(f"offline preview, median of {REPEATS} fresh processes per cell; half manual, half event jobs")
    header = (
        f"{'jobs':>5} {'resources':>9} {'baseline s':>10} {'ours s':>8} {'ratio':>6} "
        f"{'no-policy s':>11} {'policy share':>12} {'baseline MB':>11} {'ours MB':>8} {'mem ratio':>9}"
    )
    print(header)
    for jobs in args.sizes:
        base, ours, bare = (measured(v, jobs) for v in ("baseline", "ours", "ours-no-policy"))
        share = ours["policy_seconds"] / ours["seconds"]
        print(
            f"{jobs:>5} {int(base['resources']):>9} {base['seconds']:>10.2f} {ours['seconds']:>8.2f} "
            f"{ours['seconds'] / base['seconds']:>6.2f} {bare['seconds']:>11.2f} {share:>12.0%} "
            f"{base['peak_mb']:>11.0f} {ours['peak_mb']:>8.0f} {ours['peak_mb'] / base['peak_mb']:>9.2f}"
        )


if __name__ == "__main__":
    main()
