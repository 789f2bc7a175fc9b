"""Reading the stack's Pulumi config into `StackConfig`, and turning validation errors into messages.

Every problem of a run is listed, grouped per job; each names the stack file, the key path as written in YAML and
the fix, e.g.

    Pulumi.dev.yaml: 1 config problem (nothing was created):
      aca-jobs:manualJobs.job-orders-backfill:
        - Pulumi.dev.yaml: aca-jobs:manualJobs.job-orders-backfill.replicaRetryLimit: replicaRetryLimit 3 re-runs
          ... Fix: lower replicaRetryLimit to 0 or 1, or set `idempotent: true` if re-running is safe.

`StackConfigError` subclasses `pulumi.RunError`, so under the real CLI the program stops with the message
and no traceback, before any resource is registered.
"""

from __future__ import annotations

import difflib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pulumi
from pydantic import ValidationError

from components.config import CLOUD_KEY, LOCATION_KEY, PROJECT, SUBSCRIPTION_KEY, StackConfigBase
from components.config_problems import collect_problems, format_problems
from components.job_kinds import StackConfig
from components.stack_file import StackFileError, load_stack_yaml

# The provider's keys the program reads (its region, its cloud, its subscription): every other `azure-native:` key is
# the provider's alone and passes untouched.
PROVIDER_KEYS = (LOCATION_KEY, CLOUD_KEY, SUBSCRIPTION_KEY)

# The offline preview runs a config file that may not be named Pulumi.<stack>.yaml; it says which here.
STACK_FILE_ENV = "ACA_JOBS_STACK_FILE"


class StackConfigError(pulumi.RunError):
    """The stack's config breaks the contract. The message is for the person who wrote the stack file."""


def stack_file_name() -> str:
    return os.environ.get(STACK_FILE_ENV) or f"Pulumi.{pulumi.get_stack()}.yaml"


# The keys of this project, without the namespace: a key outside `aca-jobs:` that names one of them, or a
# namespace that is a near miss of ours, is a mistake that would silently drop jobs and queues.
PROJECT_KEYS = tuple(
    field.alias.split(":", 1)[1]
    for field in StackConfig.model_fields.values()
    if field.alias and field.alias.startswith(f"{PROJECT}:")
)


def misplaced_key_problem(key: str) -> str | None:
    """Why a config key outside this project's namespace is probably one of ours (with the fix), or None for
    another provider's key, which passes untouched."""
    namespace, _, name = key.rpartition(":")
    if namespace == PROJECT or key in PROVIDER_KEYS:
        return None
    close = difflib.get_close_matches(namespace, [PROJECT], n=1, cutoff=0.75) if namespace else []
    if close or (not namespace and name in PROJECT_KEYS):
        fix = f"`{PROJECT}:{name}`" if name in PROJECT_KEYS else f"a key in the `{PROJECT}:` namespace"
        return f"is not read by this project, so whatever it configures is ignored. Fix: did you mean {fix}?"
    return None


def account_for_keys(config: Mapping[str, Any], file_name: str) -> dict[str, Any]:
    """Every key of the stack file's `config:`, accounted for: bare keys belong to this project (as the Pulumi
    CLI reads them), a key given both bare and namespaced is refused, a near miss of ours is refused with "did
    you mean", other providers' keys pass untouched. Returns the config with full keys."""
    values: dict[str, Any] = {}
    written: dict[str, str] = {}
    for key, value in config.items():
        full_key = key if ":" in key else f"{PROJECT}:{key}"
        if full_key in written:
            raise StackConfigError(
                f"{file_name}: {key}: sets `{full_key}`, which `{written[full_key]}` already sets; only one "
                "would be used. Fix: keep one, merging what both say."
            )
        problem = misplaced_key_problem(full_key if ":" not in key else key)
        if problem:
            raise StackConfigError(f"{file_name}: {key}: {problem}")
        written[full_key] = key
        values[full_key] = value
    return values


def check_stack_file(path: Path) -> dict[str, Any]:
    """The stack file's config, read strictly (see `components.stack_file`) and every key accounted for."""
    try:
        document = load_stack_yaml(path)
    except StackFileError as error:
        raise StackConfigError(str(error)) from None
    config = document.get("config") or {}
    if not isinstance(config, dict):
        raise StackConfigError(f"{path.name}: `config` must be a map of config keys.")
    return account_for_keys(config, path.name)


def raw_stack_config() -> dict[str, Any]:
    """This project's config keys (and the provider's location, cloud and subscription) as the engine passed them,
    JSON decoded.

    Every `aca-jobs:*` key is collected, not only the known ones, so that a misspelt key is reported
    instead of silently ignored.
    """
    passed: dict[str, Any] = {**pulumi.runtime.get_config_env(), **pulumi.runtime.config.CONFIG.get()}
    raw: dict[str, Any] = {}
    for key, value in passed.items():
        problem = misplaced_key_problem(key)
        if problem:
            raise StackConfigError(f"{stack_file_name()}: {key}: {problem}")
        if key.startswith(f"{PROJECT}:"):
            raw[key] = decode_config_value(value)
        elif key in PROVIDER_KEYS:
            raw[key] = value
    return raw


def decode_config_value(value: Any) -> Any:
    # Structured config arrives JSON-encoded; a plain string that is not JSON stays a string (and then fails
    # validation with a type message, which is what the user needs to see).
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def load_stack_config(raw: Mapping[str, Any] | None = None, stack_file: str | None = None) -> StackConfigBase:
    """Validate the stack's config. Raises `StackConfigError` listing every problem found, grouped per job
    (`components.config_problems`).

    Under the Pulumi CLI the program sees config after YAML has been parsed (a duplicate key already dropped),
    so it also reads its own stack file strictly when it is there."""
    if raw is None:
        raw = raw_stack_config()
        path = Path(stack_file or stack_file_name())
        if os.environ.get(STACK_FILE_ENV) is None and path.is_file():
            check_stack_file(path)
    stack_file = stack_file or stack_file_name()
    try:
        return StackConfig.model_validate(dict(raw))
    except ValidationError:
        pass  # collected again below, every problem and not only the first of each kind
    job_keys = list(StackConfig.job_keys().values())
    problems = collect_problems(raw, StackConfig, job_keys)
    raise StackConfigError(format_problems(problems, stack_file, job_keys))
