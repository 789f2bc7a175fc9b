"""Stateful resources leaving the stack: what the committed snapshot records (the last reviewed state) and what the
offline preview and `make snapshots` say happens to a leaving resource's data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import PROJECT_DIR, run_committed

from components.event_sources.service_bus import QUEUE
from tools.offline import run_program
from tools.snapshots import snapshot_path
from tools.stateful import (
    LeavingReport,
    SnapshotError,
    SnapshotRow,
    leaving,
    leaving_report,
    parse_snapshot,
)

QUEUE_URN = (
    "urn:pulumi:{stack}::aca-jobs::aca-jobs:index:ServiceBusEventJob$azure-native:servicebus:Queue::queue-orders"
)


def committed_rows(stack: str) -> dict[str, SnapshotRow]:
    path = snapshot_path(stack)
    return parse_snapshot(path.read_text(), str(path))


def changed_run(stack: str, change) -> Any:
    config, _ = run_committed(stack)
    change(config)
    return run_program(config, stack, stack_file=f"Pulumi.{stack}.yaml")


def without_event_job(config: dict) -> None:
    """Without the Service Bus event job (the other sources' jobs stay)."""
    del config["aca-jobs:eventJobs"]["job-orders-queue"]


def without_event_jobs(config: dict) -> None:
    del config["aca-jobs:eventJobs"]


def by_name(found) -> dict[str, str]:
    return {entry.row.physical_name: entry.fate for entry in found}


def test_the_committed_snapshot_records_what_leaving_does_to_each_stateful_resource() -> None:
    rows = committed_rows("prod")
    queue = rows[QUEUE_URN.format(stack="prod")]
    assert (queue.physical_name, queue.protect, queue.retain_on_delete) == ("orders", True, True)
    dev_queue = committed_rows("dev")[QUEUE_URN.format(stack="dev")]
    assert (dev_queue.protect, dev_queue.retain_on_delete) == (False, True)


def test_a_row_renders_and_parses_back() -> None:
    row = SnapshotRow(QUEUE_URN.format(stack="dev"), "orders", protect=True, retain_on_delete=True)
    assert row.render().endswith("::queue-orders  orders  protect  retainOnDelete")
    assert parse_snapshot(row.render(), "x.txt") == {row.urn: row}
    assert row.type == QUEUE


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ("urn:pulumi:dev::aca-jobs::aca-jobs:index:JobsPlatform::platform", "x.txt:2: not `URN  physical-name"),
        (QUEUE_URN.format(stack="dev") + "  orders  retain", "x.txt:2: unknown option 'retain'"),
        ("queue-orders  orders", "x.txt:2: not `URN"),
    ],
)
def test_a_broken_snapshot_line_is_an_error_not_nothing_leaving(line: str, words: str) -> None:
    with pytest.raises(SnapshotError, match="Fix: run `make snapshots`") as raised:
        parse_snapshot(f"# header\n{line}\n", "x.txt")
    assert words in str(raised.value)


def test_a_removed_event_jobs_queue_is_named_and_kept() -> None:
    found = leaving(committed_rows("dev"), changed_run("dev", without_event_job))
    assert by_name(found) == {"orders": "kept"}
    [queue] = found
    assert queue.change == "removed"
    assert "kept in Azure with its messages and dead letters (retainOnDelete)" in queue.describe()
    assert "delete[retain]" in queue.describe()


def test_a_queue_not_retained_in_the_reviewed_state_is_deleted_with_its_messages() -> None:
    # As after `deleteQueueWithJob: true` was deployed (or in a state written before queues were retained).
    rows = committed_rows("dev")
    urn = QUEUE_URN.format(stack="dev")
    rows[urn] = SnapshotRow(urn, "orders")
    [queue] = leaving(rows, changed_run("dev", without_event_job))
    assert queue.fate == "deleted"
    assert "DELETED with its messages and dead letters" in queue.describe()
    assert "deleteQueueWithJob: true" in queue.describe()


def test_in_a_protected_stack_the_engine_stops_and_the_report_says_how_to_go_on() -> None:
    [queue] = leaving(committed_rows("prod"), changed_run("prod", without_event_job))
    assert queue.fate == "blocked"
    assert f"pulumi state unprotect '{QUEUE_URN.format(stack='prod')}'" in queue.describe()
    assert "it is kept in Azure" in queue.describe()


def test_a_protected_resource_that_would_be_deleted_says_so_in_capitals() -> None:
    rows = committed_rows("prod")
    urn = QUEUE_URN.format(stack="prod")
    rows[urn] = SnapshotRow(urn, "orders", protect=True)
    [queue] = leaving(rows, changed_run("prod", without_event_job))
    assert "it is DELETED with its messages and dead letters" in queue.describe()


def test_removing_the_namespace_keeps_it_and_its_queues() -> None:
    def without_service_bus(config: dict) -> None:
        without_event_job(config)
        del config["aca-jobs:platform"]["serviceBus"]

    assert by_name(leaving(committed_rows("dev"), changed_run("dev", without_service_bus))) == {
        "sb-aca-dev": "kept",
        "orders": "kept",
    }


def test_removed_storage_queue_and_event_hub_jobs_keep_their_queues_and_checkpoints() -> None:
    found = leaving(committed_rows("dev"), changed_run("dev", without_event_jobs))
    assert by_name(found) == {
        "orders": "kept",
        "invoices": "kept",
        "invoices-poison": "kept",
        "telemetry-checkpoints": "kept",
    }
    checkpoints = next(entry for entry in found if entry.row.physical_name == "telemetry-checkpoints")
    assert "with the job's checkpoints" in checkpoints.describe()
    assert "deleteCheckpointsWithJob: true" in checkpoints.describe() or "retainOnDelete" in checkpoints.describe()


def test_a_renamed_resource_group_takes_everything_in_it_retained_or_not() -> None:
    def rename(config: dict) -> None:
        config["aca-jobs:platform"]["resourceGroup"] = "rg-aca-dev-2"

    found = leaving(committed_rows("dev"), changed_run("dev", rename))
    assert by_name(found) == {
        "rg-aca-dev": "deleted",
        "aca-env-dev": "deleted",
        "log-aca-env-dev": "deleted",
        "sb-aca-dev": "deleted",
        "orders": "deleted",
        # The storage queues and the checkpoint container are in the referenced accounts' group, not the stack's.
    }
    group = next(entry for entry in found if entry.row.physical_name == "rg-aca-dev")
    assert (group.change, group.new_name) == ("replaced", "rg-aca-dev-2")
    queue = next(entry for entry in found if entry.row.physical_name == "orders")
    assert "Azure deletes it with its container, retained or not" in queue.describe()


def test_an_unchanged_stack_has_nothing_leaving_and_a_new_one_says_it_has_no_snapshot(tmp_path: Path) -> None:
    _, run = run_committed("staging")
    assert leaving_report("staging", run).resources == []
    assert (
        "(against tests/snapshots/staging.txt, the last reviewed state): none"
        in leaving_report("staging", run).render()
    )
    assert leaving_report("staging", run, snapshot_dir=tmp_path) == LeavingReport(None, [])
    assert "no committed snapshot" in LeavingReport(None, []).render()


def test_the_offline_preview_names_the_leaving_queue_and_its_fate(preview_main, tmp_path: Path, capsys) -> None:
    config = yaml.safe_load((PROJECT_DIR / "Pulumi.dev.yaml").read_text())
    without_event_job(config["config"])
    path = tmp_path / "Pulumi.dev.yaml"
    path.write_text(yaml.safe_dump(config))
    assert preview_main(["--stack", "dev", "--config-file", str(path)]) == 0
    out = capsys.readouterr().out
    assert "Stateful resources leaving the stack (against tests/snapshots/dev.txt, the last reviewed state):" in out
    assert "    kept     Queue `orders` (removed from the program): kept in Azure" in out
    assert preview_main(["--stack", "dev", "--config-file", str(path), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)["leavingStatefulResources"]
    assert document["comparedWith"] == "tests/snapshots/dev.txt"
    assert [(r["physicalName"], r["change"], r["fate"]) for r in document["resources"]] == [
        ("orders", "removed", "kept")
    ]


def test_a_broken_snapshot_stops_the_preview_with_exit_2(preview_main, monkeypatch, tmp_path: Path, capsys) -> None:
    (tmp_path / "dev.txt").write_text("not a snapshot line\n")
    monkeypatch.setattr("tools.stateful.SNAPSHOT_DIR", tmp_path)
    assert preview_main(["--stack", "dev"]) == 2
    captured = capsys.readouterr()
    assert "dev.txt:1: not `URN  physical-name [options]`" in captured.err and captured.out == ""
