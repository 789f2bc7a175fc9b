"""Which stacks the workflows deploy and preview, read from the stack files in the repository (docs/teams.md).

    python -m tools.delivery plan                 # deploy.yml: the stacks by role, for $GITHUB_OUTPUT
    git diff --name-only HEAD^1 HEAD | python -m tools.delivery affected
                                                  # pull-request.yml: the stacks a change touches
    python -m tools.delivery time-zones [--since-hours 26]
                                                  # time-zones.yml: the stacks to apply again after an offset change

Every `Pulumi.<stack>.yaml` beside `Pulumi.yaml` is one of three roles (issue 17):
- a single stack: `aca-jobs:platform` and jobs (the committed dev, staging and prod), deployed in promotion order
  by jobs of their own in deploy.yml, as before;
- a platform stack: `aca-jobs:platform` and no jobs; deployed first;
- a team stack: `aca-jobs:platformStack` (and `aca-jobs:team`); deployed after every platform stack.

`plan` prints `singles`, `platforms`, `teams` and `protected` (the platform and team stacks whose `protect` is
true: their deploy refuses a GitHub environment without required reviewers, as prod's does), each a JSON list
on one `name=value` line, the format of $GITHUB_OUTPUT.

`affected` reads changed paths (one a line, as `git diff --name-only` prints them) and prints `stacks=<JSON list>`:
- `Pulumi.<stack>.yaml` or `policy/<stack>.json`: that stack; for a platform stack, also every team stack whose
  `platformStack` names it (their preview reads its outputs);
- `docs/...` or a `*.md` file: no stack;
- anything else (the program, the platform contract, the policy pack, the pins, the tools, the workflows): every
  stack, since it can change what any stack registers.

`time-zones` prints `stacks` (the stacks with a scheduled job whose `timeZone` changed its UTC offset within the last
`--since-hours` hours, in a way that moves the job's UTC expression: they must be applied again, docs/schedules.md)
and `protected` (those of them whose deploy requires reviewers: prod, and platform and team stacks with `protect`).

Only the stacks' roles are read here (no validation): the offline preview refuses a malformed stack file, naming
the key. A file this tool cannot classify (both `platform` and `platformStack`, or neither) is a usage error
(exit 2) naming the file and the fix.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from pathlib import Path

from components import scheduled_job
from components.config import PROJECT
from components.job_kinds import JOB_CONFIG_KEYS
from components.local_schedule import Refusal, ZoneError, load_zone, to_utc
from components.stack_config import StackConfigError, check_stack_file
from policy.aca_facts.cron import CronError
from tools.offline import PROJECT_DIR

PLATFORM_KEY = f"{PROJECT}:platform"
PLATFORM_STACK_KEY = f"{PROJECT}:platformStack"
TEAM_KEY = f"{PROJECT}:team"
SCHEDULED_JOBS_KEY = f"{PROJECT}:scheduledJobs"
# time-zones.yml runs daily: a change seen by one run only, with two hours for a late scheduled run (GitHub may start
# scheduled workflows late under load).
REAPPLY_WINDOW_HOURS = 26

_STACK_FILE = re.compile(r"^Pulumi\.(?P<stack>[^/]+)\.yaml$")
_POLICY_CONFIG = re.compile(r"^policy/(?P<stack>[^/]+)\.json$")
# Promotion order of the single stacks (dev first, prod last; any other between them, by name).
_PROMOTION_ORDER = {"dev": 0, "prod": 2}


class Role(Enum):
    SINGLE = "single"
    PLATFORM = "platform"
    TEAM = "team"


@dataclass(frozen=True)
class Stack:
    name: str
    role: Role
    protect: bool
    platform_stack: str | None  # a team stack's `platformStack`, as written (<organization>/<project>/<stack>)

    @property
    def platform_stack_name(self) -> str | None:
        """The last part of `platformStack`: the name of the referenced stack's `Pulumi.<stack>.yaml`."""
        return None if self.platform_stack is None else self.platform_stack.rsplit("/", 1)[-1]


class DeliveryError(Exception):
    """A stack file whose role cannot be told; the message names the file and the fix."""


def classify(path: Path) -> Stack:
    name = path.name.removeprefix("Pulumi.").removesuffix(".yaml")
    try:
        config = check_stack_file(path)
    except StackConfigError as error:
        raise DeliveryError(str(error)) from None
    has_platform, has_reference = PLATFORM_KEY in config, PLATFORM_STACK_KEY in config
    if has_platform and has_reference:
        raise DeliveryError(
            f"{path.name}: sets both `{PLATFORM_KEY}` and `{PLATFORM_STACK_KEY}`. Fix: keep `{PLATFORM_KEY}` for a "
            f"stack that creates its platform, or `{PLATFORM_STACK_KEY}` (with `{TEAM_KEY}`) for a team stack."
        )
    if not has_platform and not has_reference:
        raise DeliveryError(
            f"{path.name}: sets neither `{PLATFORM_KEY}` nor `{PLATFORM_STACK_KEY}`, so it is no stack of this "
            f"project. Fix: add one (docs/teams.md)."
        )
    if has_reference:
        team = config.get(TEAM_KEY)
        protect = isinstance(team, dict) and team.get("protect") is True
        reference = config[PLATFORM_STACK_KEY]
        return Stack(name, Role.TEAM, protect, reference if isinstance(reference, str) else None)
    platform = config[PLATFORM_KEY]
    protect = isinstance(platform, dict) and platform.get("protect") is True
    has_jobs = any(config.get(key) for key in JOB_CONFIG_KEYS)
    return Stack(name, Role.SINGLE if has_jobs else Role.PLATFORM, protect, None)


def stacks_in(project_dir: Path = PROJECT_DIR) -> list[Stack]:
    """Every stack file beside Pulumi.yaml, by name."""
    return [classify(path) for path in sorted(project_dir.glob("Pulumi.*.yaml"))]


def promotion_order(names: Iterable[str]) -> list[str]:
    return sorted(names, key=lambda name: (_PROMOTION_ORDER.get(name, 1), name))


def plan(stacks: Sequence[Stack]) -> dict[str, list[str]]:
    def named(role: Role) -> list[str]:
        return [stack.name for stack in stacks if stack.role is role]

    return {
        "singles": promotion_order(named(Role.SINGLE)),
        "platforms": named(Role.PLATFORM),
        "teams": named(Role.TEAM),
        "protected": [stack.name for stack in stacks if stack.role is not Role.SINGLE and stack.protect],
    }


def affected(changed: Iterable[str], stacks: Sequence[Stack]) -> list[str]:
    """The stacks whose preview a change to these paths can change, in `stacks_in` order."""
    by_name = {stack.name: stack for stack in stacks}
    selected: set[str] = set()
    for path in (line.strip() for line in changed):
        if not path:
            continue
        match = _STACK_FILE.match(path) or _POLICY_CONFIG.match(path)
        if match:
            stack = by_name.get(match["stack"])
            if stack is None:  # a stack file or config removed by the change, or another project's
                continue
            selected.add(stack.name)
            if stack.role is Role.PLATFORM:
                selected |= {team.name for team in stacks if team.platform_stack_name == stack.name}
        elif path.startswith("docs/") or path.endswith(".md"):
            continue
        else:
            return [stack.name for stack in stacks]
    return [stack.name for stack in stacks if stack.name in selected]


def _requires_reviewers(stack: Stack) -> bool:
    """Whether the stack's deploy refuses an environment without reviewers, as deploy.yml asks it to."""
    return stack.name == "prod" if stack.role is Role.SINGLE else stack.protect


def _schedule_moved(path: Path, job: str, settings: dict[str, object], now: datetime, since: timedelta) -> bool:
    """Whether the job's time zone changed its UTC offset within `since` before `now` so that its UTC expression
    moved. A time-zone job the program would refuse is a `DeliveryError` naming its key."""
    key = f"{path.name}: {SCHEDULED_JOBS_KEY}.{job}"
    zone_name, expression = settings.get("timeZone"), settings.get("cronExpression")
    if not isinstance(zone_name, str) or not isinstance(expression, str):
        raise DeliveryError(f"{key}: `timeZone` and `cronExpression` must be text. Fix: see the offline preview.")
    try:
        zone = load_zone(zone_name)
    except ZoneError as error:
        raise DeliveryError(f"{key}.timeZone: {error}") from None
    try:
        then = to_utc(expression, zone, now - since)
    except CronError as error:
        raise DeliveryError(f"{key}.cronExpression: {error}") from None
    if isinstance(then, Refusal):
        raise DeliveryError(f"{key}.cronExpression: {then.problem}. Fix: {then.fix}.")
    passed = [change for change in then.changes if change.at <= now]
    return bool(passed) and passed[-1].expression != then.expression


def reapply_due(
    stacks: Sequence[Stack], now: datetime, since: timedelta, project_dir: Path = PROJECT_DIR
) -> dict[str, list[str]]:
    """The stacks to apply again because a time-zone job's UTC expression moved within `since` before `now`."""
    due: list[Stack] = []
    for stack in stacks:
        path = project_dir / f"Pulumi.{stack.name}.yaml"
        jobs = check_stack_file(path).get(SCHEDULED_JOBS_KEY)
        if not isinstance(jobs, dict):
            continue
        timed = [
            (job, settings) for job, settings in jobs.items() if isinstance(settings, dict) and "timeZone" in settings
        ]
        if any(_schedule_moved(path, str(job), settings, now, since) for job, settings in timed):
            due.append(stack)
    return {
        "stacks": [stack.name for stack in due],
        "protected": [stack.name for stack in due if _requires_reviewers(stack)],
    }


def _output_lines(values: dict[str, list[str]]) -> str:
    return "".join(f"{key}={json.dumps(value)}\n" for key, value in values.items())


def _hours(text: str) -> int:
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= 24 * 14:
        raise argparse.ArgumentTypeError(f"`{text}` is not a whole number of hours from 1 to 336")
    return int(text)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.delivery", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["plan", "affected", "time-zones"])
    parser.add_argument("--project-dir", type=Path, default=PROJECT_DIR, help="where the stack files are")
    parser.add_argument(
        "--since-hours",
        type=_hours,
        default=REAPPLY_WINDOW_HOURS,
        help=f"time-zones: offset changes within this many hours before now, 1 to 336 (default {REAPPLY_WINDOW_HOURS})",
    )
    args = parser.parse_args(argv)
    try:
        stacks = stacks_in(args.project_dir)
        if args.command == "time-zones":
            since = timedelta(hours=args.since_hours)
            output = reapply_due(stacks, scheduled_job.clock(), since, args.project_dir)
    except DeliveryError as error:
        print(str(error), file=sys.stderr)
        return 2
    if args.command == "plan":
        sys.stdout.write(_output_lines(plan(stacks)))
    elif args.command == "affected":
        sys.stdout.write(_output_lines({"stacks": affected(sys.stdin, stacks)}))
    else:
        sys.stdout.write(_output_lines(output))
    return 0


if __name__ == "__main__":
    sys.exit(main())
