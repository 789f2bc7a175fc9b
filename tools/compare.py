"""Resource-level differences between two stacks' offline previews: what promotion would change beyond the
image, for a reviewer to read before approving.

Every input that differs is listed. A difference is marked by design (summarized, not shown) only when the two
values become equal once each stack's *own* values are replaced, by the role they play, with placeholders shared
by every stack:

- the physical names of the stack's platform resources (resource group, environment, workspace, namespace),
  wherever they appear as a whole name (`rg-aca-prod`, `sb-aca-prod.servicebus.windows.net`, ARM ids);
- the subscription of the stack's own resources (the one its ARM ids place its resource group in, i.e.
  `azure-native:subscriptionId` or the offline placeholder), in ids inside that resource group and in
  subscription-level ids (`/subscriptions/<sub>/providers/...`, e.g. role definitions);
- the stack name, where it is part of a longer value (a whole value equal to it, like `tags.environment: prod`,
  is config and stays visible);
- values Azure computes for the stack's own resources (`principalId`, `clientId`, `customerId` of a registration
  whose outputs are known) -> `<principalId of {logical name}>`, and role-assignment names that are the
  deterministic uuid5 of the assignment's own scope, principal and role (`components.naming`) ->
  `<role-assignment-name of {logical name}>`; the scope and principal are compared on their own paths.

Nothing else is erased: a GUID or id that is not one of these (an env value, a registry id, a role assignment's
scope in another subscription) is compared as written, and values the preview cannot know yet (the unknown
sentinel, in the default `new-stack` mode) compare equal to each other.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from components.naming import DATA_PLANE_ROLES, BuiltInRole, role_assignment_name
from tools.offline import ROLE_ASSIGNMENT, SECRET_MARK, ProgramRun, Registration
from tools.provider_model import UNKNOWN

# Inputs that name a stack's own platform resources: they differ between stacks by design.
STACK_NAMES = {
    "azure-native:resources:ResourceGroup": "resourceGroupName",
    "azure-native:app:ManagedEnvironment": "environmentName",
    "azure-native:operationalinsights:Workspace": "workspaceName",
    "azure-native:servicebus:Namespace": "namespaceName",
}
# Outputs Azure computes for a resource of the stack (identities, workspaces): unique to the stack by design.
COMPUTED_OUTPUTS = ("principalId", "clientId", "customerId")
ARM_RESOURCE_GROUP = re.compile(r"/subscriptions/([^/]+)/resourceGroups/([^/]+)", re.IGNORECASE)
# A name is replaced only as a whole name: not inside a longer name (`rg-aca-prod2`, `log-aca-env-prod`).
NAME_START, NAME_END = r"(?<![\w-])", r"(?![\w-])"
# The stack name is a word of a longer value (`aca-jobs-prod-...`), never a part of a word (`acrsharedprod`).
WORD_START, WORD_END = r"(?<![A-Za-z0-9])", r"(?![A-Za-z0-9])"


JOB = "azure-native:app:Job"
MONITOR = "azure-native:monitor:"
JOB_COMPONENTS = ("aca-jobs:index:ManualJob", "aca-jobs:index:ScheduledJob", "aca-jobs:index:ServiceBusEventJob")
BY_DESIGN = "each stack's own names, subscription and the values derived from them"


@dataclass(frozen=True)
class MayDiffer:
    """One row of docs/promotion.md "What each stack's config may differ in", as the inputs it shows up in."""

    label: str
    path: re.Pattern[str]
    types: tuple[str, ...] = ()  # resource types (a prefix ends with ':'); empty: any
    data_plane_grant: bool = False  # only a role assignment of a data-plane role (azureAccess, Key Vault)
    summarize_by_job: bool = False  # the summary names the jobs (what a promotion moves) instead of counting

    def matches(self, registration: Registration, path: str) -> bool:
        if self.types and not any(
            registration.type == t or (t.endswith(":") and registration.type.startswith(t)) for t in self.types
        ):
            return False
        if self.data_plane_grant:
            role = str(registration.inputs.get("roleDefinitionId", "")).rsplit("/", 1)[-1]
            if role not in {r.guid for r in DATA_PLANE_ROLES}:
                return False
        return bool(self.path.fullmatch(path))


MAY_DIFFER = (
    MayDiffer("tags", re.compile(r"tags\..+")),
    MayDiffer("protect (stateful resources protected in prod)", re.compile(r"protect")),
    MayDiffer("logRetentionDays", re.compile(r"retentionInDays"), ("azure-native:operationalinsights:Workspace",)),
    MayDiffer("serviceBus.sku", re.compile(r"sku\..+"), ("azure-native:servicebus:Namespace",)),
    MayDiffer("maxExecutions", re.compile(r"configuration\.eventTriggerConfig\.scale\.maxExecutions"), (JOB,)),
    MayDiffer(
        "image (moves only by promotion)",
        re.compile(r"template\.containers\[\d+\]\.image"),
        (JOB,),
        summarize_by_job=True,
    ),
    MayDiffer(
        "Key Vault references (each stack's own vault)",
        re.compile(r"configuration\.secrets\[\d+\]\.keyVaultUrl"),
        (JOB,),
    ),
    MayDiffer(
        "grant scopes of Key Vault secrets and azureAccess (each stack's own resources)",
        re.compile(r"scope"),
        (ROLE_ASSIGNMENT,),
        data_plane_grant=True,
    ),
    MayDiffer(
        "workload profile node counts",
        re.compile(r"workloadProfiles\[\d+\]\.(minimumCount|maximumCount)"),
        ("azure-native:app:ManagedEnvironment",),
    ),
    MayDiffer("alerts (emails, action group, thresholds)", re.compile(r".+"), (MONITOR,)),
)


@dataclass(frozen=True)
class InputDifference:
    resource: str  # the URN without stack and project: `<type chain>::<name>`
    path: str  # dotted input path, `protect` for the option
    left: Any
    right: Any
    # True when the values differ only in the stacks' own names, subscription or values derived from them.
    by_design: bool = False
    # The row of the may-differ table it falls under (BY_DESIGN for the above), or None: unexpected drift.
    expected_as: str | None = None
    title: str = ""  # for a reviewer: `job <job> · <Type> [<name>] · <path>`
    owner: str = ""  # the job the resource belongs to, or `platform`


@dataclass(frozen=True)
class Comparison:
    left: str
    right: str
    only_left: list[str]
    only_right: list[str]
    differences: list[InputDifference]
    # Resources only in one stack that the table allows (alert rules: dev does not alert).
    expected_only: frozenset[str] = frozenset()

    @property
    def unexpected(self) -> list[InputDifference]:
        return [d for d in self.differences if d.expected_as is None]

    @property
    def unexpected_only(self) -> list[str]:
        return [key for key in (*self.only_left, *self.only_right) if key not in self.expected_only]

    @property
    def drift(self) -> bool:
        """Whether anything differs that the may-differ table does not allow."""
        return bool(self.unexpected or self.unexpected_only)

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
                    "expectedAs": d.expected_as,
                    "title": d.title,
                }
                for d in self.differences
            ],
            "unexpectedDrift": self.drift,
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


def known(value: Any) -> bool:
    return isinstance(value, str) and bool(value) and value not in (UNKNOWN, SECRET_MARK)


def strings(run: ProgramRun) -> Iterator[str]:
    for resource in run.resources:
        for _, value in flatten({"inputs": resource.inputs, "outputs": resource.outputs}):
            if isinstance(value, str):
                yield value


def own_subscription(run: ProgramRun, resource_groups: Iterable[str]) -> str | None:
    """The subscription the stack's ARM ids place its own resource group in (the deployment's subscription,
    `azure-native:subscriptionId` or the offline placeholder); None when no id says."""
    groups = {group.lower() for group in resource_groups}
    found = Counter(
        match[1]
        for value in strings(run)
        for match in ARM_RESOURCE_GROUP.finditer(value)
        if match[2].lower() in groups and known(match[1])
    )
    return found.most_common(1)[0][0] if found else None


def derived_values(run: ProgramRun) -> dict[str, str]:
    """Values this stack's own resources give it (known only when the provider answered them) -> placeholders
    by role: computed outputs, and role-assignment names derived from the assignment's own inputs."""
    derived: dict[str, str] = {}
    for resource in run.resources:
        for key in COMPUTED_OUTPUTS:
            value = resource.outputs.get(key)
            # Computed by Azure for this resource, not an input it echoes (a role assignment's `principalId`).
            if known(value) and key not in resource.inputs:
                derived.setdefault(value, f"<{key} of {resource.name}>")
    for assignment in run.by_type(ROLE_ASSIGNMENT):
        inputs = assignment.inputs
        name, scope, principal, definition = (
            inputs.get(key) for key in ("roleAssignmentName", "scope", "principalId", "roleDefinitionId")
        )
        if not all(known(value) for value in (name, scope, principal, definition)):
            continue
        role = BuiltInRole(display_name="", slug="", guid=definition.rsplit("/", 1)[-1])
        if role_assignment_name(scope, principal, role) == name:
            derived[name] = f"<role-assignment-name of {assignment.name}>"
    return derived


class Normalizer:
    """Replaces one stack's own values (see the module docstring) with placeholders shared by every stack."""

    def __init__(self, run: ProgramRun) -> None:
        self.stack = run.stack
        names = stack_names(run)
        groups = [name for name, placeholder in names.items() if placeholder == "<resourceGroupName>"]
        self.subscription = own_subscription(run, groups)
        # Whole values and whole names; the longest first, so a name wins over a shorter one it contains.
        self.replacements: dict[str, str] = {**names, **derived_values(run)}
        branches = [
            NAME_START + re.escape(token) + NAME_END for token in sorted(self.replacements, key=len, reverse=True)
        ]
        if self.subscription:
            prefix = f"/subscriptions/{self.subscription}"
            self.replacements[prefix] = "/subscriptions/<subscriptionId>"
            in_own_group = "|".join(f"/resourceGroups/{re.escape(g)}(?![\\w-])" for g in groups)
            context = "|".join(filter(None, [in_own_group, "/providers/", "/?$"]))
            branches.insert(0, re.escape(prefix) + f"(?=(?i:{context}))")
        if self.stack and self.stack not in self.replacements:
            self.replacements[self.stack] = "<stack>"
            branches.append(WORD_START + re.escape(self.stack) + WORD_END)
        self.pattern = re.compile("|".join(branches)) if branches else None

    def __call__(self, value: Any) -> Any:
        if not isinstance(value, str) or value == UNKNOWN or self.pattern is None:
            return value
        if value == self.subscription:
            return "<subscriptionId>"
        if value == self.stack and self.replacements.get(value) == "<stack>":
            return value  # a whole value equal to the stack name is config (e.g. tags.environment): shown
        return self.pattern.sub(lambda match: self.replacements[match[0]], value)


def titles(run: ProgramRun) -> dict[str, tuple[str, str]]:
    """Resource key -> (owner, title): the job it belongs to (or `platform`), and `job <job> · <Type> [<name>]`
    (or `platform · ...`), where a reviewer finds it in the stack file."""
    by_urn = {r.urn: r for r in run.resources}

    def title(registration: Registration) -> tuple[str, str]:
        owner, parent = "platform", by_urn.get(registration.parent)
        while parent is not None:
            if parent.type in JOB_COMPONENTS:
                owner = parent.name
                break
            parent = by_urn.get(parent.parent)
        where = "platform" if owner == "platform" else f"job {owner}"
        kind = registration.type.rsplit(":", 1)[-1]
        named = "" if registration.name == owner else f" {registration.name}"
        return owner, f"{where} · {kind}{named}"

    return {resource_key(r): title(r) for r in run.resources}


def expected_as(registration: Registration, path: str, by_design: bool) -> str | None:
    if by_design:
        return BY_DESIGN
    return next((row.label for row in MAY_DIFFER if row.matches(registration, path)), None)


def compare(left: ProgramRun, right: ProgramRun) -> Comparison:
    lefts = {resource_key(r): r for r in left.resources}
    rights = {resource_key(r): r for r in right.resources}
    left_own, right_own = Normalizer(left), Normalizer(right)
    differences = []
    right_titles = titles(right)
    for key in sorted(set(lefts) & set(rights)):
        a, b = dict(flatten(lefts[key].inputs)), dict(flatten(rights[key].inputs))
        owner, where = right_titles[key]
        for path in sorted(set(a) | set(b)):
            if a.get(path) != b.get(path):
                by_design = left_own(a.get(path)) == right_own(b.get(path))
                category = expected_as(rights[key], path, by_design)
                differences.append(
                    InputDifference(
                        key, path, a.get(path), b.get(path), by_design, category, f"{where} · {path}", owner
                    )
                )
        if lefts[key].protect != rights[key].protect:
            category = expected_as(rights[key], "protect", False)
            differences.append(
                InputDifference(
                    key,
                    "protect",
                    lefts[key].protect,
                    rights[key].protect,
                    False,
                    category,
                    f"{where} · protect",
                    owner,
                )
            )
    only_left, only_right = sorted(set(lefts) - set(rights)), sorted(set(rights) - set(lefts))
    only = {**{k: lefts[k] for k in only_left}, **{k: rights[k] for k in only_right}}
    return Comparison(
        left=left.stack,
        right=right.stack,
        only_left=only_left,
        only_right=only_right,
        differences=differences,
        expected_only=frozenset(key for key, r in only.items() if r.type.startswith(MONITOR)),
    )


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 160 else text[:157] + "..."


def render(comparison: Comparison) -> str:
    left, right = comparison.left, comparison.right
    lines = [f"Comparing offline previews: {left} -> {right}", ""]
    lines.append("Unexpected (not in docs/promotion.md's may-differ column; fix before promoting):")
    unexpected = comparison.unexpected
    for difference in unexpected:
        lines.append(f"    {difference.title}: {_shown(difference.left)} → {_shown(difference.right)}")
    for key in comparison.unexpected_only:
        where = left if key in comparison.only_left else right
        lines.append(f"    only in {where}: {key}")
    if not comparison.drift:
        lines.append("    (none)")
    lines += ["", "Expected (may differ between stacks by design), one line each:"]
    groups: dict[str, list[InputDifference]] = {}
    for difference in comparison.differences:
        if difference.expected_as is not None:
            groups.setdefault(difference.expected_as, []).append(difference)
    by_job = {row.label for row in MAY_DIFFER if row.summarize_by_job}
    for label, members in groups.items():
        if label in by_job:
            lines.append(f"    {label}: {', '.join(sorted({d.owner for d in members}))}")
        else:
            resources = len({d.resource for d in members})
            lines.append(f"    {label}: {_count(len(members), 'value')} on {_count(resources, 'resource')}")
    expected_only = sorted(comparison.expected_only)
    for where, keys in ((left, comparison.only_left), (right, comparison.only_right)):
        allowed = [key for key in keys if key in expected_only]
        if allowed:
            lines.append(f"    alert resources only in {where}: {len(allowed)}")
    if not groups and not expected_only:
        lines.append("    (none)")
    drift = len(unexpected) + len(comparison.unexpected_only)
    verdict = "no unexpected drift" if not drift else f"{_count(drift, 'unexpected difference')}: exit 1"
    lines += ["", f"Result: {verdict} (--json lists every difference with its category)."]
    return "\n".join(lines)
