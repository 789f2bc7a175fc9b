"""Resource-level differences between two stacks' offline previews: what promotion would change beyond the
image, for a reviewer to read before approving."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from tools.offline import ProgramRun, Registration

# Inputs that name a stack's own platform resources: they differ between stacks by design.
STACK_NAMES = {
    "azure-native:resources:ResourceGroup": "resourceGroupName",
    "azure-native:app:ManagedEnvironment": "environmentName",
    "azure-native:operationalinsights:Workspace": "workspaceName",
    "azure-native:servicebus:Namespace": "namespaceName",
}
GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@dataclass(frozen=True)
class InputDifference:
    resource: str  # the URN without stack and project: `<type chain>::<name>`
    path: str  # dotted input path, `protect` for the option
    left: Any
    right: Any
    # True when the values differ only in the stacks' own names or in ids derived from them.
    by_design: bool = False


@dataclass(frozen=True)
class Comparison:
    left: str
    right: str
    only_left: list[str]
    only_right: list[str]
    differences: list[InputDifference]

    def as_json(self) -> dict[str, Any]:
        return {
            "stacks": [self.left, self.right],
            f"onlyIn_{self.left}": self.only_left,
            f"onlyIn_{self.right}": self.only_right,
            "inputDifferences": [
                {
                    "resource": d.resource,
                    "path": d.path,
                    self.left: d.left,
                    self.right: d.right,
                    "byDesign": d.by_design,
                }
                for d in self.differences
            ],
        }


def resource_key(registration: Registration) -> str:
    return registration.urn.split("::", 2)[2]


def flatten(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict) and value:
        for key in sorted(value):
            yield from flatten(value[key], f"{path}.{key}" if path else key)
    elif isinstance(value, list) and value:
        for index, item in enumerate(value):
            yield from flatten(item, f"{path}[{index}]")
    else:
        yield path, value


def stack_names(run: ProgramRun) -> dict[str, str]:
    """Each platform resource's physical name in this stack -> a placeholder shared by every stack."""
    names = {}
    for resource in run.resources:
        key = STACK_NAMES.get(resource.type)
        if key and isinstance(resource.inputs.get(key), str):
            names[resource.inputs[key]] = f"<{key}>"
    return names


def normalized(value: Any, names: dict[str, str]) -> Any:
    if not isinstance(value, str):
        return value
    # Longest first, so `aca-env-prod` is replaced before a shorter name it contains.
    for name in sorted(names, key=len, reverse=True):
        value = value.replace(name, names[name])
    return GUID.sub("<guid>", value)


def compare(left: ProgramRun, right: ProgramRun) -> Comparison:
    lefts = {resource_key(r): r for r in left.resources}
    rights = {resource_key(r): r for r in right.resources}
    left_names, right_names = stack_names(left), stack_names(right)
    differences = []
    for key in sorted(set(lefts) & set(rights)):
        a, b = dict(flatten(lefts[key].inputs)), dict(flatten(rights[key].inputs))
        for path in sorted(set(a) | set(b)):
            if a.get(path) != b.get(path):
                by_design = normalized(a.get(path), left_names) == normalized(b.get(path), right_names)
                differences.append(InputDifference(key, path, a.get(path), b.get(path), by_design))
        if lefts[key].protect != rights[key].protect:
            differences.append(InputDifference(key, "protect", lefts[key].protect, rights[key].protect))
    return Comparison(
        left=left.stack,
        right=right.stack,
        only_left=sorted(set(lefts) - set(rights)),
        only_right=sorted(set(rights) - set(lefts)),
        differences=differences,
    )


def render(comparison: Comparison) -> str:
    left, right = comparison.left, comparison.right
    lines = [f"Comparing offline previews: {left} -> {right}", ""]
    for title, keys in ((f"Only in {left}:", comparison.only_left), (f"Only in {right}:", comparison.only_right)):
        lines += [title, *(f"    {key}" for key in keys or ["(none)"]), ""]
    lines.append("Inputs that differ (beyond each stack's own names and the ids derived from them):")
    current = None
    shown = [d for d in comparison.differences if not d.by_design]
    for difference in shown:
        if difference.resource != current:
            current = difference.resource
            lines.append(f"    {current}")
        lines.append(f"        {difference.path}: {difference.left!r} -> {difference.right!r}")
    if not shown:
        lines.append("    (none)")
    hidden = len(comparison.differences) - len(shown)
    lines += ["", f"{hidden} more differ only in stack names (resource group, environment, workspace, namespace)"]
    lines.append("and the ids derived from them; --json lists every difference.")
    return "\n".join(lines)
