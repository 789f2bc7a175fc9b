"""Every problem of a stack file's config in one run, grouped per job, each naming the YAML key and the fix.

pydantic stops early in three ways, and each cost a newcomer one more run:
- an unknown key makes the model refuse the whole map, so the map's other keys are never checked: here unknown
  keys are found first, on the whole tree, reported, and taken out before validation;
- a model's rules (`model_validator(mode="after")`) run only when all its fields are valid, and the rules across
  the stack (`StackConfigBase._check_across_jobs`: registry, Key Vault, workload profile, CPU and memory, quota)
  only when every job of every kind is. Here each job is checked against the platform alone: as written when it
  has no problem of its own; with the fixes given for its values written in when each of its problems is a value
  of the wrong type with one fix (`cpu: "0.5"` -> 0.5), so that what the fix would run into next shows too; not
  at all otherwise. Then the jobs that pass alone are checked together (the rules across jobs);
- a rule check used to raise at its first broken rule; `components/config.py` now collects every broken rule of a
  check and raises them together (`raise_all`), so the second broken rule of a job, and every job's stack rules,
  show in the same run. What stays for a next run: the stack's rules on a job whose own rules are broken.

Unknown keys are told where they belong when they are a key at another level (`aca-jobs:alerts` ->
`aca-jobs:platform.alerts`, `cronExpression` on a manual job -> `aca-jobs:scheduledJobs`), and a value of the wrong
type is answered with what to write (`memory: 2` -> `memory: 2Gi`, `env` as a list of `NAME=value` -> the map).
"""

from __future__ import annotations

import copy
import difflib
import functools
import json
import re
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from components.config import ENCRYPTED_VALUE_FIX, ENCRYPTED_VALUE_PROBLEM, PROJECT, RULE_ERROR, JobSettings

# Enough for any real first run; a hostile file with thousands of unknown keys gets a count instead of them all.
MAX_SHOWN = 100


@dataclass(frozen=True)
class Problem:
    key: str  # the full YAML key path, e.g. `aca-jobs:manualJobs.job-x.memory`
    problem: str
    fix: str | None

    def line(self, stack_file: str) -> str:
        message = f"{stack_file}: {self.key}: {self.problem}"
        return f"{message}. Fix: {self.fix}." if self.fix else f"{message}."


def join_key(parts: list[str]) -> str:
    """Key parts as the YAML key path: joined with '.', under the project namespace unless the first part names
    its own (`azure-native:location`)."""
    if not parts:
        return "(stack config)"
    return ".".join(parts) if ":" in parts[0] else f"{PROJECT}:" + ".".join(parts)


# --- the tree of config keys ---------------------------------------------------------------------------------


def _held_model(annotation: Any) -> tuple[str, type[BaseModel]] | None:
    """How a field holds config objects: ("model" | "map" | "list", the model), or None for plain values (text,
    numbers, and unions such as an env value, which their own validator decides)."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _held_model(get_args(annotation)[0])
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "model", annotation
    if origin in (Union, types.UnionType):
        members = [member for member in get_args(annotation) if member is not type(None)]
        return _held_model(members[0]) if len(members) == 1 else None
    if origin in (dict, list):
        inner = _held_model(get_args(annotation)[-1])
        if inner is not None and inner[0] == "model":
            return ("map" if origin is dict else "list"), inner[1]
    return None


def _fields(model: type[BaseModel]) -> dict[str, Any]:
    """Key as written in YAML -> annotation, for each field of `model` (of each of its variants)."""
    return {
        field.alias or name: field.annotation
        for variant in _variants(model)
        for name, field in variant.model_fields.items()
    }


# A model that validates its data as one of several (an event job, as the model of its source block: `components/
# event_sources/__init__.py` `event_job_config`) names them in `SOURCE_MODELS`, each by the key that chooses it
# (`SOURCE_KEY`). Its data is read with the model it chooses; data that chooses none (or several) with all of them.


def _variants(model: type[BaseModel]) -> list[type[BaseModel]]:
    return list(getattr(model, "SOURCE_MODELS", {}).values()) or [model]


def _chosen(model: type[BaseModel], data: Any) -> type[BaseModel]:
    variants = getattr(model, "SOURCE_MODELS", {})
    chosen = [variant for key, variant in variants.items() if isinstance(data, dict) and key in data]
    return chosen[0] if len(chosen) == 1 else model


def _bare(key: str) -> str:
    return key.rpartition(":")[2]


@dataclass(frozen=True)
class _Home:
    """Where a key is read: the key path of its map (`<job>`, `<name>`, `<n>` for any job, map entry or list
    item; empty for the top level) and the model that reads it."""

    parent: str
    key: str
    model: type[BaseModel]
    holds_map: bool  # its value is a map of keys (a config object, or a map of them)

    @property
    def path(self) -> str:
        return f"{self.parent}.{self.key}" if self.parent else self.key


@functools.cache
def key_homes(model: type[BaseModel], parent: str = "") -> dict[str, list[_Home]]:
    """Every key of the config tree under `model`, by its name without namespace in lower case."""
    homes: dict[str, list[_Home]] = {}
    # The keys every variant shares are read by `model` itself; each variant's own keys by the variant.
    shared = {field.alias or name: field.annotation for name, field in model.model_fields.items()}
    fields = [(model, key, annotation) for key, annotation in shared.items()] + [
        (variant, field.alias or name, field.annotation)
        for variant in _variants(model)
        if variant is not model
        for name, field in variant.model_fields.items()
        if (field.alias or name) not in shared
    ]
    for reader, key, annotation in fields:
        held = _held_model(annotation)
        home = _Home(parent, key, reader, held is not None and held[0] != "list")
        homes.setdefault(_bare(key).lower(), []).append(home)
        if held is None:
            continue
        how, child = held
        placeholder = {"model": "", "map": ".<job>" if issubclass(child, JobSettings) else ".<name>", "list": ".<n>"}
        for name, found in key_homes(child, home.path + placeholder[how]).items():
            homes.setdefault(name, []).extend(found)
    return homes


def unknown_key_fix(
    model: type[BaseModel], key: str, value: Any, path: list[str], homes: Mapping[str, list[_Home]]
) -> tuple[str, str | None]:
    """What to do with `key`, which `model` (at `path`) does not read: rename it to the key of this map it is a
    case, namespace or spelling slip of, move it where it belongs when it is a key at another level, or remove it.
    Also the key of this map it was meant as, if any.

    A name can be a key in several places (`aca-jobs:environment`: `azure-native:environment`, the cloud, or
    `aca-jobs:platform.environment`, a map): the places whose value has the shape of `value` (a map or not) are
    named, or all of them when none has."""
    name = _bare(key)
    named = homes.get(name.lower(), [])
    if any(_reads(home.model, model) and home.key.lower() == key.lower() for home in named):
        meant = next(home.key for home in named if _reads(home.model, model))
        return f"did you mean `{meant}`? Keys are case-sensitive", meant
    shaped = [home for home in named if home.holds_map == isinstance(value, dict)] or named
    here = [home for home in shaped if _reads(home.model, model)]
    elsewhere = [home for home in shaped if not _reads(home.model, model)]
    sibling = [home for home in elsewhere if _is_sibling_variant(model, home.model)]
    if sibling and not here:
        other, this = sibling[0].model.SOURCE_KEY, model.SOURCE_KEY  # type: ignore[attr-defined]
        return (
            f"`{sibling[0].key}` is a key of event jobs with `{other}`, and this job has `{this}`: remove it, or make "
            f"this a `{other}` job"
        ), None
    if here and not elsewhere:
        return f"did you mean `{here[0].key}`? Rename it", here[0].key
    if elsewhere:
        return _belongs_elsewhere(model, elsewhere[0].key, path, elsewhere + here), None
    fields = {_bare(known): known for known in _fields(model)}
    close = difflib.get_close_matches(name, list(fields), n=1, cutoff=0.6)
    if close:
        return f"did you mean `{fields[close[0]]}`? Rename it, or remove it", fields[close[0]]
    close = difflib.get_close_matches(name.lower(), list(homes), n=1, cutoff=0.8)
    meant = [home for home in homes[close[0]] if not _reads(home.model, model)] if close else []
    if meant:
        return f"did you mean `{meant[0].key}`? " + _belongs_elsewhere(model, meant[0].key, path, meant), None
    return "remove it; allowed keys here: " + ", ".join(f"`{known}`" for known in sorted(fields.values())), None


def _reads(reader: type[BaseModel], model: type[BaseModel]) -> bool:
    """Whether `model` reads the keys `reader` reads: it is `reader`, or one of its variants."""
    return reader is model or model in _variants(reader)


def _is_sibling_variant(model: type[BaseModel], other: type[BaseModel]) -> bool:
    """Two variants of one model (event jobs of two sources): each is chosen by its own key."""
    return model is not other and all(isinstance(getattr(m, "SOURCE_KEY", None), str) for m in (model, other))


def _belongs_elsewhere(model: type[BaseModel], name: str, path: list[str], homes: list[_Home]) -> str:
    job_kinds = [home.parent.rpartition(".")[0] for home in homes if issubclass(home.model, JobSettings)]
    if issubclass(model, JobSettings) and job_kinds and len(path) == 2:
        kinds = " or ".join(f"`{kind}`" for kind in dict.fromkeys(job_kinds))
        return (
            f"`{name}` is a key of the jobs under {kinds}: if `{path[1]}` is meant to be such a job, move it from "
            f"`{path[0]}` to {kinds}; otherwise remove `{name}`"
        )
    shown = homes[:3]
    places = " or ".join(_under(home) for home in shown)
    return f"`{name}` belongs under {places}: move it there (" + ", ".join(f"`{h.path}`" for h in shown) + ")"


def _under(home: _Home) -> str:
    return f"`{home.parent}`" if home.parent else "`config:` itself"


# --- unknown keys, all of them --------------------------------------------------------------------------------


@dataclass
class _UnknownKeys:
    homes: Mapping[str, list[_Home]]
    found: list[Problem]
    meant: set[str]  # key paths an unknown key is a slip of: "is required" there is the same problem

    def strip(self, data: Any, model: type[BaseModel], path: list[str]) -> Any:
        """`data` without the keys `model` does not read (each reported), at every level below."""
        if not isinstance(data, dict):
            return data
        model = _chosen(model, data)
        fields = _fields(model)
        kept: dict[Any, Any] = {}
        for key, value in data.items():
            if key in fields:
                kept[key] = self._descend(value, fields[key], [*path, key])
            elif len(self.found) >= MAX_SHOWN:  # beyond what is shown: counted, without the work of a hint
                self.found.append(Problem(join_key([*path, str(key)]), "unknown key", "remove it"))
            elif _refused_with_its_own_message(model, key, value):
                kept[key] = value  # the model says why (e.g. a secret's `value`), better than "unknown key"
            else:
                fix, meant = unknown_key_fix(model, str(key), value, path, self.homes)
                self.found.append(Problem(join_key([*path, str(key)]), "unknown key", fix))
                if meant is not None:
                    self.meant.add(join_key([*path, meant]))
        return kept

    def _descend(self, value: Any, annotation: Any, path: list[str]) -> Any:
        held = _held_model(annotation)
        if held is None:
            return value
        how, model = held
        if how == "model":
            return self.strip(value, model, path)
        if how == "map" and isinstance(value, dict):
            return {name: self.strip(item, model, [*path, str(name)]) for name, item in value.items()}
        if how == "list" and isinstance(value, list):
            return [self.strip(item, model, [*path, str(index)]) for index, item in enumerate(value)]
        return value


def _refused_with_its_own_message(model: type[BaseModel], key: Any, value: Any) -> bool:
    try:
        model.model_validate({key: value})
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        return (
            first["type"] == RULE_ERROR and first["msg"] != "unknown key" and (first.get("ctx") or {}).get("key") == key
        )
    return False


# --- every problem ---------------------------------------------------------------------------------------------


def collect_problems(raw: Mapping[str, Any], model: type[BaseModel], job_keys: list[str]) -> list[Problem]:
    """Every problem `model` (the stack config) finds in `raw`, as far as its checks can tell in one run.

    `job_keys`: the config keys of the job maps (`aca-jobs:manualJobs`, ...)."""
    unknown = _UnknownKeys(key_homes(model), [], set())
    config = unknown.strip(dict(raw), model, [])
    details = _errors(model, config)
    found = [problem for problem in map(describe, details) if not _is_a_slip(problem, unknown.meant)]
    found += _hidden_by_others(model, config, job_keys, details)
    # One line per problem, in the order found within each key (a value's type, then what its fix would break).
    return sorted(dict.fromkeys([*unknown.found, *found]), key=lambda problem: problem.key)


def _is_a_slip(problem: Problem, meant: set[str]) -> bool:
    return problem.problem == "is required" and problem.key in meant


def _errors(model: type[BaseModel], config: dict[str, Any]) -> list[ErrorDetails]:
    try:
        model.model_validate(config)
    except ValidationError as error:
        return error.errors(include_url=False)
    return []


def _hidden_by_others(
    model: type[BaseModel], config: dict[str, Any], job_keys: list[str], details: list[ErrorDetails]
) -> list[Problem]:
    """The rules a problem elsewhere kept from running. Each job is checked against the platform alone: as written
    when it has no problem of its own, with the fixes given for its values when each of its problems is a value of
    the wrong type whose fix is one value (`cpu: "0.5"` -> 0.5), else not at all (its problems are reported, and
    the next run checks the rest). The jobs that pass alone are then checked together (the rules across jobs)."""
    if any(detail["loc"] and detail["loc"][0] not in job_keys for detail in details):
        return []  # the platform or the location is broken (or missing): no job can be checked against it
    base = {key: value for key, value in config.items() if key not in job_keys}
    passed: dict[str, dict[str, Any]] = {}
    found: list[Problem] = []
    for kind in job_keys:
        jobs = config.get(kind)
        if not isinstance(jobs, dict):
            continue
        for name, job in jobs.items():
            own = [detail for detail in details if tuple(detail["loc"][:2]) == (kind, name)]
            checked = _with_fixes_applied(job, own)
            if checked is None:
                continue
            alone = [describe(detail) for detail in _errors(model, {**base, kind: {name: checked}})]
            found += alone
            if not alone:
                passed.setdefault(kind, {})[name] = checked
    if sum(len(jobs) for jobs in passed.values()) > 1:
        found += [describe(detail) for detail in _errors(model, {**base, **passed})]
    return found


def _with_fixes_applied(job: Any, details: list[ErrorDetails]) -> Any | None:
    """`job` with the one-value fix of each of its problems written in, or None if a problem has no such fix."""
    fixed = copy.deepcopy(job)
    for detail in details:
        fix = _type_fix(detail) if detail["type"] != RULE_ERROR else None
        where = detail["loc"][2:]
        if fix is None or fix.value is _UNSURE or not where or "[key]" in where:
            return None
        parent = fixed
        for part in where[:-1]:
            parent = parent[part]
        parent[where[-1]] = fix.value
    return fixed


# --- wording --------------------------------------------------------------------------------------------------


def format_problems(problems: list[Problem], stack_file: str, job_keys: list[str]) -> str:
    """The problems under a header, grouped per job (and per top-level key), each a full line."""
    groups: dict[tuple[int, str], list[Problem]] = {}
    for problem in problems:
        groups.setdefault(_group(problem.key, job_keys), []).append(problem)
    count = len(problems)
    header = f"{stack_file}: {count} config problem{'s' if count != 1 else ''} (nothing was created):"
    lines, shown = [header], 0
    for (_, title), members in sorted(groups.items()):
        if shown >= MAX_SHOWN:
            break
        lines.append(f"  {title}" + (f" ({len(members)} problems):" if len(members) > 1 else ":"))
        for problem in members[: MAX_SHOWN - shown]:
            lines.append(f"    - {problem.line(stack_file)}")
        shown += len(members)
    if count > MAX_SHOWN:
        lines.append(f"  ... and {count - MAX_SHOWN} more; fix these first.")
    return "\n".join(lines)


def _group(key: str, job_keys: list[str]) -> tuple[int, str]:
    """(order, title) of the group a key path belongs to: a job, or a top-level key."""
    for order, kind in enumerate(job_keys, start=1):
        if key.startswith(f"{kind}."):
            return order, f"{kind}.{key[len(kind) + 1 :].split('.', 1)[0]}"
    return 0, key.split(".", 1)[0]


def describe(detail: ErrorDetails) -> Problem:
    """One pydantic error as a problem at its YAML key, with the fix."""
    parts = [str(part) for part in detail["loc"] if part != "[key]"]
    if detail["type"] == RULE_ERROR:
        ctx = detail.get("ctx") or {}
        if ctx.get("key"):
            # Cross-field rules on the top-level model already carry the full path.
            parts = ctx["key"].split(".") if not parts else [*parts, ctx["key"]]
        return Problem(join_key(parts), detail["msg"], ctx.get("fix"))
    problem, fix = _describe_pydantic_error(detail)
    return Problem(join_key(parts), problem, fix)


def _describe_pydantic_error(detail: ErrorDetails) -> tuple[str, str]:
    kind, ctx, given = detail["type"], detail.get("ctx") or {}, detail.get("input")
    if isinstance(given, dict) and set(given) == {"secure"}:
        return ENCRYPTED_VALUE_PROBLEM, ENCRYPTED_VALUE_FIX
    shown = _shown(given)
    wording = _TYPE_WORDING.get(kind)
    if wording is not None:
        what, generic_fix, _ = wording
        what = _KEY_TAKES.get(_error_key(detail), what) if kind == "string_type" else what
        fix = _type_fix(detail)
        return f"must be {what}, got {shown}", fix.text if fix is not None else generic_fix
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


def _shown(given: Any) -> str:
    if isinstance(given, str | int | float | bool) or given is None:
        return json.dumps(given)
    return "a list" if isinstance(given, list) else "a map" if isinstance(given, dict) else type(given).__name__


def _inline(value: Any) -> str:
    """`value` as YAML on one line, quoted where YAML would read it as something else."""
    text = yaml.safe_dump(value, default_flow_style=True, width=10**6, sort_keys=False, allow_unicode=True)
    return text.removesuffix("\n").removesuffix("\n...").strip()


def _write(key: str, value: Any) -> str:
    return f"write `{key}: {_inline(value)}`" if key else f"write `{_inline(value)}`"


# --- what to write instead, per type -----------------------------------------------------------------------------

_UNSURE = object()  # a fix that is not one value (rewrite the structure, choose between readings)


@dataclass(frozen=True)
class _Fix:
    text: str
    value: Any = _UNSURE  # the value the fix writes, when it is one: the rest of the job is checked with it


_TRUE, _FALSE = ("true", "yes", "on", "y"), ("false", "no", "off", "n")
# Text keys whose value is not free text, worded as what they take.
_KEY_TAKES = {"memory": "a size in Gi, like `1Gi`"}
# Keys counted in seconds, which people write as durations.
_SECONDS_KEYS = ("replicaTimeout", "pollingInterval")
_DURATION = re.compile(r"^\s*(\d+)\s*(s|sec|m|min|h)\s*$", re.IGNORECASE)
_NUMBER = re.compile(r"^\s*-?\d+(?:\.\d+)?\s*$")


def _fix_text(key: str, given: Any) -> _Fix | None:
    if key == "memory" and isinstance(given, int | float) and not isinstance(given, bool):
        return _Fix(f"write the size with its unit, `memory: {given:g}Gi` (no quotes needed)", f"{given:g}Gi")
    if isinstance(given, bool | int | float):
        text = _inline(given)
        return _Fix(f'quote it: `{key}: "{text}"`' if key else f'quote it: `"{text}"`', text)
    if isinstance(given, list) and given and key and all(isinstance(item, str | int | float) for item in given):
        return _Fix(f"write one value, e.g. `{key}: {_inline(given[0])}`")
    return None


def _fix_number(key: str, given: Any) -> _Fix | None:
    if isinstance(given, str):
        millicores = re.fullmatch(r"\s*(\d+)m\s*", given)
        if key == "cpu" and millicores:
            cores = int(millicores[1]) / 1000
            return _Fix(f"write cores, not millicores: `cpu: {cores:g}`", cores)
        if _NUMBER.fullmatch(given):
            return _Fix(f"write the number without quotes: `{key}: {float(given):g}`", float(given))
    return None


def _fix_whole_number(key: str, given: Any) -> _Fix | None:
    if isinstance(given, float) and given.is_integer():
        return _Fix(f"write `{key}: {int(given)}`", int(given))
    if isinstance(given, str):
        duration = _DURATION.fullmatch(given)
        if key in _SECONDS_KEYS and duration:
            seconds = int(duration[1]) * {"s": 1, "m": 60, "h": 3600}[duration[2][0].lower()]
            return _Fix(f"{key} counts seconds: write `{key}: {seconds}`", seconds)
        if _NUMBER.fullmatch(given) and float(given).is_integer():
            return _Fix(f"write the number without quotes: `{key}: {int(float(given))}`", int(float(given)))
    return None


def _fix_boolean(key: str, given: Any) -> _Fix | None:
    if isinstance(given, str) and given.strip().lower() in _TRUE + _FALSE:
        value = given.strip().lower() in _TRUE
        return _Fix(f"write `{key}: {'true' if value else 'false'}` without quotes", value)
    if given in (0, 1) and not isinstance(given, bool):
        return _Fix(f"write `{key}: {'true' if given else 'false'}`", bool(given))
    return None


def _fix_map(key: str, given: Any) -> _Fix | None:
    if not isinstance(given, list):
        return None
    if given and all(isinstance(item, str) and "=" in item for item in given):  # env as `NAME=value` lines
        pairs = dict(str(item).split("=", 1) for item in given)
        return _Fix(f"write it as a map, one `NAME: value` per line: `{key}: {_inline(pairs)}`", pairs)
    if given and all(isinstance(item, dict) and isinstance(item.get("name"), str) for item in given):
        # The ARM / az CLI shape (`- name: X` and its settings): here the name is the map key.
        as_map = {item["name"]: _named_entry(key, item) for item in given}
        return _Fix(f"write it as a map keyed by name: `{key}: {_inline(as_map)}`", as_map)
    return _Fix(f"write it as a map, `key: value` lines indented below `{key}:`, without `- `")


def _named_entry(key: str, item: dict[str, Any]) -> Any:
    rest = {name: value for name, value in item.items() if name != "name"}
    if key == "env" and set(rest) == {"value"}:
        return rest["value"]
    if key == "secrets" and set(rest) <= {"keyVaultUrl", "keyVaultSecretUrl", "identity"}:
        url = rest.get("keyVaultSecretUrl", rest.get("keyVaultUrl"))
        return {"keyVaultSecretUrl": url}  # the job's identity is the program's to set
    return rest


def _fix_list(key: str, given: Any) -> _Fix | None:
    if isinstance(given, str):
        items = given.split()
        if not items:
            return None
        as_list = f"write it as a list: `{key}: {_inline(items)}`, or one `- item` per line"
        if all(item.startswith("-") and len(item) > 1 for item in items):
            # `-a` lines (no space after `-`) are one text to YAML, folded into one line: say both readings.
            dashes = ", ".join(f"`- {item[1:]}`" for item in items[:3])
            return _Fix(f"{as_list}; if these were list items, each needs a space after `-` ({dashes})")
        return _Fix(as_list, items)
    if isinstance(given, dict):
        return _Fix(f"write it as a list: a `- ` before each item below `{key}:`")
    return None


def _fix_object(key: str, given: Any) -> _Fix | None:
    what = f"`{key}`" if key else "each item"
    if isinstance(given, list):
        return _Fix(f"{what} is one map, not a list: remove the `- ` before its first key and indent the keys alike")
    if isinstance(given, str) and not key:
        return _Fix("each item is a map: write its keys after the `- `, e.g. `- {name: value, other: value}`")
    if isinstance(given, str):
        return _Fix(
            f"`{key}` is a map: put its keys on the lines below it, indented (`{key}:` then `  <key>: <value>`)"
        )
    return None


# pydantic error type -> (what the key takes, the fix when nothing better is known, the fix for the value given)
_TYPE_WORDING: dict[str, tuple[str, str, Callable[[str, Any], _Fix | None]]] = {
    "int_type": ("a whole number", "write a number without quotes or decimals", _fix_whole_number),
    "float_type": ("a number", "write a number without quotes, e.g. 0.5", _fix_number),
    "bool_type": ("true or false", "write `true` or `false` without quotes", _fix_boolean),
    "string_type": ("text", "write a string value", _fix_text),
    "dict_type": ("a map of keys", "indent the keys below it as a YAML map", _fix_map),
    "list_type": ("a list", "write a YAML list: `[first, second]`, or one `- item` per line", _fix_list),
    "model_type": ("a map of keys", "indent the keys below it as a YAML map", _fix_object),
    "model_attributes_type": ("a map of keys", "indent the keys below it as a YAML map", _fix_object),
}


def _type_fix(detail: ErrorDetails) -> _Fix | None:
    """The fix of a type error for the value given, if one is known."""
    wording = _TYPE_WORDING.get(detail["type"])
    return wording[2](_error_key(detail), detail.get("input")) if wording is not None else None


def _error_key(detail: ErrorDetails) -> str:
    """The key a type error is at, as written (a field or map key), or "" for an item of a list."""
    loc = [part for part in detail["loc"] if part != "[key]"]
    return _bare(loc[-1]) if loc and isinstance(loc[-1], str) else ""
