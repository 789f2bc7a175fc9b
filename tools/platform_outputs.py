"""The platform stack's outputs for an offline preview of a team stack (issue 17, deliverable 4).

A team stack reads its platform stack's contract through a `StackReference`; offline, the outputs come from:
- `--platform-outputs FILE`: the platform stack's outputs as `pulumi stack output --json --stack <platform>` prints
  them (a map of output names to values; the contract is the `platform` output);
- else, when the referenced stack is this project's (`<organization>/<this project>/<stack>`) and its stack file
  `Pulumi.<stack>.yaml` is beside the team stack's file, that stack previewed first, as deployed (ids known, as a
  deployed platform's outputs are), and its outputs used. The organization is not checked: offline there is one of
  each stack.
Anything else is a usage error (exit 2) naming the file or the key.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from components.config import PLATFORM_STACK_KEY, StackConfigBase
from components.platform_contract import PLATFORM_OUTPUT


class PlatformOutputsError(ValueError):
    """The platform outputs cannot be had; the message says why and what to do."""


def read_outputs_file(path: Path) -> dict[str, Any]:
    try:
        outputs = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise PlatformOutputsError(f"{path}: cannot read the platform outputs ({error.strerror})") from None
    except ValueError as error:
        raise PlatformOutputsError(
            f"{path}: is not JSON ({error}). Fix: write it with `pulumi stack output --json --stack <platform>`"
        ) from None
    if not isinstance(outputs, dict) or PLATFORM_OUTPUT not in outputs:
        raise PlatformOutputsError(
            f"{path}: has no `{PLATFORM_OUTPUT}` output, so it is not a platform stack's. Fix: write the platform "
            "stack's outputs (`pulumi stack output --json --stack <platform stack>`), a stack with "
            "`aca-jobs:platform` and no jobs"
        )
    return outputs


def platform_outputs(
    config: StackConfigBase,
    stack_file: str,
    outputs_file: Path | None,
    project: str,
    stack_dir: Path,
    preview_stack: Callable[[Path], dict[str, Any]],
) -> dict[str, dict[str, Any]]:
    """The outputs each `StackReference` of the stack reads, by fully qualified name (empty for other stacks).
    `preview_stack(stack_file)` previews that stack file of this project, as deployed, and returns its outputs."""
    if config.platform_stack is None:
        return {}
    if outputs_file is not None:
        return {config.platform_stack: read_outputs_file(outputs_file)}
    _, referenced_project, stack = config.platform_stack.split("/")
    platform_file = stack_dir / f"Pulumi.{stack}.yaml"
    if referenced_project == project and platform_file.is_file():
        return {config.platform_stack: preview_stack(platform_file)}
    raise PlatformOutputsError(
        f"{stack_file}: {PLATFORM_STACK_KEY}: `{config.platform_stack}` is not a stack of this project with its file "
        f"beside {stack_file} (Pulumi.{stack}.yaml). Fix: pass its outputs, `--platform-outputs FILE` (`pulumi stack "
        f"output --json --stack {config.platform_stack} > FILE`)"
    )
