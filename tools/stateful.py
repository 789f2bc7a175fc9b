"""Stateful resources: which ones hold data, what a committed snapshot records about them, and what happens to
that data when a config edit makes one leave the stack.

What the engine does with a resource that leaves the program is decided by its *old* state, never by the
program (pulumi/pulumi `pkg/resource/deploy/step_generator.go` `GenerateDeletes` makes a `DeleteStep` from the
previous snapshot's entry; `pkg/resource/deploy/step.go` `DeleteStep.Apply` reads `s.old`):
- `protect` first: the delete fails ("cannot be deleted because it is protected"), in a preview too, since the
  check comes before the dry-run branch. A replacement of a resource protected before and after is refused the
  same way (`step_generator.go`: "unable to replace resource ... marked for protection");
- then `retainOnDelete`: the delete is a no-op, the resource stays in Azure and only leaves the state (also for
  the delete half of a replacement: `NewDeleteReplacementStep` applies the same `Apply`);
- otherwise the provider deletes it, and its data with it.

The offline preview has no state. The committed snapshot (`tests/snapshots/<stack>.txt`, written by
`tools.snapshots`) is the last reviewed one: each resource's URN, physical name and these two options. Comparing
the program with it tells which stateful resources leave and what happens to their data.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from components.job_kinds import EVENT_SOURCES
from tools.offline import PROJECT_DIR, RESOURCE_GROUP, ProgramRun, Registration

SNAPSHOT_DIR = PROJECT_DIR / "tests" / "snapshots"
NAMESPACE = "azure-native:servicebus:Namespace"
WORKSPACE = "azure-native:operationalinsights:Workspace"
ENVIRONMENT = "azure-native:app:ManagedEnvironment"

# What each stateful type holds: what is lost when Azure deletes it. The environment holds no data of its own
# (its jobs' logs are in the workspace), but it is where every job runs. Event sources add what they create.
HOLDS: dict[str, str] = {
    RESOURCE_GROUP: "with everything in it",
    NAMESPACE: "with every queue in it and their messages",
    WORKSPACE: "with its logs",
    ENVIRONMENT: "(it holds no data of its own; its jobs' logs are in the workspace)",
    **{type_: holds for kind in EVENT_SOURCES for type_, holds in kind.source.HOLDS.items()},
}


# Deleting a container deletes what is in it, retained or not: Azure deletes a resource group's resources with it
# (Microsoft Learn, REST "Resource Groups - Delete": "When you delete a resource group, all of its resources are
# also deleted"), and an event source's entities live in a platform resource (a namespace's queues are its child
# resources). A stack has one of each.
# An entity the stack creates inside a resource it only references (a storage queue in an existing account) is in
# that resource's group, not the stack's: renaming the stack's group does not touch it.
def _containers() -> dict[str, frozenset[str]]:
    elsewhere = {
        entity
        for kind in EVENT_SOURCES
        for entity, container in kind.source.CONTAINED_IN.items()
        if container not in HOLDS
    }
    contains: dict[str, frozenset[str]] = {RESOURCE_GROUP: frozenset(HOLDS) - {RESOURCE_GROUP} - elsewhere}
    for kind in EVENT_SOURCES:
        for entity, container in kind.source.CONTAINED_IN.items():
            contains[container] = contains.get(container, frozenset()) | {entity}
    return contains


CONTAINS: dict[str, frozenset[str]] = _containers()
# The setting that deleted a source's entity with its job, by type token.
DELETE_WITH_JOB: dict[str, str] = {
    type_: kind.source.DELETE_WITH_JOB
    for kind in EVENT_SOURCES
    if kind.source.DELETE_WITH_JOB
    for type_ in kind.source.HOLDS
}
# The options a snapshot row records after the physical name, in this order.
PROTECT = "protect"
RETAIN_ON_DELETE = "retainOnDelete"
OPTIONS = (PROTECT, RETAIN_ON_DELETE)
TAKE_BACK = 'docs/operations.md "Taking a retained resource back"'


class SnapshotError(Exception):
    """A snapshot line that is not `URN  physical-name [options]`: reported, never read as "nothing leaves"."""


@dataclass(frozen=True)
class SnapshotRow:
    urn: str
    physical_name: str | None  # None for components
    protect: bool = False
    retain_on_delete: bool = False

    @property
    def type(self) -> str:
        # urn:pulumi:<stack>::<project>::<parent types $ ... $ type>::<name>
        return self.urn.split("::")[2].rsplit("$", 1)[-1]

    def render(self) -> str:
        flags = [name for name, on in zip(OPTIONS, (self.protect, self.retain_on_delete), strict=True) if on]
        return "  ".join([self.urn, self.physical_name or "-", *flags])


def snapshot_row(resource: Registration) -> SnapshotRow:
    return SnapshotRow(resource.urn, resource.physical_name, resource.protect, resource.retain_on_delete)


def parse_snapshot(text: str, source: str) -> dict[str, SnapshotRow]:
    """URN -> row of a snapshot file's text; `source` names the file in a message."""
    rows: dict[str, SnapshotRow] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        urn, *rest = line.split("  ")
        flags = rest[1:]
        if not urn.startswith("urn:pulumi:") or len(urn.split("::")) != 4 or not rest or len(set(flags)) < len(flags):
            raise SnapshotError(f"{source}:{number}: not `URN  physical-name [options]`. Fix: run `make snapshots`.")
        if unknown := [flag for flag in flags if flag not in OPTIONS]:
            raise SnapshotError(
                f"{source}:{number}: unknown option {unknown[0]!r} (known: {', '.join(OPTIONS)}). "
                "Fix: run `make snapshots`."
            )
        physical = None if rest[0] == "-" else rest[0]
        rows[urn] = SnapshotRow(urn, physical, PROTECT in flags, RETAIN_ON_DELETE in flags)
    return rows


def read_snapshot(stack: str, snapshot_dir: Path | None = None) -> tuple[Path, dict[str, SnapshotRow]] | None:
    """The stack's committed snapshot (in `SNAPSHOT_DIR` unless told), or None when it has none (a new stack)."""
    path = (snapshot_dir or SNAPSHOT_DIR) / f"{stack}.txt"
    if not path.is_file():
        return None
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise SnapshotError(f"{path}: cannot be read: {error}") from None
    return path, parse_snapshot(text, shown(path))


def shown(path: Path) -> str:
    """A path as the output names it: relative to the project when inside it."""
    try:
        return str(path.resolve().relative_to(PROJECT_DIR))
    except ValueError:
        return str(path)


@dataclass(frozen=True)
class Leaving:
    """A stateful resource of the last reviewed state that this change takes out of the stack."""

    row: SnapshotRow  # as last reviewed: its options decide what the engine does
    change: str  # "removed", "replaced", or "in a deleted container"
    new_name: str | None = None  # the replacement's physical name
    container: SnapshotRow | None = None  # for "in a deleted container": the container that takes it along
    blocked: bool = False  # protected: the engine stops instead

    @property
    def kept(self) -> bool:
        return self.container is None and self.row.retain_on_delete

    @property
    def fate(self) -> str:
        return "blocked" if self.blocked else "kept" if self.kept else "deleted"

    def describe(self) -> str:
        holds = HOLDS[self.row.type]
        what = f"{self.row.type.rsplit(':', 1)[-1]} `{self.row.physical_name}`"
        if self.change == "replaced":
            what += f" (replaced by `{self.new_name}`)"
        elif self.container is not None:
            what += f" (in {self.container.type.rsplit(':', 1)[-1]} `{self.container.physical_name}`)"
        else:
            what += " (removed from the program)"
        if self.container is not None:
            outcome = f"DELETED {holds}: Azure deletes it with its container, retained or not"
        elif self.row.retain_on_delete:
            outcome = (
                f"kept in Azure {holds} (retainOnDelete): `pulumi preview` shows `delete[retain]`, and the "
                f"stack only stops managing it; to take it back, see {TAKE_BACK}"
            )
        else:
            setting = DELETE_WITH_JOB.get(self.row.type)
            explicit = f" (`{setting}`)" if setting else ""
            outcome = f"DELETED {holds}: not retained in the last reviewed state{explicit}"
        if self.blocked:
            outcome = (
                "protected: `pulumi preview` and `pulumi up` stop, the engine neither deletes nor replaces a "
                f"protected resource. After `pulumi state unprotect '{self.row.urn}'` it is "
                # "kept ..." reads on in lower case; "DELETED ..." keeps its capitals.
                + (outcome if outcome.startswith("DELETED") else outcome[0].lower() + outcome[1:])
            )
        return f"{what}: {outcome}"

    def as_json(self) -> dict[str, Any]:
        return {
            "urn": self.row.urn,
            "type": self.row.type,
            "physicalName": self.row.physical_name,
            "change": self.change,
            "newPhysicalName": self.new_name,
            "container": None if self.container is None else self.container.urn,
            "protect": self.row.protect,
            "retainOnDelete": self.row.retain_on_delete,
            "fate": self.fate,
        }


def leaving(snapshot: Mapping[str, SnapshotRow], run: ProgramRun) -> list[Leaving]:
    """The stateful resources of `snapshot` that `run` removes or replaces, and those their deleted container
    takes along. URN changes are removals (a queue renamed in config gets a new URN); a new physical name under
    the same URN is a replacement (azure-native replaces a resource whose name changes)."""
    current = {resource.urn: resource for resource in run.resources}
    found: dict[str, Leaving] = {}
    for row in snapshot.values():
        if row.type not in HOLDS:
            continue
        now = current.get(row.urn)
        if now is None:
            found[row.urn] = Leaving(row, "removed", blocked=row.protect)
        elif now.physical_name != row.physical_name:
            # A replacement is refused only when the resource is protected before and after it.
            found[row.urn] = Leaving(row, "replaced", now.physical_name, blocked=row.protect and now.protect)
    for container in [entry for entry in found.values() if entry.row.type in CONTAINS and entry.fate == "deleted"]:
        for row in snapshot.values():
            inside = found.get(row.urn)
            # A protected resource stops the update before its container is reached: that entry stays.
            if row.type in CONTAINS[container.row.type] and (inside is None or inside.fate == "kept"):
                found[row.urn] = Leaving(row, "in a deleted container", container=container.row)
    return sorted(found.values(), key=lambda entry: entry.row.urn)


@dataclass(frozen=True)
class LeavingReport:
    """What `tools.preview` and `tools.snapshots` print: the comparison and what it was made against."""

    compared_with: str | None  # the snapshot's path, None for a stack without one
    resources: list[Leaving]

    def render(self) -> str:
        if self.compared_with is None:
            return (
                "Stateful resources leaving the stack: none known (no committed snapshot for this stack, so it is "
                "new; `make snapshots` writes one)"
            )
        title = f"Stateful resources leaving the stack (against {self.compared_with}, the last reviewed state)"
        if not self.resources:
            return f"{title}: none"
        return "\n".join([f"{title}:", *(f"    {entry.fate:<8} {entry.describe()}" for entry in self.resources)])

    def as_json(self) -> dict[str, Any]:
        return {"comparedWith": self.compared_with, "resources": [entry.as_json() for entry in self.resources]}


def leaving_report(stack: str, run: ProgramRun, snapshot_dir: Path | None = None) -> LeavingReport:
    found = read_snapshot(stack, snapshot_dir)
    if found is None:
        return LeavingReport(None, [])
    path, rows = found
    return LeavingReport(shown(path), leaving(rows, run))
