"""Committed snapshots of what each stack names: every resource's URN and physical (Azure) name, and the options
that decide what happens to it when it leaves the stack (`protect`, `retainOnDelete`).

    python -m tools.snapshots           # rewrite tests/snapshots/<stack>.txt for every committed stack
    python -m tools.snapshots --check   # exit 1 and show the difference when a snapshot is stale
    python -m tools.snapshots [--check] --stack-file examples/org/Pulumi.team-orders.yaml [--platform-outputs FILE]

A team stack runs with its platform stack's outputs, resolved as the preview resolves them
(`tools/platform_outputs.py`): `--platform-outputs FILE`, else the platform stack's file beside the team stack's.
`--stack-file` snapshots the stack files given (`tests/snapshots/<stack>.txt` each) instead of the committed stacks.

A change to a URN or to a physical name makes the engine delete and recreate the resource (a queue with its
messages, a workspace with its logs). Writing both down per stack turns such a change into a diff a reviewer
reads in the pull request; `tests/test_snapshots.py` fails while a snapshot is stale. The runtime's `deployed`
mode is used, so that every name (role assignments' included) is known.

The snapshot is also the last reviewed state the offline preview compares a change with (`tools.stateful`):
the engine decides what a resource that leaves the program does from its old options, so they are recorded.
Rewriting or checking a snapshot prints the stateful resources that leave it and what happens to their data.
"""

from __future__ import annotations

import argparse
import difflib
import sys
from collections.abc import Sequence
from pathlib import Path

from components.stack_config import StackConfigError
from tools.files import write_atomically
from tools.offline import DEPLOYED, PROJECT_DIR, ProgramRun
from tools.preview import UsageError, exit_now, load_run, stack_of_file
from tools.stateful import SNAPSHOT_DIR, SnapshotError, leaving_report, shown, snapshot_row

HEADER = (
    "# URN  physical name ('-' for components)  [protect]  [retainOnDelete]. Regenerate with `make snapshots`; "
    "review every change.\n"
)


def committed_stacks(project_dir: Path = PROJECT_DIR) -> list[str]:
    return sorted(path.name.split(".")[1] for path in project_dir.glob("Pulumi.*.yaml"))


def render(stack: str, config_file: Path | None = None) -> str:
    return render_run(load_run(stack, config_file, mode=DEPLOYED))


def render_run(run: ProgramRun) -> str:
    return HEADER + "\n".join(snapshot_row(r).render() for r in run.resources) + "\n"


def snapshot_path(stack: str, snapshot_dir: Path | None = None) -> Path:
    return (snapshot_dir or SNAPSHOT_DIR) / f"{stack}.txt"


def stale(stack: str, run: ProgramRun | None = None, snapshot_dir: Path | None = None) -> str:
    """The unified diff between the committed snapshot and the current one ('' when up to date)."""
    path = snapshot_path(stack, snapshot_dir)
    committed = path.read_text() if path.is_file() else ""
    current = render(stack) if run is None else render_run(run)
    return "".join(
        difflib.unified_diff(
            committed.splitlines(keepends=True),
            current.splitlines(keepends=True),
            f"{shown(path)} (committed)",
            f"{shown(path)} (current)",
        )
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.snapshots", description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 when a snapshot is stale")
    parser.add_argument(
        "--stack-file",
        action="append",
        type=Path,
        help="a stack file, Pulumi.<stack>.yaml, anywhere (repeatable); default: every committed stack",
    )
    parser.add_argument(
        "--platform-outputs",
        type=Path,
        help="a team stack's platform stack outputs, as `pulumi stack output --json` prints them (default: preview "
        "the platform stack when its file is beside the team stack's)",
    )
    parser.add_argument("--snapshot-dir", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        targets = (
            [(stack_of_file(path), path) for path in args.stack_file]
            if args.stack_file
            else [(stack, None) for stack in committed_stacks()]
        )
        return _run(args.check, targets, args.platform_outputs, args.snapshot_dir)
    except (UsageError, StackConfigError, SnapshotError) as error:  # a stack file breaks the contract: no traceback
        print(str(error), file=sys.stderr)
        return 2


def _run(
    check: bool,
    targets: Sequence[tuple[str, Path | None]],
    platform_outputs_file: Path | None = None,
    snapshot_dir: Path | None = None,
) -> int:
    status = 0
    for stack, config_file in targets:
        run = load_run(stack, config_file, mode=DEPLOYED, platform_outputs_file=platform_outputs_file)
        # Against the snapshot as it is before this run rewrites it: what the change being recorded removes.
        report = leaving_report(stack, run, snapshot_dir)
        path = snapshot_path(stack, snapshot_dir)
        if check:
            diff = stale(stack, run, snapshot_dir)
            if diff:
                print(diff, end="")
                print(report.render())
                status = 1
        else:
            write_atomically(path, render_run(run).encode())
            print(f"wrote {shown(path)}")
            if report.resources:
                print(report.render())
    if status:
        print(
            "Snapshots are stale: a URN or physical name changed (the resource would be replaced), or the options "
            "that decide what leaving the stack does to it. If that is intended, run `make snapshots` and commit "
            "the result.",
            file=sys.stderr,
        )
    return status


if __name__ == "__main__":
    exit_now(main())
