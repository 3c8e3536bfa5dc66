"""The SQLite task registry: records, liveness, availability, concurrency, corruption."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from candlekit.backfill.registry import (
    RECHECK_FIRST_MS,
    RECHECK_MAX_MS,
    TaskRegistry,
    recheck_spacing_ms,
)
from candlekit.errors import StoreError, TaskError
from candlekit.store import Store

REPO = Path(__file__).resolve().parents[1]
T0 = 1_790_000_000_000


@pytest.fixture
def reg(tmp_path):
    return TaskRegistry(Store(tmp_path / "store"))


def _new(reg, **kw):
    args = {"start": T0, "end": None, "source": "hyperliquid"}
    args.update(kw)
    return reg.create(["BTC", "ETH"], ["1m", "1h"], **args)


def test_create_status_and_list(reg):
    task_id = _new(reg, end=T0 + 3_600_000, only_gaps=True)
    assert re.fullmatch(r"bf-[0-9a-f]{8}", task_id)
    assert reg.path == reg.root / "_candlekit" / "tasks.sqlite"
    st = reg.status(task_id)
    assert (st.status, st.symbol, st.interval, st.progress_pct) == (
        "pending", "BTC,ETH", "1m,1h", 0.0)
    assert st.start == "2026-09-21T14:13:20Z" and st.end == "2026-09-21T15:13:20Z"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z", st.created_at)
    assert st.only_gaps and st.error is None and st.candles_fetched == 0
    assert [(s["symbol"], s["interval"]) for s in st.series] == [
        ("BTC", "1m"), ("BTC", "1h"), ("ETH", "1m"), ("ETH", "1h")]
    df = reg.list()
    assert list(df["id"]) == [task_id]
    assert {"id", "status", "progress_pct", "candles_fetched", "error", "note"} <= set(df)
    with sqlite3.connect(reg.path) as con:
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_unknown_id_says_where_ids_are_listed(reg):
    with pytest.raises(TaskError, match="candlekit tasks list"):
        reg.status("bf-00000000")
    _new(reg)
    for op in (reg.status, reg.cancel, reg.delete, reg.record):
        with pytest.raises(TaskError, match="candlekit tasks list"):
            op("bf-00000000")


def test_reading_an_empty_registry_creates_nothing(reg):
    assert reg.list().empty and reg.statuses() == []
    assert reg.availability("hyperliquid", "BTC", "1m") == (None, [])
    for op in (reg.status, reg.cancel, reg.delete, reg.claim):
        with pytest.raises(TaskError):
            op("bf-00000000")
    assert not reg.root.exists()


def test_progress_claim_cancel_finish(reg):
    task_id = _new(reg)
    token = reg.claim(task_id)
    with pytest.raises(TaskError, match="already running"):
        reg.claim(task_id)
    assert reg.update_series(task_id, token, "BTC", "1m", task_planned=10, add_planned=10,
                             task_done=4, candles=4, requests=1, status="running")
    st = reg.status(task_id)
    assert st.status == "running" and st.progress_pct == 40.0 and st.candles_fetched == 4
    assert st.pid == os.getpid() and st.requests == 1
    assert reg.cancel(task_id).status == "running"  # asked: it stops between pages
    assert not reg.update_series(task_id, token, "BTC", "1m", task_done=1)
    assert not reg.heartbeat(task_id, token)
    reg.finish(task_id, token, "cancelled", note="cancelled")
    st = reg.status(task_id)
    assert st.status == "cancelled" and st.series[1]["status"] == "cancelled"
    token = reg.claim(task_id)  # resumable
    assert reg.heartbeat(task_id, token)
    reg.finish(task_id, token, "completed", note="done")
    assert reg.status(task_id).progress_pct == 100.0
    assert reg.cancel(task_id).status == "completed"  # no-op on a finished task


def test_pending_task_is_cancelled_at_once(reg):
    task_id = _new(reg)
    assert reg.cancel(task_id).status == "cancelled"


def test_task_of_a_dead_process_is_reported_interrupted_and_resumable(reg):
    task_id = _new(reg)
    reg.claim(task_id)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    with sqlite3.connect(reg.path) as con:
        con.execute("UPDATE tasks SET pid=? WHERE id=?", (dead.pid, task_id))
    st = reg.status(task_id)
    assert st.status == "failed"
    assert st.error.startswith(f"interrupted: process {dead.pid} stopped")
    assert f"candlekit tasks resume {task_id}" in st.error
    reg.claim(task_id)  # a new run may take it over
    assert reg.status(task_id).status == "running"


def test_stale_heartbeat_means_dead_even_if_the_pid_exists(reg):
    task_id = _new(reg)
    reg.claim(task_id)
    with sqlite3.connect(reg.path) as con:
        con.execute("UPDATE tasks SET heartbeat_ms=heartbeat_ms-3600000 WHERE id=?",
                    (task_id,))
    assert reg.status(task_id).status == "failed"


def test_delete_removes_the_record_only(tmp_path):
    store = Store(tmp_path / "s")
    from candlekit.synthetic import synthetic_candles

    store.write(synthetic_candles("BTC", "1h", "2026-01-01", "2026-01-02"))
    reg = TaskRegistry(store.root)
    task_id = _new(reg)
    reg.delete(task_id)
    assert reg.list().empty and len(store.read("BTC", "1h")) == 24


def test_earliest_available_follows_the_evidence_and_is_due_for_rechecks(reg):
    hour = RECHECK_FIRST_MS
    assert reg.set_earliest_available("hyperliquid", "BTC", "1m", 5_000, observed_ms=0) == 5_000
    rec = reg.availability_record("hyperliquid", "BTC", "1m")
    assert (rec.earliest, rec.earliest_next_check, rec.earliest_checks) == (5_000, hour, 0)
    # the window slid on: agrees with the record, so the next check is twice as far
    assert reg.set_earliest_available("hyperliquid", "BTC", "1m", 9_000, observed_ms=10) == 9_000
    rec = reg.availability_record("hyperliquid", "BTC", "1m")
    assert (rec.earliest, rec.earliest_next_check, rec.earliest_checks) == (9_000, 10 + 2 * hour, 1)
    # candles seen before it: the boundary moves back, and checks start over
    assert reg.set_earliest_available("hyperliquid", "BTC", "1m", 4_000, observed_ms=20) == 4_000
    rec = reg.availability_record("hyperliquid", "BTC", "1m")
    assert (rec.earliest, rec.earliest_checks) == (4_000, 0)
    assert reg.availability("emulator", "BTC", "1m")[0] is None  # per source label
    assert recheck_spacing_ms(0) == hour and recheck_spacing_ms(100) == RECHECK_MAX_MS


def test_record_empty_replaces_only_what_answers_settled(reg):
    reg.record_empty("x", "BTC", "1m", [(10, 20), (40, 50)], observed_ms=0)
    # an answer covering [15, 45) found candles at 15..17 and 42..44: the rest stays empty
    reg.record_empty("x", "BTC", "1m", [(18, 20), (40, 42)], resolved=[(15, 45)],
                     observed_ms=5)
    rec = reg.availability_record("x", "BTC", "1m")
    assert [(r.start, r.end) for r in rec.ranges] == [(10, 15), (18, 20), (40, 42), (45, 50)]
    checks = {(r.start, r.end): r.checks for r in rec.ranges}
    assert checks[(18, 20)] == 1 and checks[(10, 15)] == 0  # confirmed again vs untouched
    assert rec.due_ranges(RECHECK_FIRST_MS)[0].start == 10
    assert reg.clear_availability(symbol="BTC") == (0, 4)
    assert reg.availability("x", "BTC", "1m") == (None, [])


def test_empty_ranges_merge(reg):
    reg.add_empty_ranges("hyperliquid", "BTC", "1m", [(10, 20), (40, 50)], observed_ms=1)
    reg.add_empty_ranges("hyperliquid", "BTC", "1m", [(15, 30), (50, 60), (70, 70)],
                         observed_ms=2)
    reg.add_empty_ranges("hyperliquid", "ETH", "1m", [(0, 5)], observed_ms=2)
    assert reg.availability("hyperliquid", "BTC", "1m")[1] == [(10, 30), (40, 60)]


COUNTER = """
import sys
from candlekit.backfill.registry import (
    RECHECK_FIRST_MS,
    RECHECK_MAX_MS,
    TaskRegistry,
    recheck_spacing_ms,
)
reg = TaskRegistry(sys.argv[1])
task_id, token = sys.argv[2], sys.argv[3]
for i in range(40):
    reg.update_series(task_id, token, "BTC", "1m", task_done=1, candles=2)
    reg.add_empty_ranges("x", "BTC", "1m", [(i * 10, i * 10 + 5)], observed_ms=0)
"""


def test_many_threads_and_processes_at_once(reg):
    task_id = _new(reg)
    token = reg.claim(task_id)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs = [subprocess.Popen([sys.executable, "-c", COUNTER, str(reg.root), task_id, token],
                              env=env, stderr=subprocess.PIPE) for _ in range(2)]
    errors = []

    def work():
        try:
            for i in range(40):
                reg.update_series(task_id, token, "BTC", "1m", task_done=1, candles=2)
                reg.add_empty_ranges("x", "BTC", "1m", [(i * 10 + 3, i * 10 + 7)],
                                     observed_ms=0)
                reg.status(task_id)
        except Exception as exc:  # noqa: BLE001 - collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for p in procs:
        assert p.wait(timeout=60) == 0, p.stderr.read().decode()
        p.stderr.close()
    assert errors == []
    st = reg.status(task_id)
    assert st.candles_fetched == 2 * 40 * 6
    assert st.series[0]["candles_fetched"] == 2 * 40 * 6
    assert reg.availability("x", "BTC", "1m")[1] == [(i * 10, i * 10 + 7) for i in range(40)]


def test_corrupt_registry_file_is_a_clear_error(tmp_path):
    root = tmp_path / "store"
    root.mkdir()
    (root / "tasks.sqlite").write_bytes(b"this is not a database" * 100)
    reg = TaskRegistry(root)
    with pytest.raises(StoreError, match="move the file away"):
        reg.list()
