"""ARM resource ids, parsed into their scope levels and compared structurally, never as text.

An ARM id is a path of fixed segments (Microsoft Learn, "Resource naming and tagging decision guide" and the ARM
REST reference, `Resource IDs`):

    /providers/Microsoft.Management/managementGroups/<group>                     management group
    /subscriptions/<subscription>                                                 subscription
    /subscriptions/<subscription>/resourceGroups/<group>                          resource group
    /subscriptions/<subscription>/resourceGroups/<group>/providers/<Namespace>/<type>/<name>[/<type>/<name>...]

Text matching on ids is how a scope rule gets fooled: `.../vaults/v/secrets/s/..` normalises to the whole vault, an
empty segment (`//`) or a `.` segment moves the names around, and a resource group called `secrets` makes any id
"contain" `/secrets/`. So every rule about scopes, hosts and owners reads ids through `ArmId.parse`, which refuses
what ARM never produces (empty, `.` or `..` segments, whitespace, characters outside the names' set, a trailing
`/`), keeps the levels apart, and compares case-insensitively (ARM ids are case-insensitive).

Dependency-free on purpose: the program (`components`) and the policy pack (which the Pulumi CLI runs in its own
virtualenv) import this one module, so the rules cannot drift apart.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# The characters ARM names are made of. Resource names allow letters, digits, '-', '_', '.', '(' and ')' (resource
# groups: Unicode letters and digits too; Microsoft Learn "Naming rules and restrictions for Azure resources");
# none allows whitespace, '/', '\\', '?', '#', '%', '&', '<', '>', '*' or ':'. A name never ends with '.'.
_SEGMENT = re.compile(r"^[\w().~-]+$")
_NAMESPACE = re.compile(r"^[A-Za-z][A-Za-z0-9]*(?:\.[A-Za-z][A-Za-z0-9]*)+$")
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")

MANAGEMENT_GROUP = "managementGroup"
SUBSCRIPTION = "subscription"
RESOURCE_GROUP = "resourceGroup"
RESOURCE = "resource"
TENANT = "tenant"


class ArmIdError(ValueError):
    """Text that is not an ARM id ARM would produce; `reason` says what is wrong with it."""

    def __init__(self, text: str, reason: str) -> None:
        super().__init__(f"`{text}` is not an ARM id: {reason}")
        self.text = text
        self.reason = reason


@dataclass(frozen=True, eq=False)
class ArmId:
    """A parsed ARM id. `resources` are the (type, name) pairs below the provider namespace, top-level first;
    extension resources (a second `/providers/`) are refused: no scope this project reads is one."""

    text: str = field(repr=False)
    management_group: str | None = None
    subscription: str | None = None
    resource_group: str | None = None
    namespace: str | None = None
    resources: tuple[tuple[str, str], ...] = ()

    @classmethod
    def parse(cls, text: object) -> ArmId:
        if not isinstance(text, str):
            raise ArmIdError(str(text), "it is not text")
        if text == "/":
            return cls(text)
        if not text.startswith("/"):
            raise ArmIdError(text, "it must start with `/`")
        if text.endswith("/"):
            raise ArmIdError(text, "it must not end with `/`")
        segments = text[1:].split("/")
        for segment in segments:
            if segment == "":
                raise ArmIdError(text, "it has an empty segment (`//`)")
            if segment in (".", ".."):
                raise ArmIdError(text, f"it has a `{segment}` segment, which would change the scope it names")
            if segment.startswith("<") and segment.endswith(">"):
                raise ArmIdError(text, f"`{segment}` is a placeholder to replace with the real value")
            if not _SEGMENT.fullmatch(segment) or segment.endswith("."):
                raise ArmIdError(text, f"segment `{segment}` has characters ARM names never hold")
        lowered = [segment.lower() for segment in segments]
        if lowered[:3] == ["providers", "microsoft.management", "managementgroups"]:
            if len(segments) != 4:
                raise ArmIdError(text, "only a management group itself is read here, nothing below it")
            return cls(text, management_group=segments[3])
        if lowered[0] != "subscriptions" or len(segments) < 2:
            raise ArmIdError(text, "it must start with `/subscriptions/<id>` (or name a management group)")
        subscription = segments[1]
        if not _GUID.fullmatch(subscription):
            raise ArmIdError(text, f"`{subscription}` is not a subscription id (a GUID)")
        rest, lowered_rest = segments[2:], lowered[2:]
        resource_group = None
        if lowered_rest[:1] == ["resourcegroups"]:
            if len(rest) < 2:
                raise ArmIdError(text, "`resourceGroups` needs a name")
            resource_group, rest, lowered_rest = rest[1], rest[2:], lowered_rest[2:]
        if not rest:
            return cls(text, subscription=subscription, resource_group=resource_group)
        if lowered_rest[0] != "providers" or len(rest) < 4:
            raise ArmIdError(
                text, "below a subscription or resource group comes `/providers/<Namespace>/<type>/<name>`"
            )
        namespace, pairs = rest[1], rest[2:]
        if not _NAMESPACE.fullmatch(namespace):
            raise ArmIdError(text, f"`{namespace}` is not a resource provider namespace")
        if len(pairs) % 2:
            raise ArmIdError(text, "its resource types and names do not pair up (`<type>/<name>` each)")
        resources = tuple((pairs[i], pairs[i + 1]) for i in range(0, len(pairs), 2))
        if any(kind.lower() == "providers" for kind, _ in resources):
            raise ArmIdError(text, "an extension resource (a second `/providers/`) is not a scope read here")
        return cls(text, None, subscription, resource_group, namespace, resources)

    @classmethod
    def try_parse(cls, text: object) -> ArmId | None:
        try:
            return cls.parse(text)
        except ArmIdError:
            return None

    # --- what it is -------------------------------------------------------------------------------------------

    @property
    def level(self) -> str:
        """`tenant`, `managementGroup`, `subscription`, `resourceGroup` or `resource`."""
        if self.resources:
            return RESOURCE
        if self.resource_group is not None:
            return RESOURCE_GROUP
        if self.subscription is not None:
            return SUBSCRIPTION
        if self.management_group is not None:
            return MANAGEMENT_GROUP
        return TENANT

    @property
    def resource_type(self) -> str | None:
        """`Namespace/type[/childType...]`, e.g. `Microsoft.KeyVault/vaults/secrets`; None above resource level."""
        if not self.resources:
            return None
        return "/".join([self.namespace or "", *(kind for kind, _ in self.resources)])

    @property
    def name(self) -> str | None:
        """The last name: the resource's, else the resource group's, subscription's or management group's."""
        if self.resources:
            return self.resources[-1][1]
        return self.resource_group or self.subscription or self.management_group

    def is_type(self, resource_type: str) -> bool:
        """Whether this is a resource of exactly `resource_type` (case-insensitive)."""
        return self.resource_type is not None and self.resource_type.lower() == resource_type.lower()

    def name_of(self, kind: str) -> str | None:
        """The name at the (first) `kind` step, e.g. `vaults` -> the vault's name."""
        return next((name for step, name in self.resources if step.lower() == kind.lower()), None)

    @property
    def parent(self) -> ArmId | None:
        if self.resources[1:]:
            return self._with(resources=self.resources[:-1])
        if self.resources:
            return self._with(namespace=None, resources=())
        if self.resource_group is not None:
            return self._with(resource_group=None)
        return None

    def child(self, kind: str, name: str) -> ArmId:
        """The child resource `<self>/<kind>/<name>` (parsed again, so the name is checked)."""
        return ArmId.parse(f"{self.text}/{kind}/{name}")

    def _with(self, **changes: object) -> ArmId:
        parts = {
            "management_group": self.management_group,
            "subscription": self.subscription,
            "resource_group": self.resource_group,
            "namespace": self.namespace,
            "resources": self.resources,
            **changes,
        }
        return ArmId(_render(**parts), **parts)  # type: ignore[arg-type]

    # --- comparing --------------------------------------------------------------------------------------------

    @property
    def key(self) -> tuple[object, ...]:
        """The id's identity: every part, lower-cased (ARM ids are case-insensitive)."""
        return (
            (self.management_group or "").lower(),
            (self.subscription or "").lower(),
            (self.resource_group or "").lower(),
            (self.namespace or "").lower(),
            tuple((kind.lower(), name.lower()) for kind, name in self.resources),
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ArmId) and self.key == other.key

    def __hash__(self) -> int:
        return hash(self.key)

    def is_within(self, other: ArmId) -> bool:
        """Whether this id is `other` or below it (a secret within its vault, a vault within its resource group).
        A management group's contents are not visible in an id, so only the group itself is within it."""
        if other.level == TENANT:
            return True
        if other.level == MANAGEMENT_GROUP:
            return self == other
        mine, theirs = self.key, other.key
        if mine[1] != theirs[1]:
            return False
        if other.level == SUBSCRIPTION:
            return True
        if mine[2] != theirs[2]:
            return False
        if other.level == RESOURCE_GROUP:
            return True
        return mine[3] == theirs[3] and mine[4][: len(theirs[4])] == theirs[4]

    def __str__(self) -> str:
        return self.text


def _render(
    management_group: str | None,
    subscription: str | None,
    resource_group: str | None,
    namespace: str | None,
    resources: tuple[tuple[str, str], ...],
) -> str:
    if management_group is not None:
        return f"/providers/Microsoft.Management/managementGroups/{management_group}"
    if subscription is None:
        return "/"
    text = f"/subscriptions/{subscription}"
    if resource_group is not None:
        text += f"/resourceGroups/{resource_group}"
    if resources:
        text += f"/providers/{namespace}/" + "/".join(f"{kind}/{name}" for kind, name in resources)
    return text


def same_id(left: object, right: object) -> bool:
    """Whether two texts are the same ARM id (parsed; anything unparsable matches nothing)."""
    first, second = ArmId.try_parse(left), ArmId.try_parse(right)
    return first is not None and second is not None and first == second
