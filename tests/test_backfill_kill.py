"""Backfill processes against the emulator: kill -9 at random moments, then resume; and
several processes and threads backfilling the same series at once."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from test_backfill_emulator import NOW, check_store, client

from candlekit.backfill import TaskRegistry, backfill, resume
from candlekit.emulator import Emulator
from candlekit.store import Store

REPO = Path(__file__).resolve().parents[1]
START = "2026-10-18"
SERIES = [(s, i) for s in ("BTC", "ETH") for i in ("1m", "5m")]

SCRIPT = """
import sys
from candlekit.backfill import backfill, resume, runner
from candlekit.sources import Hyperliquid
url, root, task_id = sys.argv[1], sys.argv[2], sys.argv[3]
runner.FLUSH_CANDLES = 2_000  # small batches: kills land between store writes of a series
src = Hyperliquid(url, weight_budget=10**9)  # the emulator runs without a budget
if task_id == "-":
    backfill(["BTC", "ETH"], ["1m", "5m"], start="2026-10-18", source=src, store=root,
             progress=False)
else:
    resume(task_id, store=root, source=src, progress=False)
"""


def _spawn(url, root, task_id="-"):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-c", SCRIPT, url, str(root), task_id], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _running_in(reg, pid, deadline):
    """Wait until the registry shows a task running in process ``pid`` (or it exits)."""
    while time.monotonic() < deadline:
        if reg.path.exists() and any(s.pid == pid and s.status == "running"
                                     for s in reg.statuses()):
            return True
        time.sleep(0.02)
    return False


def test_kill_9_at_random_moments_then_resume(tmp_path):
    store = Store(tmp_path / "store")
    reg = TaskRegistry(store.root)
    rng = random.Random(20261101)
    with Emulator(mode="hyperliquid", now=NOW, budget=None, window=30_000) as emu:
        interrupted = 0
        for k in range(20):
            latest = reg.statuses()[0] if reg.path.exists() and reg.statuses() else None
            resume_id = "-"
            if k % 2 and latest is not None and latest.status != "completed":
                resume_id = latest.id  # resume(id), or else the same backfill call again
            if k % 4 == 3:  # more work for the next runs: a series lost by hand
                sym, iv = rng.choice(SERIES)
                if any(key.symbol == sym and key.interval == iv for key in store.series()):
                    store.delete(sym, iv, source="emulator")
            proc = _spawn(emu.url, store.root, resume_id)
            if k % 3 == 0:  # any moment: start-up, imports, planning, a page, the end
                time.sleep(rng.uniform(0.2, 2.5))
            else:  # while the task runs
                _running_in(reg, proc.pid, time.monotonic() + 20)
                time.sleep(rng.uniform(0.0, 1.0))
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            proc.stderr.close()
            stored = {(key.symbol, key.interval) for key in store.series()}
            for sym, iv in SERIES:  # readable, and every stored candle is the truth
                if (sym, iv) in stored:
                    check_store(store, emu, sym, iv, START, complete=False)
            for st in reg.statuses() if reg.path.exists() else []:
                assert st.status != "running"  # a dead process's task is not left running
                if st.status == "failed":
                    assert "interrupted: process" in st.error
                    assert f"candlekit tasks resume {st.id}" in st.error
                    interrupted += st.pid == proc.pid
        assert interrupted > 0
        latest = reg.statuses()[0]
        st = resume(latest.id, store=store, source=client(emu), progress=False).status()
        assert st.status == "completed" and st.progress_pct == 100.0
        for sym, iv in SERIES:
            check_store(store, emu, sym, iv, START)


def test_concurrent_backfills_in_processes_and_threads(tmp_path):
    store = Store(tmp_path / "store")
    with Emulator(mode="hyperliquid", now=NOW, budget=None, window=30_000) as emu:
        procs = [_spawn(emu.url, store.root) for _ in range(2)]
        thread_task = backfill(["BTC", "ETH"], ["1m", "5m"], start=START, source=client(emu),
                               store=store, background=True, progress=False)
        for p in procs:
            assert p.wait(timeout=120) == 0, p.stderr.read().decode()
            p.stderr.close()
        assert thread_task.wait(timeout=120).status == "completed"
        for sym, iv in SERIES:
            check_store(store, emu, sym, iv, START)
        statuses = TaskRegistry(store.root).statuses()
        assert len(statuses) == 3 and {s.status for s in statuses} == {"completed"}
