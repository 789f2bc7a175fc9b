"""Committed URN and physical-name snapshots: a change that would replace a resource is a reviewable diff."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from conftest import PROJECT_DIR

from tools import files, snapshots


@pytest.mark.parametrize("stack", snapshots.committed_stacks())
def test_snapshot_is_current(stack: str) -> None:
    diff = snapshots.stale(stack)
    assert diff == "", f"run `make snapshots` and review:\n{diff}"


@pytest.mark.parametrize(
    ("rename", "gone", "added"),
    [
        # A queue's URN and Azure name follow its config name: renaming it replaces the queue (and its messages).
        (
            lambda c: c["aca-jobs:eventJobs"]["job-orders-queue"].update(queue="orders-v2"),
            "azure-native:servicebus:Queue::queue-orders  orders",
            "azure-native:servicebus:Queue::queue-orders-v2  orders-v2",
        ),
        # Renaming the resource group replaces it and everything in it.
        (
            lambda c: c["aca-jobs:platform"].update(resourceGroup="rg-aca-prod-2"),
            "azure-native:resources:ResourceGroup::resource-group  rg-aca-prod",
            "azure-native:resources:ResourceGroup::resource-group  rg-aca-prod-2",
        ),
    ],
    ids=["queue", "resource-group"],
)
def test_a_rename_that_replaces_a_resource_makes_the_snapshot_stale(tmp_path: Path, rename, gone, added) -> None:
    config = yaml.safe_load((PROJECT_DIR / "Pulumi.prod.yaml").read_text())["config"]
    rename(config)
    path = tmp_path / "Pulumi.prod.yaml"
    path.write_text(yaml.safe_dump({"config": config}))
    # URN and physical name, without the options that follow them.
    committed = ["  ".join(line.split("  ")[:2]) for line in snapshots.snapshot_path("prod").read_text().splitlines()]
    renamed = ["  ".join(line.split("  ")[:2]) for line in snapshots.render("prod", path).splitlines()]
    assert any(line.endswith(gone) for line in committed)
    assert not any(line.endswith(gone) for line in renamed)
    assert any(line.endswith(added) for line in renamed)


def test_write_is_atomic_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "snap.txt"
    target.write_text("old\n")
    files.write_atomically(target, b"new\n")
    assert target.read_text() == "new\n"
    assert [p.name for p in tmp_path.iterdir()] == ["snap.txt"]
