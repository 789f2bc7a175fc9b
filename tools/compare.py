"""Resource-level differences between two stacks' offline previews: what promotion would change beyond the
image, for a reviewer to read before approving.

Every input that differs is listed. Values are compared as what they are, not as text: ARM ids parsed
(`policy.aca_facts.arm_id.ArmId`, case-insensitive), role definitions by their role GUID (the subscription part of
`roleDefinitionId` follows the scope's, which is compared on its own path), Key Vault secret references by their
parts (vault, secret name, version; Key Vault identifiers compare case-insensitively), and list items that carry
a `name` (env variables, secrets, containers, scale rules) by that name, so an added variable is one difference,
not a shift of every variable after it.

A difference is marked by design (summarized, not shown) only when the two values become equal once each stack's
*own* values are replaced, by the role they play, with placeholders shared by every stack:

- the physical names of the stack's platform resources (resource group, environment, workspace, namespace),
  wherever they appear as a whole name (`rg-aca-prod`, `sb-aca-prod.servicebus.windows.net`, a name in an ARM id);
- the subscription of the stack's own resources (the one its ARM ids place its resource group in, i.e.
  `azure-native:subscriptionId` or the offline placeholder), in ids inside that resource group and in
  subscription-level ids (`/subscriptions/<sub>/providers/...`);
- the stack name, where it is part of a longer value (a whole value equal to it, like `tags.environment: prod`,
  is config and stays visible);
- values Azure computes for the stack's own resources (`principalId`, `clientId`, `customerId` of a registration
  whose outputs are known) -> `<principalId of {logical name}>`, and role-assignment names that are the
  deterministic uuid5 of the assignment's own scope, principal and role (`components.naming`) ->
  `<role-assignment-name of {logical name}>`; the scope and principal are compared on their own paths;
- a role assignment's `roleDefinitionId` naming the same role GUID.

Nothing else is erased: a GUID or id that is not one of these (an env value, a registry id, a role assignment's
scope in another subscription) is compared as written, and values the preview cannot know yet (the unknown
sentinel, in the default `new-stack` mode) compare equal to each other.

What is not by design is checked against the may-differ table (`MAY_DIFFER`, docs/promotion.md), per property and
on parsed parts where the table allows only some of a value to differ: a Key Vault secret reference may point at
another vault, never at another secret or version; a grant scope may name each stack's own resource, never a
resource of another type.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from components.job_kinds import JOB_COMPONENT_TYPES
from components.naming import role_assignment_name
from policy.aca_facts.arm_id import ArmId
from policy.aca_facts.roles import DATA_PLANE_ROLES_BY_GUID, BuiltInRole, role_guid_of
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
# A name is replaced only as a whole name: not inside a longer name (`rg-aca-prod2`, `log-aca-env-prod`).
NAME_START, NAME_END = r"(?<![\w-])", r"(?![\w-])"
# The stack name is a word of a longer value (`aca-jobs-prod-...`), never a part of a word (`acrsharedprod`).
WORD_START, WORD_END = r"(?<![A-Za-z0-9])", r"(?![A-Za-z0-9])"


JOB = "azure-native:app:Job"
MONITOR = "azure-native:monitor:"
JOB_COMPONENTS = JOB_COMPONENT_TYPES
BY_DESIGN = "each stack's own names, subscription and the values derived from them"
KEY_VAULT_SECRET = "Microsoft.KeyVault/vaults/secrets"


# --- values, parsed ------------------------------------------------------------------------------------------

# https://<vault><suffix>/secrets/<name>[/<version>] (Microsoft Learn, "About keys, secrets and certificates",
# Object identifiers): secret names are 1-127 letters, digits and '-'; the version is a 32-character id Key Vault
# generates for each version it stores. Identifiers "should always be compared as case-insensitive strings".
_SECRET_URL = re.compile(
    r"https://(?P<host>[A-Za-z0-9-]+\.vault\.[A-Za-z0-9.-]+)/secrets/(?P<name>[A-Za-z0-9-]{1,127})"
    r"(?:/(?P<version>[0-9A-Fa-f]{32}))?"
)


@dataclass(frozen=True)
class SecretReference:
    """A Key Vault secret URL in parts, lower-cased: the vault's host, the secret's name, its version (None: the
    latest, which follows rotation)."""

    host: str
    name: str
    version: str | None

    @classmethod
    def parse(cls, value: Any) -> SecretReference | None:
        match = _SECRET_URL.fullmatch(value) if isinstance(value, str) else None
        if match is None:
            return None
        version = match["version"]
        return cls(match["host"].lower(), match["name"].lower(), version.lower() if version else None)


def same_value(left: Any, right: Any) -> bool:
    """Whether two input values say the same thing: ids parsed (case-insensitive), Key Vault secret references by
    their parts, anything else as written."""
    if left == right:
        return True
    ids = ArmId.try_parse(left), ArmId.try_parse(right)
    if ids[0] is not None and ids[1] is not None:
        return ids[0] == ids[1]
    references = SecretReference.parse(left), SecretReference.parse(right)
    return references[0] is not None and references[0] == references[1]


def same_role(registration: Registration, path: str, left: Any, right: Any) -> bool:
    """A role assignment's role definition in each stack, compared by role GUID: `roleDefinitionId` is written in
    the scope's own subscription (`components.naming.role_definition_id`; ARM rejects a definition from another
    one), so a scope in another subscription changes the id, never the role. The scope shows on its own path."""
    if registration.type != ROLE_ASSIGNMENT or path != "roleDefinitionId":
        return False
    guid = role_guid_of(left)
    return guid is not None and guid == role_guid_of(right)


# --- the may-differ table ------------------------------------------------------------------------------------

# A row's check of a value's parts, for rows that allow only part of a value to differ: None when the two values
# differ only where the row allows, else what differs beyond that (shown to the reviewer).
PartsCheck = Callable[[Any, Any], str | None]


def only_the_vault(left: Any, right: Any) -> str | None:
    """Key Vault secret references: each stack reads its own vault; the secret and its version are the same."""
    first, second = SecretReference.parse(left), SecretReference.parse(right)
    if first is None or second is None:
        return "not both Key Vault secret URLs (https://<vault><suffix>/secrets/<name>[/<version>])"
    if first.name != second.name:
        return f"the Key Vault secret differs (`{first.name}` → `{second.name}`): only the vault may"
    if first.version != second.version:
        return (
            f"the secret version differs ({first.version or 'latest'} → {second.version or 'latest'}): only the "
            "vault may"
        )
    return None


def versions_of_own_vaults(left: Any, right: Any) -> str | None:
    """The same secret pinned in each stack's own vault: Key Vault generates a version's id when it stores it, so
    the same secret's versions in two vaults never share an id, and they can only be compared by reading them."""
    first, second = SecretReference.parse(left), SecretReference.parse(right)
    if (
        first is None
        or second is None
        or first.name != second.name
        or first.host == second.host
        or first.version is None
        or second.version is None
    ):
        return "not pinned versions of one secret in two vaults"
    return None


def same_kind_of_scope(left: Any, right: Any) -> str | None:
    """Grant scopes: each stack's own resource, of the same type; for a Key Vault secret, the same secret (only the
    vault, its group and subscription may differ)."""
    first, second = ArmId.try_parse(left), ArmId.try_parse(right)
    if first is None or second is None:
        return "not both ARM ids: the scopes cannot be compared"
    kinds = first.resource_type or first.level, second.resource_type or second.level
    if kinds[0].lower() != kinds[1].lower():
        return f"the scope is a {kinds[0]} in one stack and a {kinds[1]} in the other: only its names may differ"
    if first.is_type(KEY_VAULT_SECRET) and (first.name or "").lower() != (second.name or "").lower():
        return f"the Key Vault secret differs (`{first.name}` → `{second.name}`): only the vault may"
    return None


@dataclass(frozen=True)
class MayDiffer:
    """One row of docs/promotion.md "What each stack's config may differ in", as the inputs it shows up in."""

    label: str
    path: re.Pattern[str]
    types: tuple[str, ...] = ()  # resource types (a prefix ends with ':'); empty: any
    data_plane_grant: bool = False  # only a role assignment of a data-plane role (azureAccess, Key Vault)
    summarize_by_job: bool = False  # the summary names the jobs (what a promotion moves) instead of counting
    check: PartsCheck | None = None  # when only some parts of the value may differ

    def matches(self, registration: Registration, path: str) -> bool:
        if self.types and not any(
            registration.type == t or (t.endswith(":") and registration.type.startswith(t)) for t in self.types
        ):
            return False
        if self.data_plane_grant:
            role = role_guid_of(registration.inputs.get("roleDefinitionId"))
            if role not in DATA_PLANE_ROLES_BY_GUID:
                return False
        return bool(self.path.fullmatch(path))


KEY_VAULT_URL = re.compile(r"configuration\.secrets\[\d+\]\.keyVaultUrl")
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
    MayDiffer("Key Vault references (each stack's own vault)", KEY_VAULT_URL, (JOB,), check=only_the_vault),
    MayDiffer(
        "Key Vault secret versions pinned in each stack's own vault (ids differ per vault: check each is the one "
        "meant)",
        KEY_VAULT_URL,
        (JOB,),
        check=versions_of_own_vaults,
    ),
    MayDiffer(
        "grant scopes of Key Vault secrets and azureAccess (each stack's own resources)",
        re.compile(r"scope"),
        (ROLE_ASSIGNMENT,),
        data_plane_grant=True,
        check=same_kind_of_scope,
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
    title: str = ""  # for a reviewer: `job <job> · <Type> [<name>] · <where in the resource>`
    owner: str = ""  # the job the resource belongs to, or `platform`
    reason: str = ""  # unexpected although its path is in the table: what differs beyond what the table allows


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
                    "reason": d.reason or None,
                }
                for d in self.differences
            ],
            "unexpectedDrift": self.drift,
        }


def resource_key(registration: Registration) -> str:
    return registration.urn.split("::", 2)[2]


# --- input paths ---------------------------------------------------------------------------------------------


def flatten(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict) and value:
        for key in sorted(value):
            yield from flatten(value[key], f"{path}.{key}" if path else key)
    elif isinstance(value, list) and value:
        for index, item in enumerate(value):
            yield from flatten(item, f"{path}[{index}]")
    else:
        yield path, value


@dataclass(frozen=True)
class Step:
    """One step of an input path: a property (`key`), or an item of the list under `key`: by position, and by its
    `name` when every item of the list has a distinct one."""

    key: str
    index: int | None = None
    name: str | None = None
    items: int = 0  # how many items the list has

    @property
    def identity(self) -> tuple[Any, ...]:
        """What pairs this step with the other stack's: a named item by its name, whatever its position."""
        return (self.key, "name", self.name) if self.name is not None else (self.key, "index", self.index)


Steps = tuple[Step, ...]


def leaves(value: Any, steps: Steps = (), key: str = "") -> Iterator[tuple[Steps, Any]]:
    """Every leaf value of `value` with the steps that lead to it (empty maps and lists are leaves)."""
    if isinstance(value, dict) and value:
        here = (*steps, Step(key)) if key else steps
        for child in sorted(value):
            yield from leaves(value[child], here, child)
    elif isinstance(value, list) and value:
        names = [item.get("name") if isinstance(item, dict) else None for item in value]
        named = all(isinstance(name, str) for name in names) and len(set(names)) == len(names)
        for index, item in enumerate(value):
            yield from leaves(item, (*steps, Step(key, index, names[index] if named else None, len(value))))
    else:
        yield ((*steps, Step(key)) if key else steps), value


def path_of(steps: Steps) -> str:
    """`template.containers[0].env[1].value`: the input path by positions, as `pulumi preview --json` shows it."""
    text = ""
    for step in steps:
        if step.key:
            text += f".{step.key}" if text else step.key
        if step.index is not None:
            text += f"[{step.index}]"
    return text


# How a named list item is called in a title: `env ORDERS_DB_HOST`, `secret orders-db-password`.
ITEM_LABELS = {
    "env": "env",
    "secrets": "secret",
    "containers": "container",
    "initContainers": "init container",
    "rules": "scale rule",
    "volumes": "volume",
    "volumeMounts": "volume mount",
    "workloadProfiles": "workload profile",
}


def readable(steps: Steps) -> str:
    """Where a value is, in the stack file's terms: named items by name (`env ORDERS_DB_HOST`,
    `secret orders-db-password · keyVaultUrl`), the rest as its input path. A job's only container is the job
    itself (the stack file has no container), so it is not named."""
    segments: list[str] = []
    rest: list[Step] = []
    for step in steps:
        if step.name is None:
            rest.append(step)
            continue
        rest = []  # the named item says where it is; the path to its list adds nothing
        if not (step.key == "containers" and step.items == 1):
            segments.append(f"{ITEM_LABELS.get(step.key, step.key)} {step.name}")
    tail = path_of(tuple(rest))
    if tail == "value" and segments and segments[-1].startswith("env "):
        tail = ""  # an env variable's value is the variable
    return " · ".join([*segments, tail] if tail else segments) or tail


# --- each stack's own values ---------------------------------------------------------------------------------


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
    found: Counter[str] = Counter()
    for value in strings(run):
        arm_id = ArmId.try_parse(value) if value.startswith("/subscriptions/") else None
        if arm_id is not None and (arm_id.resource_group or "").lower() in groups and known(arm_id.subscription):
            found[str(arm_id.subscription)] += 1
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
        name, scope, principal = (inputs.get(key) for key in ("roleAssignmentName", "scope", "principalId"))
        guid = role_guid_of(inputs.get("roleDefinitionId"))
        if guid is None or not all(known(value) for value in (name, scope, principal)):
            continue
        if role_assignment_name(scope, principal, BuiltInRole(display_name="", slug="", guid=guid)) == name:
            derived[name] = f"<role-assignment-name of {assignment.name}>"
    return derived


class Normalizer:
    """Replaces one stack's own values (see the module docstring) with placeholders shared by every stack."""

    def __init__(self, run: ProgramRun) -> None:
        self.stack = run.stack
        names = stack_names(run)
        self.groups = {name.lower() for name, placeholder in names.items() if placeholder == "<resourceGroupName>"}
        self.subscription = own_subscription(run, self.groups)
        # Whole values and whole names; the longest first, so a name wins over a shorter one it contains.
        self.replacements: dict[str, str] = {**names, **derived_values(run)}
        # The same, for one name of a parsed ARM id (ids are case-insensitive).
        self.id_names = {name.lower(): placeholder for name, placeholder in self.replacements.items()}
        branches = [
            NAME_START + re.escape(token) + NAME_END for token in sorted(self.replacements, key=len, reverse=True)
        ]
        if self.subscription:
            prefix = f"/subscriptions/{self.subscription}"
            self.replacements[prefix] = "/subscriptions/<subscriptionId>"
            in_own_group = "|".join(f"/resourceGroups/{re.escape(g)}(?![\\w-])" for g in self.groups)
            context = "|".join(filter(None, [in_own_group, "/providers/", "/?$"]))
            branches.insert(0, re.escape(prefix) + f"(?=(?i:{context}))")
        self.stack_word: re.Pattern[str] | None = None
        if self.stack and self.stack not in self.replacements:
            self.replacements[self.stack] = "<stack>"
            branches.append(WORD_START + re.escape(self.stack) + WORD_END)
            self.stack_word = re.compile(WORD_START + re.escape(self.stack.lower()) + WORD_END)
        self.pattern = re.compile("|".join(branches)) if branches else None

    def __call__(self, value: Any) -> Any:
        if not isinstance(value, str) or value == UNKNOWN or self.pattern is None:
            return value
        if value == self.subscription:
            return "<subscriptionId>"
        if value == self.stack and self.replacements.get(value) == "<stack>":
            return value  # a whole value equal to the stack name is config (e.g. tags.environment): shown
        return self.pattern.sub(lambda match: self.replacements[match[0]], value)

    def key(self, value: Any) -> Any:
        """What `value` says once this stack's own values are replaced: an ARM id part by part, anything else as
        text. Two stacks' values are the same by design when their keys are equal."""
        arm_id = ArmId.try_parse(value)
        if arm_id is None:
            return ("value", self(value))
        subscription = (arm_id.subscription or "").lower()
        in_own_group = arm_id.resource_group is None or arm_id.resource_group.lower() in self.groups
        if self.subscription and subscription == self.subscription.lower() and in_own_group:
            subscription = "<subscriptionId>"
        return (
            "arm-id",
            (arm_id.management_group or "").lower(),
            subscription,
            self._id_name(arm_id.resource_group or ""),
            (arm_id.namespace or "").lower(),
            tuple((kind.lower(), self._id_name(name)) for kind, name in arm_id.resources),
        )

    def _id_name(self, name: str) -> str:
        lowered = name.lower()
        if lowered in self.id_names:
            return self.id_names[lowered]
        return self.stack_word.sub("<stack>", lowered) if self.stack_word else lowered


# --- comparing -----------------------------------------------------------------------------------------------


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


def classify(registration: Registration, path: str, left: Any, right: Any, by_design: bool) -> tuple[str | None, str]:
    """(The may-differ row a difference falls under, or None: unexpected; and, when a row names the path but not
    what differs in it, what that is.)"""
    if by_design:
        return BY_DESIGN, ""
    refused = ""
    for row in MAY_DIFFER:
        if row.matches(registration, path):
            problem = row.check(left, right) if row.check is not None else None
            if problem is None:
                return row.label, ""
            refused = refused or problem
    return None, refused


def compare(left: ProgramRun, right: ProgramRun) -> Comparison:
    lefts = {resource_key(r): r for r in left.resources}
    rights = {resource_key(r): r for r in right.resources}
    left_own, right_own = Normalizer(left), Normalizer(right)
    differences = []
    right_titles = titles(right)
    for key in sorted(set(lefts) & set(rights)):
        a = {tuple(s.identity for s in steps): (steps, value) for steps, value in leaves(lefts[key].inputs)}
        b = {tuple(s.identity for s in steps): (steps, value) for steps, value in leaves(rights[key].inputs)}
        owner, where = right_titles[key]
        found = []
        for identity in set(a) | set(b):
            steps, right_value = b.get(identity, (None, None))
            left_steps, left_value = a.get(identity, (None, None))
            steps = steps or left_steps or ()
            if same_value(left_value, right_value):
                continue
            path = path_of(steps)
            by_design = left_own.key(left_value) == right_own.key(right_value) or same_role(
                rights[key], path, left_value, right_value
            )
            category, reason = classify(rights[key], path, left_value, right_value, by_design)
            title = f"{where} · {readable(steps)}"
            found.append(InputDifference(key, path, left_value, right_value, by_design, category, title, owner, reason))
        differences += sorted(found, key=lambda d: (d.path, d.title))
        if lefts[key].protect != rights[key].protect:
            category, _ = classify(rights[key], "protect", lefts[key].protect, rights[key].protect, False)
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
        why = f" ({difference.reason})" if difference.reason else ""
        lines.append(f"    {difference.title}: {_shown(difference.left)} → {_shown(difference.right)}{why}")
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
