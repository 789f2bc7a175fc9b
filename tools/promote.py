"""Promote job images from one stack to the next: the only thing that should move between stacks.

    python -m tools.promote --from staging --to prod [--job NAME ...] [--dry-run | --check]

Copies the `image` of the chosen jobs (default: every job of the source stack) into the target stack file,
keeping the target's comments, order and formatting (round-trip YAML), and prints a unified diff.

Refuses (exit 2) a job that the target stack does not have, and an image without a digest when the target's
policy config (`policy/<to>.json`) requires digests. The promoted file must still pass the config contract.
`--check` changes nothing and exits 1 when the target lags the source (for CI); `--dry-run` only prints.
"""

from __future__ import annotations

import argparse
import difflib
import io
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from ruamel.yaml import YAML, YAMLError

from components.config import EVENT_JOBS_KEY, MANUAL_JOBS_KEY, split_image
from components.stack_config import StackConfigError, load_stack_config
from tools.offline import PROJECT_DIR
from tools.policy_runner import PolicyConfigError, read_policy_config

JOB_KEYS = (MANUAL_JOBS_KEY, EVENT_JOBS_KEY)
EXIT_OK, EXIT_LAGS, EXIT_REFUSED = 0, 1, 2


class PromotionRefusedError(Exception):
    """Promotion would move something it must not; nothing was written."""


def round_trip_yaml() -> YAML:
    yaml = YAML()  # round-trip mode: comments, order and quoting survive
    yaml.preserve_quotes = True
    yaml.width = 4096  # never re-wrap long image references or ids
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def stack_jobs(document: Any) -> dict[str, Any]:
    """Job name -> its YAML mapping, across both job kinds."""
    config = document.get("config") or {}
    return {name: job for key in JOB_KEYS for name, job in (config.get(key) or {}).items()}


def requires_digest(stack: str, policy_dir: Path) -> bool:
    path = policy_dir / f"{stack}.json"
    if not path.is_file():
        return False
    setting = read_policy_config(path).get("job-image-pinned")
    return isinstance(setting, dict) and bool(setting.get("requireDigest", False))


def promote(
    source: Any, target: Any, jobs: Sequence[str] | None, target_requires_digest: bool, target_name: str
) -> list[str]:
    """Copy images into `target` (in place); returns the names of the jobs whose image changed."""
    source_jobs, target_jobs = stack_jobs(source), stack_jobs(target)
    chosen = list(jobs) if jobs else sorted(source_jobs)
    problems = []
    for name in chosen:
        if name not in source_jobs:
            problems.append(f"job `{name}` is not in the source stack")
        elif name not in target_jobs:
            problems.append(
                f"job `{name}` does not exist in {target_name}; add it there in its own reviewed change first "
                "(promotion moves images, never jobs)"
            )
        elif target_requires_digest and split_image(str(source_jobs[name]["image"]))[2] is None:
            problems.append(
                f"job `{name}`: `{source_jobs[name]['image']}` has no digest, and {target_name}'s policy config "
                "requires one; pin it by digest in the source stack first"
            )
    if problems:
        raise PromotionRefusedError("\n".join(f"- {p}" for p in problems))
    changed = []
    for name in chosen:
        if target_jobs[name]["image"] != source_jobs[name]["image"]:
            target_jobs[name]["image"] = source_jobs[name]["image"]
            changed.append(name)
    return changed


def read_stack(stack_yaml: YAML, path: Path) -> Any:
    """A stack file, round-trip loaded; it must already satisfy the config contract (so every job has an
    `image`), or promotion stops with the contract's own messages."""
    if not path.is_file():
        raise PromotionRefusedError(f"{path.name} not found")
    text = path.read_text()
    try:
        document = stack_yaml.load(text)
    except YAMLError as error:
        raise PromotionRefusedError(f"{path.name}: not valid YAML: {error}") from None
    load_stack_config(round_trip_config(text), stack_file=path.name)
    return document


def dump(yaml: YAML, document: Any) -> str:
    buffer = io.StringIO()
    yaml.dump(document, buffer)
    return buffer.getvalue()


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tools.promote", description=__doc__.split("\n\n")[0])
    parser.add_argument("--from", dest="source", required=True, help="source stack, e.g. staging")
    parser.add_argument("--to", dest="target", required=True, help="target stack, e.g. prod")
    parser.add_argument("--job", action="append", dest="jobs", help="job to promote (repeatable; default all)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--dry-run", action="store_true", help="print the diff, write nothing")
    mode.add_argument("--check", action="store_true", help="exit 1 when the target lags the source")
    parser.add_argument("--project-dir", type=Path, default=PROJECT_DIR, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    source_path = args.project_dir / f"Pulumi.{args.source}.yaml"
    target_path = args.project_dir / f"Pulumi.{args.target}.yaml"
    stack_yaml = round_trip_yaml()
    try:
        source, before = read_stack(stack_yaml, source_path), target_path.read_text() if target_path.is_file() else ""
        target = read_stack(stack_yaml, target_path)
        changed = promote(
            source, target, args.jobs, requires_digest(args.target, args.project_dir / "policy"), target_path.name
        )
        after = dump(stack_yaml, target)
        # The promoted stack must still satisfy the contract (it is what `pulumi up` will read).
        load_stack_config(round_trip_config(after), stack_file=target_path.name)
    except (PromotionRefusedError, PolicyConfigError, StackConfigError) as error:
        print(f"promotion {args.source} -> {args.target} refused:\n{error}", file=sys.stderr)
        return EXIT_REFUSED
    diff = "".join(
        difflib.unified_diff(
            before.splitlines(keepends=True), after.splitlines(keepends=True), target_path.name, target_path.name
        )
    )
    if not changed:
        print(f"{target_path.name} already runs the images of {source_path.name}")
        return EXIT_OK
    print(diff, end="")
    if args.check:
        print(f"{args.target} lags {args.source}: {', '.join(changed)}", file=sys.stderr)
        return EXIT_LAGS
    if not args.dry_run:
        target_path.write_text(after)
        print(f"updated {target_path.name}: {', '.join(changed)}")
    return EXIT_OK


def round_trip_config(text: str) -> dict[str, Any]:
    """The `config:` map of a stack file as plain Python values (no encrypted values expected)."""
    document = yaml.safe_load(text) or {}
    config = document.get("config") if isinstance(document, dict) else None
    return config if isinstance(config, dict) else {}


if __name__ == "__main__":
    sys.exit(main())
