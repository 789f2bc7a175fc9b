"""Offline preview: what a stack would create, without Azure, the Pulumi CLI or a network.

    python -m tools.preview --stack dev [--as new-stack|deployed] [--config-file PATH] [--json]
    python -m tools.preview --compare staging prod [--json]
    python -m tools.preview --compare examples/org/Pulumi.team-orders.yaml examples/org/Pulumi.team-billing.yaml

Runs the real `__main__.py` under the Pulumi mock runtime in preview mode with the stack's config
(`Pulumi.<stack>.yaml`, or the file given) on top of the project's defaults from `Pulumi.yaml`, then reviews
what it registered with the policy pack, started and driven the way `pulumi preview --policy-pack` does.
`--as` says what the provider answers (see `tools.offline`): `new-stack` (default) as in the first preview of a
new stack, with every value Azure computes unknown; `deployed` as in a preview of an unchanged deployed stack.

Every stack is reviewed with its own policy config: `policy/<stack>.json` (or `--policy-config`); a stack without
one is refused (exit 2), by the same rule as `make preview-azure` (`tools.stack_policy`). The output also names the
stateful resources that leave the stack against its committed snapshot, the last reviewed state, and what happens
to their data (`tools.stateful`).

Exit codes: 0 the stack is valid and no mandatory policy is violated; 1 a mandatory policy violation;
2 a config or usage error (message on stderr, nothing on stdout); 3 the policy pack or the tool failed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import grpc

from components.config import (
    BUDGET_KEY,
    PLATFORM_STACK_KEY,
    ROLE_ASSIGNMENTS_PER_SUBSCRIPTION,
    StackConfigBase,
)
from components.platform_contract import PLATFORM_OUTPUT, ContractError, contract_from_output
from components.stack_config import (
    PROVIDER_KEYS,
    StackConfigError,
    account_for_keys,
    decode_config_value,
    load_stack_config,
)
from components.stack_file import StackFileError, load_stack_yaml
from tools.compare import compare
from tools.compare import render as render_comparison
from tools.offline import (
    DEPLOYED,
    MODES,
    NEW_STACK,
    PROJECT_DIR,
    ROLE_ASSIGNMENT,
    UNKNOWN_DISPLAY,
    USER_ASSIGNED_IDENTITY,
    ProgramRun,
    Registration,
    display,
    run_program,
)
from tools.platform_outputs import PlatformOutputsError, platform_outputs
from tools.policy_runner import (
    CALL_TIMEOUT_SECONDS,
    PolicyConfigError,
    PolicyPackProcess,
    PolicyPackTimeoutError,
    PolicyReview,
    PolicyViolation,
    read_policy_config,
)
from tools.stack_policy import MissingPolicyConfigError, stack_policy_config
from tools.stateful import LeavingReport, SnapshotError, leaving_report

EXIT_OK = 0
EXIT_POLICY_VIOLATION = 1
EXIT_USAGE = 2
# Not a verdict on the stack: the policy pack (or this tool) failed. Distinct from 1 so CI never reads a
# crash as "policy violated" or a violation as a crash.
EXIT_FAILURE = 3


class UsageError(Exception):
    """A problem with the command line or the files it names; reported without a traceback."""


def read_yaml(path: Path, what: str) -> dict[str, Any]:
    """A project or stack file, read strictly (`components.stack_file`): duplicate keys, non-string keys,
    dates, NaN, huge numbers, alias bombs and non-UTF-8 bytes are usage errors, never a traceback or a hang."""
    if not path.is_file():
        raise UsageError(f"{path.name}: {what} not found at {path}")
    try:
        return load_stack_yaml(path)
    except StackFileError as error:
        raise UsageError(str(error)) from None
    except OSError as error:
        raise UsageError(f"{path.name}: cannot read the {what}: {error.strerror}") from None


def project_defaults(project_file: dict[str, Any], project: str) -> dict[str, Any]:
    """Values from Pulumi.yaml `config:`: a plain value, or a declaration with `value:` or `default:`."""
    defaults: dict[str, Any] = {}
    for key, declared in (project_file.get("config") or {}).items():
        full_key = key if ":" in key else f"{project}:{key}"
        if isinstance(declared, dict) and ("value" in declared or "default" in declared):
            defaults[full_key] = declared.get("value", declared.get("default"))
        elif not isinstance(declared, dict):
            defaults[full_key] = declared
    return defaults


def stack_config(stack_file: dict[str, Any], file_name: str, project: str) -> dict[str, Any]:
    config = stack_file.get("config")
    if config is None:
        return {}
    if not isinstance(config, dict):
        raise UsageError(f"{file_name}: `config` must be a map of config keys")
    values: dict[str, Any] = {}
    for key, value in account_for_keys(config, file_name).items():
        encrypted = isinstance(value, dict) and set(value) == {"secure"}
        if encrypted and not key.startswith(f"{project}:"):
            # Another provider's secret (e.g. azure-native:clientSecret): the program never reads it, and the
            # offline runtime needs no credentials, so it is left out rather than decrypted.
            continue
        if encrypted:
            raise UsageError(
                f"{file_name}: {key}: holds an encrypted value, but aca-jobs never takes a secret's value from "
                "config. Fix: remove it; keep the secret in the stack's Key Vault and reference it from a job's "
                "`secrets`, or let the job reach Azure through its identity (`azureAccess`)."
            )
        values[key] = value
    return values


@dataclass(frozen=True)
class StackInput:
    """What the engine would pass the program: the project's name and the stack's config (defaults first)."""

    stack: str
    project: str
    path: Path
    config: dict[str, Any]

    def check(self) -> StackConfigBase:
        """The config contract, as the program applies it: raises `StackConfigError`. Run before the policy pack
        starts, so that a broken stack file is reported at once; validated once per stack input (the preview and the
        platform-outputs lookup both ask)."""
        return self._checked

    @cached_property
    def _checked(self) -> StackConfigBase:
        program_keys = {
            key: decode_config_value(value if isinstance(value, str) else json.dumps(value))
            for key, value in self.config.items()
            if key.startswith(f"{self.project}:")
        }
        for provider_key in PROVIDER_KEYS:
            if provider_key in self.config:
                program_keys[provider_key] = self.config[provider_key]
        return load_stack_config(program_keys, stack_file=self.path.name)


def read_stack(stack: str, config_file: Path | None, project_dir: Path = PROJECT_DIR) -> StackInput:
    project_file = read_yaml(project_dir / "Pulumi.yaml", "project file")
    project = str(project_file.get("name") or "")
    path = config_file or project_dir / f"Pulumi.{stack}.yaml"
    config = {
        **project_defaults(project_file, project),
        **stack_config(read_yaml(path, "stack file"), path.name, project),
    }
    return StackInput(stack, project, path, config)


def referenced_outputs(
    given: StackInput, platform_outputs_file: Path | None, project_dir: Path = PROJECT_DIR
) -> dict[str, dict[str, Any]]:
    """The outputs each `StackReference` of the stack reads (a team stack's platform stack), resolved as
    `tools/platform_outputs.py` says: `platform_outputs_file`, else the platform stack file beside the stack's."""
    try:
        return platform_outputs(
            given.check(),
            given.path.name,
            platform_outputs_file,
            given.project,
            given.path.parent,
            lambda path: load_run(stack_of_file(path), path, project_dir=project_dir, mode=DEPLOYED).outputs,
        )
    except PlatformOutputsError as error:
        raise UsageError(str(error)) from None


def team_contract(given: StackInput, platform_outputs_file: Path | None, project_dir: Path = PROJECT_DIR) -> Any:
    """A team stack's platform contract (`components.team.PlatformContract`), read from its platform stack's outputs
    as the program reads it; a usage error naming the stack file and `aca-jobs:platformStack` when it is not one."""
    config = given.check()
    assert config.platform_stack is not None, "only a team stack reads a platform contract"
    outputs = referenced_outputs(given, platform_outputs_file, project_dir)[config.platform_stack]
    source = f"{platform_outputs_file}" if platform_outputs_file else f"platform stack `{config.platform_stack}`"
    try:
        return contract_from_output(outputs.get(PLATFORM_OUTPUT), source)
    except ContractError as error:
        raise UsageError(f"{given.path.name}: {PLATFORM_STACK_KEY}: {error}.") from None


def stack_of_file(path: Path) -> str:
    """The stack a stack file is for: `Pulumi.<stack>.yaml` -> `<stack>`."""
    name = path.name
    if not (name.startswith("Pulumi.") and name.endswith((".yaml", ".yml"))) or name.count(".") < 2:
        raise UsageError(f"{name}: not a stack file name; a stack file is named Pulumi.<stack>.yaml")
    return name.split(".", 1)[1].rsplit(".", 1)[0]


def stack_target(target: str, project_dir: Path = PROJECT_DIR) -> tuple[str, Path | None]:
    """A stack named on the command line: a stack name (its file `Pulumi.<stack>.yaml` in the project), or the path
    of a stack file anywhere (`examples/org/Pulumi.team-orders.yaml`), whose platform stack is found beside it."""
    if target.endswith((".yaml", ".yml")):
        path = Path(target)
        return stack_of_file(path), path
    return target, None


def load_run(
    stack: str | StackInput,
    config_file: Path | None = None,
    project_dir: Path = PROJECT_DIR,
    on_register: Callable[[Registration], None] | None = None,
    mode: str = NEW_STACK,
    platform_outputs_file: Path | None = None,
) -> ProgramRun:
    """The program run of a stack. A team stack's platform outputs come from `platform_outputs_file`, else from a
    preview of the platform stack when its file is here (`tools/platform_outputs.py`)."""
    given = stack if isinstance(stack, StackInput) else read_stack(stack, config_file, project_dir)
    stack_outputs = referenced_outputs(given, platform_outputs_file, project_dir)
    return run_program(
        given.config,
        given.stack,
        project=given.project,
        stack_file=given.path.name,
        project_dir=project_dir,
        on_register=on_register,
        mode=mode,
        stack_outputs=stack_outputs,
    )


# --- rendering --------------------------------------------------------------------------------------------


# The engine's step labels and their prefixes (pulumi/pulumi `pkg/resource/deploy/step.go` `StepOp`, `RawPrefix`:
# `OpCreate` "create" "+ ", `OpImport` "import" "= ", `OpRead` "read" "> ").
STEP_PREFIXES = {"create": "+", "import": "=", "read": ">"}
# Steps that change something; a read (a StackReference) only reads.
CHANGES = ("create", "import")


def render_tree(run: ProgramRun) -> str:
    children: dict[str, list[Registration]] = {}
    for resource in run.resources:
        children.setdefault(resource.parent, []).append(resource)
    # (op, tree column, name, plan notes)
    rows: list[tuple[str, str, str, list[str]]] = [("create", "pulumi:pulumi:Stack", f"{run.project}-{run.stack}", [])]

    def walk(parent: str, prefix: str) -> None:
        kids = children.get(parent, [])
        for index, resource in enumerate(kids):
            last = index == len(kids) - 1
            branch = "└─ " if last else "├─ "
            notes = ["protected"] if resource.protect else []
            # The id the engine imports, as `pulumi preview --diff` prints it on the import step (`[id=...]`).
            notes += [f"id={resource.import_id or resource.read_id}"] if resource.import_id or resource.read_id else []
            rows.append((resource.op, prefix + branch + resource.type, resource.name, notes))
            walk(resource.urn, prefix + ("   " if last else "│  "))

    walk(run.stack_urn, "")
    type_width = max(len(row[1]) for row in rows) + 2
    name_width = max(len(row[2]) for row in rows) + 2
    lines = [
        f"Previewing update ({run.stack}) offline as a {run.mode} stack: Pulumi mock runtime, nothing is deployed",
        "",
        f"     {'Type':<{type_width}}{'Name':<{name_width}}Plan",
    ]
    lines += [
        f" {STEP_PREFIXES[op]}   {t:<{type_width}}{n:<{name_width}}{op}{' (' + ', '.join(notes) + ')' if notes else ''}"
        for op, t, n, notes in rows
    ]
    lines += ["", "Outputs:"]
    for key, value in sorted(display(run.wire_outputs, unknown=UNKNOWN_DISPLAY).items()):
        rendered = json.dumps(value, indent=4, sort_keys=True).replace("\n", "\n    ")
        rendered = rendered.replace(json.dumps(UNKNOWN_DISPLAY), UNKNOWN_DISPLAY)  # unquoted, as the CLI prints it
        lines.append(f"    {key}: {rendered}")
    if run.warnings:
        lines += ["", "Diagnostics:", f"  pulumi:pulumi:Stack ({run.project}-{run.stack}):"]
        lines += [f"    warning: {warning}" for warning in run.warnings]
    # As the CLI sums up a preview: a line per step kind, then the total when there are several kinds (Pulumi's
    # import guide shows "+ 1 to create", "= 1 to import", "2 changes").
    counts = {op: sum(1 for row in rows if row[0] == op) for op in CHANGES}
    lines += ["", "Resources:"]
    lines += [f"    {STEP_PREFIXES[op]} {count} to {op}" for op, count in counts.items() if count]
    if sum(1 for count in counts.values() if count) > 1:
        lines.append(f"    {sum(counts.values())} changes")
    return "\n".join(lines)


def scale_summary(run: ProgramRun, config: StackConfigBase) -> dict[str, int]:
    """What the run registers of the limits its subscription shares (docs/scale.md), counted from the registrations;
    the program warns past the budget from its own count of the config, which `tests/test_scale.py` holds equal."""
    return {
        "roleAssignments": len(run.by_type(ROLE_ASSIGNMENT)),
        "userAssignedIdentities": len(run.by_type(USER_ASSIGNED_IDENTITY)),
        "roleAssignmentBudget": config.budget.role_assignments,
        "roleAssignmentsPerSubscription": ROLE_ASSIGNMENTS_PER_SUBSCRIPTION,
    }


def render_scale(scale: dict[str, int]) -> str:
    return "\n".join(
        [
            "Scale (docs/scale.md):",
            f"    {scale['roleAssignments']:,} role assignments, budget {scale['roleAssignmentBudget']:,} "
            f"({BUDGET_KEY}.roleAssignments); Azure allows {scale['roleAssignmentsPerSubscription']:,} per "
            "subscription, shared by every stack in it",
            f"    {scale['userAssignedIdentities']:,} user-assigned identities",
        ]
    )


def render_violations(violations: list[PolicyViolation]) -> str:
    """As `pulumi preview` prints them: level, pack, policy, resource; then description and message."""
    if not violations:
        return "Policies:\n    no violations"
    lines = ["Policy Violations:"]
    for violation in violations:
        resource = violation.urn.rsplit("::", 2)
        where = f"{resource[-2].rsplit('$', 1)[-1]}: {resource[-1]}" if len(resource) == 3 else violation.urn
        lines += [
            f"    [{violation.enforcement_level}]  {violation.pack}  {violation.policy_name}  ({where})",
            f"    {violation.description}",
            *(f"    {line}" for line in violation.message.splitlines()),
            "",
        ]
    return "\n".join(lines).rstrip()


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tools.preview", description=__doc__.split("\n\n")[0])
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--stack", help="stack name; reads Pulumi.<stack>.yaml")
    target.add_argument(
        "--compare",
        nargs=2,
        metavar=("LEFT", "RIGHT"),
        help="list resource-level differences between two stacks (each a stack name or a Pulumi.<stack>.yaml path)",
    )
    parser.add_argument(
        "--as",
        dest="mode",
        choices=MODES,
        default=NEW_STACK,
        help="what the provider answers: a new stack (ids and computed values unknown; default) or a deployed one",
    )
    parser.add_argument("--config-file", type=Path, help="stack config file to use instead of Pulumi.<stack>.yaml")
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of the tree")
    parser.add_argument(
        "--platform-outputs",
        type=Path,
        help="a team stack's platform stack outputs, as `pulumi stack output --json` prints them (default: preview "
        "the platform stack when its file is in the project)",
    )
    parser.add_argument("--policy-pack", type=Path, default=PROJECT_DIR / "policy", help="policy pack folder")
    parser.add_argument(
        "--policy-config",
        type=Path,
        help="policy config JSON (default: <policy-pack>/<stack>.json, which must exist)",
    )
    return parser.parse_args(argv)


def policy_config(args: argparse.Namespace) -> tuple[dict[str, Any], str]:
    # Never the pack's defaults: a stack without its own file is refused, as on the real path.
    path = args.policy_config or stack_policy_config(args.stack, args.policy_pack)
    return read_policy_config(path), path.name


def compare_stacks(left: str, right: str, as_json: bool, platform_outputs_file: Path | None = None) -> int:
    """Each side a stack name or a stack file's path (`stack_target`); a team stack runs with its platform stack's
    outputs (`platform_outputs_file`, which a stack without `aca-jobs:platformStack` ignores)."""
    try:
        left_run, right_run = (
            load_run(*stack_target(side), platform_outputs_file=platform_outputs_file) for side in (left, right)
        )
        comparison = compare(left_run, right_run)
    except (UsageError, StackConfigError) as error:
        print(str(error), file=sys.stderr)
        return EXIT_USAGE
    print(json.dumps(comparison.as_json(), indent=2, sort_keys=True) if as_json else render_comparison(comparison))
    # Drift the may-differ table does not allow fails the check (exit 1), as a mandatory violation does.
    return EXIT_POLICY_VIOLATION if comparison.drift else EXIT_OK


def main(
    argv: Sequence[str] | None = None,
    *,
    policy_timeout: float = CALL_TIMEOUT_SECONDS,
    pack: PolicyPackProcess | None = None,
) -> int:
    """`policy_timeout`: the deadline in seconds of each call to the policy pack (tests shorten it). `pack`: a
    running pack process of `--policy-pack` to review with (tests share one); by default the preview starts its
    own and stops it when done."""
    args = parse_args(argv)  # argparse exits 2 on a usage error
    if args.compare:
        return compare_stacks(*args.compare, as_json=args.json, platform_outputs_file=args.platform_outputs)
    try:
        stack_input = read_stack(args.stack, args.config_file)
        config = stack_input.check()  # the stack file's own problems first: they need no policy config to be found
        user_policy_config, policy_source = policy_config(args)
        # The pack boots and analyzes while the program registers resources, as under `pulumi preview`.
        own_pack = PolicyPackProcess(args.policy_pack.resolve(), call_timeout=policy_timeout) if pack is None else None
        with own_pack or contextlib.nullcontext(pack) as active:
            policy_review = PolicyReview(active, user_policy_config, policy_source)
            run = load_run(
                stack_input,
                on_register=policy_review.submit,
                mode=args.mode,
                platform_outputs_file=args.platform_outputs,
            )
            violations = policy_review.finish(run)
        leaving: LeavingReport = leaving_report(args.stack, run)
    except (UsageError, StackConfigError, PolicyConfigError, MissingPolicyConfigError, SnapshotError) as error:
        print(str(error), file=sys.stderr)
        return EXIT_USAGE
    except PolicyPackTimeoutError as error:  # names the pack and what it did not answer
        print(str(error), file=sys.stderr)
        return EXIT_FAILURE
    except (grpc.RpcError, RuntimeError) as error:
        details = error.details() if isinstance(error, grpc.RpcError) else str(error)
        print(f"policy pack {args.policy_pack} failed, so the stack was not reviewed: {details}", file=sys.stderr)
        return EXIT_FAILURE
    if args.json:
        document = {
            **run.as_json(),
            "policyViolations": [v.as_json() for v in violations],
            "leavingStatefulResources": leaving.as_json(),
            "scale": scale_summary(run, config),
        }
        print(json.dumps(document, indent=2, sort_keys=True))
    else:
        print(render_tree(run))
        print()
        print(render_scale(scale_summary(run, config)))
        print()
        print(leaving.render())
        print()
        print(render_violations(violations))
    mandatory = any(v.enforcement_level == "mandatory" for v in violations)
    return EXIT_POLICY_VIOLATION if mandatory else EXIT_OK


def exit_now(code: int) -> None:
    """Exit without interpreter finalization: the Pulumi SDK leaves per-thread event loops whose finalizers
    can print an "Exception ignored" traceback at shutdown, after the real output."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    try:
        code = main()
    except KeyboardInterrupt:  # the pack was closed on the way out (and dies with us anyway: PDEATHSIG)
        print("interrupted: the stack was not reviewed", file=sys.stderr)
        code = 130
    except Exception:  # a bug in this tool: show it, but never with the exit code of a verdict
        traceback.print_exc()
        code = EXIT_FAILURE
    exit_now(code)
