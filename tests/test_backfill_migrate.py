"""Moving a legacy ``<root>/tasks.sqlite`` to ``<root>/_candlekit/tasks.sqlite``."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

import candlekit as ck
from candlekit.backfill.migrate import LEGACY_BACKUP_PREFIX, registry_path
from candlekit.backfill.registry import TaskRegistry

T0 = 1_790_000_000_000


def _legacy_store(root: Path) -> tuple[list[str], Path]:
    """A store whose registry sits where older versions kept it, with two tasks."""
    store = ck.Store(root)
    store.write(ck.synthetic_candles("BTC", "1h", "2026-10-01", "2026-10-03"))
    reg = TaskRegistry(store)
    ids = [reg.create(["BTC"], ["1h"], start=T0, end=None, source="emulator"),
           reg.create(["ETH", "SOL"], ["1m"], start=T0, end=T0 + 60_000, source="emulator")]
    new = root / "_candlekit" / "tasks.sqlite"
    with sqlite3.connect(new) as con:  # fold the log in, then put the file where it was
        con.execute("INSERT INTO availability (source, symbol, interval, earliest_available, "
                    "observed_ms) VALUES ('emulator', 'BTC', '1h', ?, ?)", (T0 + 3_600_000, T0))
        con.execute("UPDATE tasks SET updated_ms=updated_ms-10000000")  # created long ago
        con.commit()
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    os.replace(new, root / "tasks.sqlite")
    for suffix in ("-wal", "-shm"):
        Path(f"{new}{suffix}").unlink(missing_ok=True)
    return ids, root / "tasks.sqlite"


def _kept(root: Path) -> list[Path]:
    return sorted((root / "_candlekit").glob(f"{LEGACY_BACKUP_PREFIX}*.sqlite"))


def test_legacy_registry_is_moved_with_every_record(tmp_path):
    root = tmp_path / "store"
    ids, legacy = _legacy_store(root)
    with pytest.raises(Exception):  # what the issue saw: the root is not a dataset
        pd.read_parquet(root)
    reg = TaskRegistry(root)
    assert reg.path == root / "_candlekit" / "tasks.sqlite"
    assert not legacy.exists() and not Path(f"{legacy}-wal").exists()
    assert sorted(reg.list()["id"]) == sorted(ids)
    assert reg.status(ids[1]).symbol == "ETH,SOL"
    with sqlite3.connect(reg.path) as con:
        assert con.execute("SELECT earliest_available FROM availability").fetchall() == [
            (T0 + 3_600_000,)]
    assert len(pd.read_parquet(root)) == 48  # the root reads as a dataset again
    (kept,) = _kept(root)  # the legacy file is kept, not deleted
    with sqlite3.connect(kept) as con:
        assert con.execute("SELECT COUNT(*) FROM tasks").fetchone()[0] == 2
    # opening again changes nothing
    assert TaskRegistry(root).path == reg.path and len(_kept(root)) == 1


def test_records_only_in_the_write_ahead_log_are_moved(tmp_path):
    """A second process holds the legacy file open with records not yet checkpointed."""
    root = tmp_path / "store"
    ids, legacy = _legacy_store(root)
    other = sqlite3.connect(legacy, isolation_level=None)
    other.execute("PRAGMA wal_autocheckpoint=0")
    other.execute("UPDATE tasks SET note='written by the other process' WHERE id=?", (ids[0],))
    assert Path(f"{legacy}-wal").stat().st_size > 0
    reg = TaskRegistry(root)
    assert reg.path.parent.name == "_candlekit"
    assert reg.status(ids[0]).note == "written by the other process"
    # a late write through the other process's open handle lands in the kept copy
    other.execute("UPDATE tasks SET note='late' WHERE id=?", (ids[1],))
    other.close()
    (kept,) = _kept(root)
    with sqlite3.connect(kept) as con:
        assert con.execute("SELECT note FROM tasks WHERE id=?", (ids[1],)).fetchone()[0] == "late"
    assert not legacy.exists()


def test_a_running_legacy_task_keeps_the_file_in_place_until_it_stops(tmp_path):
    root = tmp_path / "store"
    ids, legacy = _legacy_store(root)
    now = int(time.time() * 1000)
    with sqlite3.connect(legacy) as con:  # an older candlekit is running this task now
        con.execute("UPDATE tasks SET status='running', pid=?, host='elsewhere', "
                    "heartbeat_ms=?, updated_ms=? WHERE id=?", (os.getpid(), now, now, ids[0]))
    reg = TaskRegistry(root)
    assert reg.path == legacy and legacy.exists()
    assert reg.status(ids[0]).status == "running"
    new_id = reg.create(["BTC"], ["1d"], start=T0, end=None, source="emulator")
    assert not (root / "_candlekit" / "tasks.sqlite").exists()
    reg = TaskRegistry(root)  # the task just created is about to run: still in place
    assert reg.path == legacy
    with sqlite3.connect(legacy) as con:  # both stopped long ago
        con.execute("UPDATE tasks SET status='completed', heartbeat_ms=?, updated_ms=? "
                    "WHERE id=?", (now - 10**6, now - 10**6, ids[0]))
        con.execute("UPDATE tasks SET updated_ms=? WHERE id=?", (now - 10**6, new_id))
    reg = TaskRegistry(root)
    assert reg.path == root / "_candlekit" / "tasks.sqlite" and not legacy.exists()
    assert sorted(reg.list()["id"]) == sorted([*ids, new_id])


def test_a_legacy_file_recreated_after_the_move_is_merged(tmp_path):
    root = tmp_path / "store"
    ids, legacy = _legacy_store(root)
    reg = TaskRegistry(root)  # moved
    reg.cancel(ids[1])
    # an older process recreates the legacy file and records a new task, and an old
    # (stale) copy of one of the moved tasks, and a newer version of another
    os.replace(_kept(root)[0], legacy)
    with sqlite3.connect(legacy) as con:
        row = con.execute("SELECT * FROM tasks WHERE id=?", (ids[0],)).fetchone()
        cols = [d[0] for d in con.execute("SELECT * FROM tasks").description]
        values = dict(zip(cols, row))
        values.update(id="bf-0000beef", note="only in the legacy file")
        con.execute(f"INSERT INTO tasks ({', '.join(values)}) VALUES "
                    f"({', '.join('?' * len(values))})", list(values.values()))
        con.execute("INSERT INTO task_series (task_id, pos, symbol, interval) "
                    "VALUES ('bf-0000beef', 0, 'BTC', '1h')")
        con.execute("UPDATE tasks SET note='newer in legacy', updated_ms=? WHERE id=?",
                    (int(time.time() * 1000) - 1_000_000, ids[0]))
        con.execute("UPDATE tasks SET status='pending', updated_ms=0 WHERE id=?", (ids[1],))
    reg = TaskRegistry(root)
    assert reg.path.parent.name == "_candlekit" and not legacy.exists()
    got = reg.list().set_index("id")
    assert sorted(got.index) == sorted([*ids, "bf-0000beef"])
    assert got.loc[ids[0], "note"] == "newer in legacy"
    assert got.loc[ids[1], "status"] == "cancelled"  # the registry's record was newer
    assert got.loc["bf-0000beef", "note"] == "only in the legacy file"
    assert [s["symbol"] for s in reg.status("bf-0000beef").series] == ["BTC"]


def test_concurrent_first_opens_move_it_once(tmp_path):
    root = tmp_path / "store"
    ids, legacy = _legacy_store(root)
    paths, errors = [], []

    def open_it():
        try:
            reg = TaskRegistry(root)
            paths.append(reg.path)
            reg.list()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=open_it) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert set(paths) == {root / "_candlekit" / "tasks.sqlite"}
    assert len(_kept(root)) == 1
    assert sorted(TaskRegistry(root).list()["id"]) == sorted(ids)


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0,
                    reason="root ignores file permissions, so a read-only store cannot be made")
def test_read_only_store_reads_the_legacy_file_in_place(tmp_path):
    root = tmp_path / "store"
    ids, legacy = _legacy_store(root)
    os.rmdir(root / "_candlekit")
    os.chmod(root, 0o555)
    try:
        assert registry_path(root) == legacy
        assert sorted(TaskRegistry(root).list()["id"]) == sorted(ids)
    finally:
        os.chmod(root, 0o755)


def test_a_store_without_a_registry_gets_nothing_created(tmp_path):
    root = tmp_path / "store"
    reg = TaskRegistry(root)
    assert reg.path == root / "_candlekit" / "tasks.sqlite"
    assert reg.list().empty and not root.exists()


def test_a_store_that_refuses_writes_keeps_the_legacy_file(tmp_path, monkeypatch):
    """As on a read-only mount: the move cannot start, the legacy file is read in place."""
    root = tmp_path / "store"
    ids, legacy = _legacy_store(root)
    real_open = os.open

    def refuse(path, flags, *args):
        if str(path).endswith(".tasks-migrate.lock"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, flags, *args)

    monkeypatch.setattr(os, "open", refuse)
    reg = TaskRegistry(root)
    assert reg.path == legacy and legacy.exists()
    assert sorted(reg.list()["id"]) == sorted(ids)
