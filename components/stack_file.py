"""Reading a stack file strictly: nothing a user writes is lost, nothing hostile hangs or crashes the tools.

One loader for the program, the offline preview and promotion. YAML lets a file say things that a plain load
silently drops or turns into something else; each becomes a `StackFileError` naming the file, the key path (or
line and column) and the fix:
- a YAML syntax error, with the likely cause in the user's terms (a tab in the indentation, a `: ` inside an
  unquoted value, a missing space after `-` or `:`, a quote or bracket left open) instead of the parser's words;
- a key written twice in one map (YAML keeps the last one: the first job or queue vanishes);
- a key that is not a string (`1:`, `null:`, `yes:` load as numbers, None, booleans);
- an unquoted date (`created: 2024-05-01` loads as a date, which no config value is);
- NaN or infinity, and integers a JSON double cannot carry exactly (beyond 2**53), or too long to parse;
- bytes that are not UTF-8, and files larger than any stack file (only the first MAX_BYTES + 1 bytes are read);
- nesting deeper than any stack file needs, and aliases that expand past a budget of values or of text
  ("billion laughs": PyYAML builds each aliased node once, but everything that walks the result - JSON
  encoding, validation - expands it). The budget is checked on the parser's event stream before anything is
  built: an alias adds the size its anchor had when it was written, so a 1 KB file that expands to 10^9 values,
  or a 1 MB string repeated a thousand times, is refused in milliseconds, with memory for one event at a time.

The parser is libyaml's (PyYAML's C binding, shipped in its wheels) where present, PyYAML's pure-Python parser
otherwise (about 20 times slower on a dense file; the syntax-error tests run through both). What becomes a value is
PyYAML's Python constructor either way. libyaml's composer recurses in C: a file nested 45,000 levels deep crashed
the process (SIGSEGV) instead of raising, so nesting is refused by the event pass, before the composer runs.
"""

from __future__ import annotations

import datetime
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

# About three times a large real stack file (300 scheduled jobs, each with 12 env variables, a Key Vault secret, an
# `azureAccess` grant, command and args, are 17,500 values and 300 KB), and below what takes noticeable time or memory:
# building 50,000 values takes PyYAML's constructor (Python) about half a second.
MAX_NODES = 50_000
MAX_DEPTH = 32
MAX_BYTES = 1024 * 1024
# Text of every key and value once aliases are expanded (UTF-8 bytes). Without aliases it is below the file size.
MAX_EXPANDED_BYTES = 4 * MAX_BYTES
MAX_EXACT_INTEGER = 2**53
_PARSER_BASE: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class StackFileError(Exception):
    """The stack file cannot be read as the config it must be. The message names file, key and fix."""


class _Loader(_PARSER_BASE):
    """The safe loader that keeps every key's first occurrence in view, to refuse duplicates and non-string keys."""

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
    """A problem at a node or event of the file (its start is where the message points)."""

    def __init__(self, node: yaml.Node | yaml.Event, problem: str, fix: str) -> None:
        super().__init__(problem)
        self.line, self.column = node.start_mark.line + 1, node.start_mark.column + 1
        self.problem, self.fix = problem, fix


_Loader.add_constructor("tag:yaml.org,2002:int", _Loader.construct_yaml_int)


def load_stack_yaml(path: Path) -> dict[str, Any]:
    """The stack file as a map, or `StackFileError`. Missing file -> FileNotFoundError (callers word it)."""
    name = path.name
    with path.open("rb") as file:
        data = file.read(MAX_BYTES + 1)  # never more: a huge file (or a device) is refused without reading it
    if len(data) > MAX_BYTES:
        raise StackFileError(
            f"{name}: the file is larger than the {MAX_BYTES / 1024 / 1024:g} MiB limit of a stack file (a stack of "
            "300 jobs is a fraction of it). Fix: check that this is the stack file; if it is, remove what is not "
            "config (large comments, pasted data)."
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise StackFileError(f"{name}: byte {error.start} is not UTF-8. Fix: save the file as UTF-8.") from None
    return parse_stack_yaml(text, name)


def parse_stack_yaml(text: str, name: str) -> dict[str, Any]:
    try:
        check_budget(text)
        document = yaml.load(text, Loader=_Loader) or {}  # a safe loader (the constructor of yaml.SafeLoader)
    except _NodeError as problem:
        raise StackFileError(
            f"{name}: line {problem.line}, column {problem.column}: {problem.problem}. Fix: {problem.fix}."
        ) from None
    except yaml.MarkedYAMLError as error:
        raise StackFileError(describe_syntax_error(error, text, name)) from None
    except yaml.YAMLError as error:
        raise StackFileError(f"{name}: not valid YAML: {error}".rstrip()) from None
    if not isinstance(document, dict):
        raise StackFileError(f"{name}: expected a YAML map at the top level (`config:` ...).")
    check_values(document, name)
    return document


def check_budget(text: str) -> None:
    """Refuse a document that nests deeper than MAX_DEPTH, or expands (aliases repeated) past MAX_NODES values or
    MAX_EXPANDED_BYTES of text, from the parser's events alone: nothing is built, an alias costs what its anchor
    cost when it was written, and only the anchors' sizes are kept."""
    values = size = 0
    anchors: dict[str, tuple[int, int]] = {}  # anchor -> (values, bytes) of what it names, once written out
    open_collections: list[tuple[str | None, int, int]] = []  # (anchor, values and bytes before it)
    for event in yaml.parse(text, Loader=_PARSER_BASE):
        if isinstance(event, yaml.AliasEvent):
            if event.anchor not in anchors:
                inside = any(anchor == event.anchor for anchor, _, _ in open_collections)
                raise _NodeError(
                    event,
                    f"`*{event.anchor}` refers to "
                    + (
                        "the map or list it is inside of, which would never end"
                        if inside
                        else f"no `&{event.anchor}` above it"
                    ),
                    "write the value out"
                    if inside
                    else f"define `&{event.anchor}` before it, or quote the value if `*` is meant as text",
                )
            added_values, added_bytes = anchors[event.anchor]
        elif isinstance(event, yaml.ScalarEvent):
            added_values, added_bytes = 1, len(event.value.encode("utf-8", "surrogatepass"))
            _check_new_anchor(event, anchors, open_collections)
            if event.anchor is not None:
                anchors[event.anchor] = (added_values, added_bytes)
        elif isinstance(event, yaml.CollectionStartEvent):
            _check_new_anchor(event, anchors, open_collections)
            open_collections.append((event.anchor, values, size))
            added_values, added_bytes = 1, 0
            if len(open_collections) > MAX_DEPTH + 1:  # the top-level map is not a level
                raise _NodeError(event, f"nested more than {MAX_DEPTH} levels deep", "flatten it")
        elif isinstance(event, yaml.CollectionEndEvent):
            anchor, values_before, size_before = open_collections.pop()
            if anchor is not None:
                anchors[anchor] = (values - values_before, size - size_before)
            continue
        else:
            continue
        values += added_values
        size += added_bytes
        if values > MAX_NODES or size > MAX_EXPANDED_BYTES:
            what = (
                f"{MAX_NODES:,} values" if values > MAX_NODES else f"{MAX_EXPANDED_BYTES // 1024 // 1024} MiB of text"
            )
            repeated = isinstance(event, yaml.AliasEvent)
            raise _NodeError(
                event,
                f"the file expands to more than {what}"
                + (f" here (`*{event.anchor}` repeats what `&{event.anchor}` names)" if repeated else ""),
                "write the config out without nested aliases" if repeated else "remove what is not config",
            )


def _check_new_anchor(
    event: yaml.NodeEvent, anchors: dict[str, Any], open_collections: list[tuple[str | None, int, int]]
) -> None:
    if event.anchor is not None and (event.anchor in anchors or any(a == event.anchor for a, _, _ in open_collections)):
        raise _NodeError(
            event,
            f"the anchor `&{event.anchor}` is defined a second time, so `*{event.anchor}` would be ambiguous",
            "give this anchor another name",
        )


def check_values(document: Any, name: str) -> None:
    """Walk the loaded document once, refusing values no config key can hold."""
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
    # At most MAX_NODES items: `check_budget` counted every value (and key) this walk can reach.
    stack: list[tuple[str, Any, int]] = [("", value, 0)]
    while stack:
        path, item, depth = stack.pop()
        if depth > MAX_DEPTH:  # aliases can nest what they repeat deeper than the text does
            shown = path if len(path) < 80 else path[:60] + "…"
            raise StackFileError(f"{name}: {shown}: nested more than {MAX_DEPTH} levels deep. Fix: flatten it.")
        yield path, item
        if isinstance(item, dict):
            stack.extend((f"{path}.{key}" if path else str(key), child, depth + 1) for key, child in item.items())
        elif isinstance(item, list):
            stack.extend((f"{path}[{index}]", child, depth + 1) for index, child in enumerate(item))


# --- syntax errors --------------------------------------------------------------------------------------------

_GENERIC_FIX = (
    "check this line and the one above it: indentation with spaces only, every quote and bracket closed on its "
    "line, a space after each `:` and `-`, and quotes around a value that holds `: ` or starts with `@`, `` ` `` "
    "or `%`"
)
_GLUED_KEY = re.compile(r"^\s*(?P<key>[A-Za-z_][\w.-]*):(?P<value>[^\s/].*)$")
_DASH_GLUED = re.compile(r"^\s*-(?P<item>[^\s-].*)$")
_KEY = re.compile(r"^(?P<indent>\s*)(?:-\s+)?(?P<key>[^\s:#\'\"][^:#]*?):(?:\s|$)")


@dataclass(frozen=True)
class _Cause:
    line: int  # 0-based, as marks count
    column: int
    problem: str
    fix: str


def describe_syntax_error(error: yaml.MarkedYAMLError, text: str, name: str) -> str:
    """A YAML syntax error as `<file>: line L, column C: <likely cause>. Fix: <what to write>.`

    libyaml and PyYAML word their errors differently and point where the parser gave up, which is often a line
    after the mistake; the cause is read from the text around both marks instead."""
    lines = text.splitlines() or [""]
    mark = error.problem_mark or error.context_mark
    if mark is None:
        return f"{name}: not valid YAML: {error.problem or error}. Fix: {_GENERIC_FIX}."
    cause = _likely_cause(error, lines, mark.line, mark.column) or _Cause(
        mark.line,
        mark.column,
        f"not valid YAML ({' '.join(part for part in (error.context, error.problem) if part)})",
        _GENERIC_FIX,
    )
    shown = lines[cause.line].strip() if cause.line < len(lines) else ""
    shown = shown if len(shown) <= 80 else shown[:77] + "..."
    at = f" in `{shown}`" if shown else ""
    return f"{name}: line {cause.line + 1}, column {cause.column + 1}{at}: {cause.problem}. Fix: {cause.fix}."


def _likely_cause(error: yaml.MarkedYAMLError, lines: list[str], line: int, column: int) -> _Cause | None:
    context, problem = (error.context or "").lower(), (error.problem or "").lower()
    first = error.context_mark.line if error.context_mark is not None else line
    at = lines[line][column : column + 1] if line < len(lines) else ""
    for number in range(min(first, line), min(line, len(lines) - 1) + 1):
        indent = re.match(r"^[ \t]*", lines[number])
        if indent and "\t" in indent.group():
            return _Cause(
                number,
                indent.group().index("\t"),
                "a tab in the indentation: YAML indents with spaces only",
                "replace the tab with spaces, lining the key up with its siblings",
            )
    if at == "\t":
        return _Cause(line, column, "a tab where YAML expects a value or a key", "replace the tab with a space")
    if "quoted scalar" in context and error.context_mark is not None:
        opened = error.context_mark
        quote = lines[opened.line][opened.column : opened.column + 1] or '"'
        return _Cause(
            opened.line,
            opened.column,
            f"the quote `{quote}` opened here is never closed",
            f"close it with `{quote}` at the end of the value, on the same line",
        )
    if "flow sequence" in context or "flow mapping" in context:
        opened = error.context_mark or error.problem_mark
        bracket, closing = ("[", "]") if "sequence" in context else ("{", "}")
        return _Cause(
            opened.line,
            opened.column,
            f"the `{bracket}` opened here is not closed before line {line + 1}",
            f"close it with `{closing}` on the same line"
            + (", or write one `- item` per line" if bracket == "[" else ", or write one `key: value` per line"),
        )
    if at in ("]", "}"):
        return _Cause(
            line,
            column,
            f"`{at}` closes a bracket that was never opened",
            f"remove it, or open it with `{'[' if at == ']' else '{'}`",
        )
    if "mapping values are not allowed" in problem:
        return _colon_cause(lines, line, column)
    if "could not find expected ':'" in problem and error.context_mark is not None:
        return _missing_colon_cause(lines, error.context_mark.line, error.context_mark.column)
    if "block mapping" in context or "block collection" in context:
        return _block_cause(lines, error, line, column, at)
    if ("an alias" in context or "an anchor" in context or "block scalar" in context) and error.context_mark:
        start = error.context_mark
        sign = lines[start.line][start.column : start.column + 1] if start.line < len(lines) else "*"
        what = {"*": "an alias (`*name`)", "&": "an anchor (`&name`)"}.get(
            sign, f"a block of text (`{sign}` then lines)"
        )
        value = lines[start.line][start.column :].strip() if start.line < len(lines) else sign
        return _Cause(
            start.line,
            start.column,
            f"`{sign}` at the start of a value begins {what} in YAML, which this is not",
            f'quote the value if `{sign}` is part of the text: `"{value}"`',
        )
    if "constructor for the tag" in problem:
        tag = lines[line][column:].split()[0] if line < len(lines) and lines[line][column:].strip() else "!"
        return _Cause(
            line,
            column,
            f"`{tag}` is a YAML tag, which no setting takes",
            f'remove the `!`, or quote the value if it is part of the text: `"{lines[line][column:].strip()}"`',
        )
    starts_badly = "cannot start any token" in problem or ("expected node content" in problem and at in ",?")
    if starts_badly and at:
        return _Cause(
            line,
            column,
            f"{'a backtick' if at == '`' else f'`{at}`'} cannot start an unquoted value in YAML",
            f'quote the value: `"{lines[line][column:].strip()}"`',
        )
    if "undefined alias" in problem:
        return None  # refused earlier, with the anchor's name
    if "single document" in context:
        return _Cause(
            line,
            column,
            "a second YAML document starts here (`---`); a stack file is one document",
            "remove the `---` line, keeping one `config:` map",
        )
    return None


def _colon_cause(lines: list[str], line: int, column: int) -> _Cause:
    """`mapping values are not allowed here`: a `: ` YAML cannot take as a key's, at `column`."""
    text = lines[line]
    key = _KEY.match(text)
    if key is not None and column > key.end("key"):
        value = text[key.end() :].strip()
        return _Cause(
            line,
            column,
            f"the value of `{key['key'].strip()}` holds `: `, which YAML reads as the start of another key",
            f'quote the value: `{key["key"].strip()}: "{value}"`',
        )
    above = _previous_line(lines, line)
    if above is not None:
        glued = _GLUED_KEY.match(lines[above])
        if glued is not None:
            return _no_space_after_colon(above, lines[above], glued)
        return _Cause(
            line,
            len(text) - len(text.lstrip()),
            f"this line is indented deeper than `{lines[above].strip()}` above it, which already has a value",
            "indent it like the key it sits beside (or, if it belongs below that key, remove that key's value)",
        )
    return _Cause(
        line, column, "a `: ` YAML cannot take as a key here", f"quote the value that holds it ({_GENERIC_FIX})"
    )


def _missing_colon_cause(lines: list[str], line: int, column: int) -> _Cause:
    """`could not find expected ':'`: a line in a map (from `line`) that is neither `key: value` nor `- item`."""
    for number in range(line, min(line + 2, len(lines))):
        dash = _DASH_GLUED.match(lines[number])
        if dash is not None:
            return _Cause(
                number,
                lines[number].index("-"),
                "a list item needs a space after `-`: without it YAML reads the line as text, not as an item",
                f"write `- {dash['item']}`",
            )
        glued = _GLUED_KEY.match(lines[number])
        if glued is not None:
            return _no_space_after_colon(number, lines[number], glued)
    return _Cause(
        line,
        column,
        "this line is neither `key: value` nor a `- item` of a list",
        "add `: ` after the key, or indent it under the key it belongs to",
    )


def _block_cause(lines: list[str], error: yaml.MarkedYAMLError, line: int, column: int, at: str) -> _Cause:
    """`expected <block end>` / `did not find expected key`: the parser met something that cannot continue the
    map (or list) that starts at the context mark."""
    if at == "-":
        return _Cause(
            line,
            column,
            "a list item (`- `) among the keys of a map",
            "put the list under a key (`key:` and then `  - item` lines), or remove the `-`",
        )
    before = lines[line][:column].rstrip() if line < len(lines) else ""
    if before.endswith(('"', "'")) and before.count(before[-1]) >= 2:
        return _Cause(
            line,
            column,
            "text after the closing quote",
            "put the whole value inside the quotes",
        )
    indent = _indent(lines[line]) if line < len(lines) else 0
    above = _previous_line(lines, line)
    if above is not None and column == indent and indent != _indent(lines[above]):
        sibling = _indent(lines[above])
        return _Cause(
            line,
            column,
            f"this line is indented {indent} spaces and the line above it (`{lines[above].strip()}`) {sibling}, so "
            "YAML cannot tell which map it belongs to",
            f"indent it by {sibling} spaces if it belongs beside the line above, else line it up with the key it "
            "belongs beside",
        )
    return _Cause(
        line,
        column,
        "YAML cannot continue the map above with this",
        "check the indentation of this line against the keys above it, and the quotes on this line",
    )


def _no_space_after_colon(line: int, text: str, glued: re.Match[str]) -> _Cause:
    return _Cause(
        line,
        text.index(":"),
        f"`{glued['key']}:{glued['value']}` has no space after `:`, so YAML reads it as text, not as a key",
        f"write `{glued['key']}: {glued['value']}`",
    )


def _indent(text: str) -> int:
    return len(text) - len(text.lstrip(" "))


def _previous_line(lines: list[str], line: int) -> int | None:
    """The nearest line above `line` that holds YAML (not blank, not only a comment)."""
    for number in range(min(line, len(lines)) - 1, -1, -1):
        stripped = lines[number].strip()
        if stripped and not stripped.startswith("#"):
            return number
    return None
