"""`make preview-azure STACK=…` and `make up STACK=…`: the Pulumi CLI against Azure, always with the stack's
policy pack config, so a manual deploy cannot skip the review the pipeline applies.

    python -m tools.real_path {preview|up} --stack STACK [--pulumi pulumi]

Prints the exact command first. Without the Pulumi CLI it says so and exits 2 (the command is printed, to run
where the CLI is). The CLI runs in the foreground with the terminal: `pulumi up` asks for confirmation itself.
A stack without `policy/<stack>.json` is refused with exit 2, by the same rule as the offline preview
(`tools.stack_policy`).
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

from tools.offline import PROJECT_DIR
from tools.stack_policy import MissingPolicyConfigError, stack_policy_config

EXIT_NO_CLI = 2


def pulumi_command(pulumi: str, action: str, stack: str) -> list[str]:
    """`pulumi preview|up --stack <stack>` with the pack and the stack's policy config (as the workflows run it)."""
    return [
        pulumi,
        action,
        "--stack",
        stack,
        "--policy-pack",
        "policy",
        "--policy-pack-config",
        f"policy/{stack}.json",
    ]


def main(argv: Sequence[str] | None = None, project_dir: Path = PROJECT_DIR) -> int:
    """`project_dir`: where the stack files and `policy/` are (tests point it at a copy)."""
    parser = argparse.ArgumentParser(prog="python -m tools.real_path", description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["preview", "up"])
    parser.add_argument("--stack", required=True)
    parser.add_argument("--pulumi", default="pulumi", help="the Pulumi CLI executable")
    args = parser.parse_args(argv)
    if not (project_dir / f"Pulumi.{args.stack}.yaml").is_file():
        print(f"no stack file Pulumi.{args.stack}.yaml: STACK must name a committed stack", file=sys.stderr)
        return EXIT_NO_CLI
    try:
        policy_config = stack_policy_config(args.stack, project_dir / "policy", project_dir)
    except MissingPolicyConfigError as error:
        print(str(error), file=sys.stderr)
        return EXIT_NO_CLI
    if not policy_config.is_file():  # the offline preview's reader says the same of a directory
        print(f"policy/{args.stack}.json: is not a file, so the stack cannot be reviewed", file=sys.stderr)
        return EXIT_NO_CLI
    command = pulumi_command(args.pulumi, args.action, args.stack)
    print("$ " + shlex.join(command), flush=True)
    executable = shutil.which(args.pulumi)
    if executable is None:
        print(
            f"the Pulumi CLI (`{args.pulumi}`) is not installed here, so nothing ran. Run the command above where "
            "it is, after the steps in docs/first-deployment.md.",
            file=sys.stderr,
        )
        return EXIT_NO_CLI
    os.chdir(project_dir)
    # Replace this process: the CLI gets the terminal, its prompts and signals, and its exit code is make's.
    os.execv(executable, command)
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
