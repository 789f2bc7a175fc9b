"""Reading the stack's Pulumi config into `StackConfig`, and turning validation errors into messages.

A message names the stack file, the key path as written in YAML and the fix, e.g.

    Pulumi.dev.yaml: aca-jobs:manualJobs.job-orders-backfill.replicaRetryLimit: replicaRetryLimit 3 re-runs
    ... Fix: lower replicaRetryLimit to 0 or 1, or set `idempotent: true` if re-running is safe.

`StackConfigError` subclasses `pulumi.RunError`, so under the real CLI the program stops with the message
and no traceback, before any resource is registered.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

import pulumi
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from components.config import LOCATION_KEY, PROJECT, RULE_ERROR, StackConfig

# The offline preview runs a config file that may not be named Pulumi.<stack>.yaml; it says which here.
STACK_FILE_ENV = "ACA_JOBS_STACK_FILE"


class StackConfigError(pulumi.RunError):
    """The stack's config breaks the contract. The message is for the person who wrote the stack file."""


def stack_file_name() -> str:
    return os.environ.get(STACK_FILE_ENV) or f"Pulumi.{pulumi.get_stack()}.yaml"


def raw_stack_config() -> dict[str, Any]:
    """This project's config keys (and the provider location) as the engine passed them, JSON decoded.

    Every `aca-jobs:*` key is collected, not only the known ones, so that a misspelt key is reported
    instead of silently ignored.
    """
    passed: dict[str, Any] = {**pulumi.runtime.get_config_env(), **pulumi.runtime.config.CONFIG.get()}
    raw: dict[str, Any] = {}
    for key, value in passed.items():
        if key.startswith(f"{PROJECT}:"):
            raw[key] = _decode(value)
        elif key == LOCATION_KEY:
            raw[key] = value
    return raw


def _decode(value: Any) -> Any:
    # Structured config arrives JSON-encoded; a plain string that is not JSON stays a string (and then fails
    # validation with a type message, which is what the user needs to see).
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def load_stack_config(raw: Mapping[str, Any] | None = None, stack_file: str | None = None) -> StackConfig:
    """Validate the stack's config. Raises `StackConfigError` listing every problem found."""
    raw = raw_stack_config() if raw is None else raw
    stack_file = stack_file or stack_file_name()
    try:
        return StackConfig.model_validate(dict(raw))
    except ValidationError as error:
        raise StackConfigError(format_errors(error, stack_file)) from None


def format_errors(error: ValidationError, stack_file: str) -> str:
    lines = [_format_one(detail, stack_file) for detail in error.errors(include_url=False)]
    header = f"{stack_file}: {len(lines)} config problem{'s' if len(lines) != 1 else ''} (nothing was created):"
    return "\n".join([header, *(f"  - {line}" for line in sorted(set(lines)))])


def _format_one(detail: ErrorDetails, stack_file: str) -> str:
    path, problem, fix = key_path(detail), detail["msg"], None
    if detail["type"] == RULE_ERROR:
        fix = detail.get("ctx", {}).get("fix")
    else:
        problem, fix = _describe_pydantic_error(detail)
    message = f"{stack_file}: {path}: {problem}"
    return f"{message}. Fix: {fix}." if fix else f"{message}."


def key_path(detail: ErrorDetails) -> str:
    """The YAML key path: config key, then nested keys, joined with '.'; a map key error names the key."""
    parts = [str(part) for part in detail["loc"] if part != "[key]"]
    extra = (detail.get("ctx") or {}).get("key") if detail["type"] == RULE_ERROR else None
    if extra:
        # Cross-field rules on the top-level model already carry the full path.
        parts = extra.split(".") if not parts else [*parts, extra]
    if not parts:
        return "(stack config)"
    return ".".join(parts) if ":" in parts[0] else f"{PROJECT}:" + ".".join(parts)


def _describe_pydantic_error(detail: ErrorDetails) -> tuple[str, str]:
    kind, ctx, given = detail["type"], detail.get("ctx") or {}, detail.get("input")
    shown = json.dumps(given) if isinstance(given, str | int | float | bool) or given is None else "a map/list"
    expected = {
        "int_type": ("a whole number", "write a number without quotes or decimals"),
        "float_type": ("a number", "write a number without quotes, e.g. 0.5"),
        "bool_type": ("true or false", "write `true` or `false` without quotes"),
        "string_type": ("text", "write a string value"),
        "dict_type": ("a map of keys", "indent the keys below it as a YAML map"),
        "model_type": ("a map of keys", "indent the keys below it as a YAML map"),
        "model_attributes_type": ("a map of keys", "indent the keys below it as a YAML map"),
    }
    if kind in expected:
        what, fix = expected[kind]
        return f"must be {what}, got {shown}", fix
    if kind == "literal_error":
        return f"must be one of {ctx['expected']}, got {shown}", f"use one of {ctx['expected']}"
    if kind == "missing":
        return "is required", "add this key"
    if kind == "greater_than_equal":
        return f"must be at least {ctx['ge']}, got {shown}", f"set it to {ctx['ge']} or more"
    if kind == "less_than_equal":
        return f"must be at most {ctx['le']}, got {shown}", f"set it to {ctx['le']} or less"
    if kind == "string_too_short":
        return "must not be empty", "set a value"
    if kind == "extra_forbidden":
        return "unknown key", "remove it"
    return detail["msg"], "see the config reference in README.md"
