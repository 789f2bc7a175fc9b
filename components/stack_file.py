"""Reading a stack file strictly: nothing a user writes is lost, nothing hostile hangs or crashes the tools.

One loader for the program, the offline preview and promotion. YAML lets a file say things that a plain load
silently drops or turns into something else; each becomes a `StackFileError` naming the file, the key path and
the fix:
- a key written twice in one map (YAML keeps the last one: the first job or queue vanishes);
- a key that is not a string (`1:`, `null:`, `yes:` load as numbers, None, booleans);
- an unquoted date (`created: 2024-05-01` loads as a date, which no config value is);
- NaN or infinity, and integers a JSON double cannot carry exactly (beyond 2**53), or too long to parse;
- nesting deeper than any stack file needs, and aliases that expand past a budget ("billion laughs": PyYAML
  builds each aliased node once, but everything that walks the result - JSON encoding, validation - expands
  it, exponentially); the walk below stops at the budget, so a hostile 1 KB file is refused in milliseconds;
- bytes that are not UTF-8.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

# Far above any real stack file, far below what would take noticeable time or memory.
MAX_NODES = 100_000
MAX_DEPTH = 32
MAX_BYTES = 1024 * 1024
MAX_EXACT_INTEGER = 2**53


class StackFileError(Exception):
    """The stack file cannot be read as the config it must be. The message names file, key and fix."""


class _Loader(yaml.SafeLoader):
    """SafeLoader that keeps every key's first occurrence in view, to refuse duplicates and non-string keys."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        # Keys written in this map itself; keys brought in by a `<<` merge key may be overridden by them (that is
        # what a merge means), and the merged map is checked on its own.
        own = {id(key_node) for key_node, _ in node.value if key_node.tag != "tag:yaml.org,2002:merge"}
        self.flatten_mapping(node)
        seen: dict[Any, yaml.Node] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, str):
                raise _NodeError(
                    key_node,
                    f"the key `{key_node.value}` is read as {type(key).__name__}, not as a key name",
                    f'quote it (`"{key_node.value}":`), or fix the indentation',
                )
            if id(key_node) not in own:
                continue
            if key in seen:
                raise _NodeError(
                    key_node,
                    f"`{key}` is written twice in the same map (line {seen[key].start_mark.line + 1} and line "
                    f"{key_node.start_mark.line + 1}); YAML would keep only the last one",
                    "keep one, merging what both say",
                )
            seen[key] = key_node
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        try:
            return super().construct_yaml_int(node)
        except ValueError:  # more digits than Python converts
            raise _NodeError(node, f"`{node.value[:20]}…` is not a usable number", "use a smaller number") from None


class _NodeError(Exception):
    def __init__(self, node: yaml.Node, problem: str, fix: str) -> None:
        super().__init__(problem)
        self.line, self.problem, self.fix = node.start_mark.line + 1, problem, fix


_Loader.add_constructor("tag:yaml.org,2002:int", _Loader.construct_yaml_int)


def load_stack_yaml(path: Path) -> dict[str, Any]:
    """The stack file as a map, or `StackFileError`. Missing file -> FileNotFoundError (callers word it)."""
    name = path.name
    data = path.read_bytes()
    if len(data) > MAX_BYTES:
        raise StackFileError(f"{name}: the file is {len(data)} bytes, more than a stack file needs. Fix: check it.")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise StackFileError(f"{name}: byte {error.start} is not UTF-8. Fix: save the file as UTF-8.") from None
    return parse_stack_yaml(text, name)


def parse_stack_yaml(text: str, name: str) -> dict[str, Any]:
    try:
        document = yaml.load(text, Loader=_Loader) or {}  # a SafeLoader subclass
    except _NodeError as problem:
        raise StackFileError(f"{name}: line {problem.line}: {problem.problem}. Fix: {problem.fix}.") from None
    except yaml.YAMLError as error:
        raise StackFileError(f"{name}: not valid YAML: {error}".rstrip()) from None
    except RecursionError:
        raise StackFileError(f"{name}: nested too deeply. Fix: check the indentation.") from None
    if not isinstance(document, dict):
        raise StackFileError(f"{name}: expected a YAML map at the top level (`config:` ...).")
    check_values(document, name)
    return document


def check_values(document: Any, name: str) -> None:
    """Walk the loaded document once, within the node budget, refusing values no config key can hold."""
    for path, value in _walk(document, name):
        where = f"{name}: {path or '(top level)'}"
        if isinstance(value, float) and not math.isfinite(value):
            raise StackFileError(f"{where}: `{value}` is not a number a setting can take. Fix: write a number.")
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_EXACT_INTEGER:
            raise StackFileError(
                f"{where}: {str(value)[:20]}… is too large to pass through Pulumi config exactly. Fix: use a "
                "smaller number."
            )
        if isinstance(value, datetime.date | datetime.datetime):
            raise StackFileError(
                f'{where}: `{value}` was read as a date, which no setting takes. Fix: quote it (`"{value}"`).'
            )
        if isinstance(value, bytes):
            raise StackFileError(f"{where}: binary data is not a setting. Fix: remove it.")


def _walk(value: Any, name: str) -> Iterator[tuple[str, Any]]:
    budget = MAX_NODES
    stack: list[tuple[str, Any, int]] = [("", value, 0)]
    while stack:
        path, item, depth = stack.pop()
        budget -= 1
        if budget < 0:
            raise StackFileError(
                f"{name}: expands to more than {MAX_NODES} values (YAML aliases repeat what they point to). "
                "Fix: write the config out without nested aliases."
            )
        if depth > MAX_DEPTH:
            shown = path if len(path) < 80 else path[:60] + "…"
            raise StackFileError(f"{name}: {shown}: nested more than {MAX_DEPTH} levels deep. Fix: flatten it.")
        yield path, item
        if isinstance(item, dict):
            stack.extend((f"{path}.{key}" if path else str(key), child, depth + 1) for key, child in item.items())
        elif isinstance(item, list):
            stack.extend((f"{path}[{index}]", child, depth + 1) for index, child in enumerate(item))
