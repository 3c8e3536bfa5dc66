"""``candlekit backfill`` and ``candlekit tasks`` against the emulator."""

from __future__ import annotations

import argparse
import json
import sys

import pytest

from candlekit.backfill.cli import add_parsers
from candlekit.backfill.registry import TaskRegistry
from candlekit.emulator import Emulator
from candlekit.errors import CandlekitError
from candlekit.store import Store

NOW = "2026-11-01T00:00:30Z"


def run(argv):
    """What ``candlekit.cli.main`` does with these commands: handler, stderr, exit code."""
    parser = argparse.ArgumentParser(prog="candlekit")
    sub = parser.add_subparsers(dest="command", required=True)
    add_parsers(sub)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except CandlekitError as exc:
        print(f"candlekit {args.command}: error: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, (ValueError, LookupError)) else 1


@pytest.fixture(scope="module")
def emu():
    with Emulator(mode="hyperliquid", now=NOW, budget=None) as e:
        yield e


def test_backfill_json_then_tasks(emu, tmp_path, capsys):
    data = str(tmp_path / "store")
    argv = ["backfill", "BTC", "ETH", "-i", "1h,1d", "--start", "2026-10-01", "--source",
            "emulator", "--base-url", emu.url, "--data", data, "--json"]
    assert run(argv) == 0
    st = json.loads(capsys.readouterr().out)
    assert st["status"] == "completed" and st["source"] == "emulator"
    assert st["symbols"] == ["BTC", "ETH"] and st["intervals"] == ["1h", "1d"]
    assert len(Store(data).series()) == 4
    task_id = st["id"]

    assert run(["tasks", "--data", data, "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["id"] for r in rows] == [task_id] and rows[0]["progress_pct"] == 100.0

    assert run(["tasks", "list", "--data", data]) == 0
    out = capsys.readouterr().out
    assert "SYNTHETIC DATA" in out and task_id in out and "completed" in out

    assert run(["tasks", "status", task_id, "--data", data]) == 0
    out = capsys.readouterr().out
    assert f"task {task_id}: completed, 100.0%" in out and "ETH" in out

    assert run(["tasks", "resume", task_id, "--data", data, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "completed"

    assert run(["tasks", "delete", task_id, "--data", data]) == 0
    assert "candles stay in the store" in capsys.readouterr().out
    assert len(Store(data).series()) == 4
    assert run(["tasks", "show", task_id, "--data", data]) == 2
    err = capsys.readouterr().err
    assert "candlekit tasks list" in err and task_id in err


def test_backfill_table_output(emu, tmp_path, capsys):
    data = str(tmp_path / "store")
    assert run(["backfill", "SOL", "-i", "1m", "--start", "2026-10-01", "--source",
                "emulator", "--base-url", emu.url, "--data", data]) == 0
    out = capsys.readouterr().out
    assert "SYNTHETIC DATA" in out and "completed" in out
    assert "emulator keeps only the last 5000 1m candles" in out


def test_cancel_of_a_pending_task(tmp_path, capsys):
    data = tmp_path / "store"
    task_id = TaskRegistry(data).create(["BTC"], ["1h"], start=0, end=None,
                                        source="hyperliquid")
    assert run(["tasks", "cancel", task_id, "--data", str(data)]) == 0
    assert "cancelled" in capsys.readouterr().out


@pytest.mark.parametrize("argv, needle", [
    (["backfill", "BTC", "-i", "45m", "--start", "2026-10-01"], "Invalid interval"),
    (["backfill", "BTC", "-i", "1h", "--start", "2026-10-02", "--end", "2026-10-01"],
     "must be after"),
    (["backfill", "BTC", "-i", "1h", "--start", "yesterday-ish"], "Unparseable"),
    (["backfill", "BTC", "-i", "1h", "--start", "2026-10-01", "--source", "nope"], "nope"),
    (["tasks", "resume", "bf-12345678"], "candlekit tasks list"),
])
def test_errors_go_to_stderr_with_exit_code_2(tmp_path, capsys, argv, needle):
    data = tmp_path / "store"
    assert run([*argv, "--data", str(data)]) == 2
    captured = capsys.readouterr()
    assert needle in captured.err and captured.out == ""
    assert not data.exists()  # nothing created


def test_unknown_coin_fails_with_exit_code_2(emu, tmp_path, capsys):
    data = str(tmp_path / "store")
    assert run(["backfill", "NOPE", "-i", "1h", "--start", "2026-10-01", "--source",
                "emulator", "--base-url", emu.url, "--data", data, "--json"]) == 2
    err = capsys.readouterr().err
    assert "NOPE" in err and "candlekit tasks show" in err
    (st,) = TaskRegistry(data).statuses()
    assert st.status == "failed"


def test_a_task_deleted_while_the_backfill_runs_says_so_exit_1(emu, tmp_path, capsys,
                                                                monkeypatch):
    from candlekit.backfill import registry as registry_module

    data = str(tmp_path / "store")
    real = registry_module.TaskRegistry.update_series

    def update_series(self, task_id, *args, **kwargs):  # another shell deletes it
        if kwargs.get("task_done"):
            self.delete(task_id)
        return real(self, task_id, *args, **kwargs)

    monkeypatch.setattr(registry_module.TaskRegistry, "update_series", update_series)
    code = run(["backfill", "BTC", "-i", "1h", "--start", "2026-10-20", "--source",
                "emulator", "--base-url", emu.url, "--data", data, "--json"])
    err = capsys.readouterr().err
    assert code == 1
    assert "was deleted while running" in err and "No backfill task" not in err
    assert "failed" not in err


def test_a_read_only_registry_still_lists_a_dead_task_as_interrupted(tmp_path, monkeypatch):
    import sqlite3

    from candlekit.errors import StoreError

    reg = TaskRegistry(tmp_path)
    task_id = reg.create(["BTC"], ["1h"], start=0, end=None, source="hyperliquid")
    reg.claim(task_id)
    with sqlite3.connect(reg.path) as con:  # its process died long ago
        con.execute("UPDATE tasks SET heartbeat_ms=0, pid=1 WHERE id=?", (task_id,))
    con.close()
    ro = TaskRegistry(tmp_path)
    real = ro._connect

    def connect(*, write=False):
        if write:
            raise StoreError(f"The task registry {ro.path} is read-only here")
        return real(write=False)

    monkeypatch.setattr(ro, "_connect", connect)
    st = ro.status(task_id)
    assert st.status == "failed" and st.error.startswith("interrupted")
    assert list(ro.list()["status"]) == ["failed"]
    assert TaskRegistry(tmp_path).record(task_id)["status"] == "running"  # nothing written
