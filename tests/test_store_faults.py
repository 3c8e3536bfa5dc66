"""Faults of the machine itself (issue 8, section 2): disk full, read-only store,
permission denied.

Tests run as root, so ``chmod`` cannot make anything read-only: the unit tests raise the
``OSError`` at the operating-system call where it happens, and check the message and that
the stored candles are intact. Where ``unshare`` can mount a private tmpfs, the last tests
do it for real (a full disk, and a store remounted read-only) in a subprocess.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest
from test_backfill_runner import FakeSource

from candlekit.backfill import TaskRegistry, backfill, runner
from candlekit.errors import StoreError
from candlekit.fsutil import atomic_write_text
from candlekit.store import Store
from candlekit.store import lock as lock_module
from candlekit.store import parquet as parquet_module
from candlekit.synthetic import synthetic_candles

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "store")
    s.write(synthetic_candles("BTC", "1h", "2026-01-01", "2026-01-03"))
    return s


def _raiser(code):
    def fail(*args, **kwargs):  # as the OS call does: naming its first path argument
        named = [str(a) for a in args[:1] if isinstance(a, (str, os.PathLike))]
        raise OSError(code, os.strerror(code), *named)
    return fail


@pytest.mark.parametrize("code, needle", [
    (errno.ENOSPC, "the disk is full"),
    (errno.EROFS, "the filesystem is read-only"),
    (errno.EACCES, "permission denied"),
    (errno.EIO, "an I/O error of the machine"),
])
def test_a_failing_replace_is_a_store_error_and_keeps_the_candles(store, monkeypatch,
                                                                   code, needle):
    before = store.read("BTC", "1h")
    monkeypatch.setattr(parquet_module.os, "replace", _raiser(code))
    more = synthetic_candles("BTC", "1h", "2026-01-02", "2026-01-05")
    with pytest.raises(StoreError, match=needle) as info:
        store.write(more)
    assert "part-0.parquet" in str(info.value) and info.value.errno == code
    assert "intact" in str(info.value)
    monkeypatch.undo()
    pd.testing.assert_frame_equal(store.read("BTC", "1h"), before)
    leftovers = [p for p in store.root.rglob("*") if p.is_file() and ".tmp" in p.name]
    assert leftovers == []


def test_a_disk_full_while_writing_the_file_is_a_store_error(store, monkeypatch):
    before = store.read("BTC", "1h")
    monkeypatch.setattr(parquet_module.os, "fsync", _raiser(errno.ENOSPC))
    with pytest.raises(StoreError, match="the disk is full"):
        store.write(synthetic_candles("BTC", "1h", "2026-01-02", "2026-01-05"))
    monkeypatch.undo()
    pd.testing.assert_frame_equal(store.read("BTC", "1h"), before)


def test_a_read_only_lock_file_is_a_store_error_naming_it(store, monkeypatch):
    monkeypatch.setattr(lock_module.os, "open", _raiser(errno.EROFS))
    with pytest.raises(StoreError, match=r"Could not write .*\.lock: the filesystem is "
                                         r"read-only.*Reading the store still works"):
        store.write(synthetic_candles("BTC", "1h", "2026-01-02", "2026-01-05"))
    with pytest.raises(StoreError, match="read-only"):
        store.delete("BTC", "1h", source="synthetic")
    monkeypatch.undo()
    assert len(store.read("BTC", "1h")) == 48


def test_permission_denied_creating_a_directory(tmp_path, monkeypatch):
    store = Store(tmp_path / "new-store")
    real_mkdir = Path.mkdir

    def mkdir(self, *args, **kwargs):
        if self == store.root:
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        return real_mkdir(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", mkdir)
    with pytest.raises(StoreError, match=rf"Could not write {store.root}: permission denied"):
        store.write(synthetic_candles("BTC", "1h", "2026-01-01", "2026-01-02"))


def test_an_unreadable_file_is_not_called_corrupted(store, monkeypatch):
    real = parquet_module.pq.ParquetFile

    def unreadable(path, *args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", str(path))

    monkeypatch.setattr(parquet_module.pq, "ParquetFile", unreadable)
    with pytest.raises(StoreError, match="Could not read .*permission denied") as info:
        store.read("BTC", "1h")
    assert "Corrupted" not in str(info.value)
    monkeypatch.setattr(parquet_module.pq, "ParquetFile", real)


def test_atomic_write_text_disk_full_keeps_the_old_file(tmp_path, monkeypatch):
    target = atomic_write_text(tmp_path / "report.html", "old")
    monkeypatch.setattr(os, "replace", _raiser(errno.ENOSPC))
    with pytest.raises(StoreError, match="report.html: the disk is full"):
        atomic_write_text(target, "new")
    monkeypatch.undo()
    assert target.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == [
        "report.html"]


def test_backfill_on_a_full_disk_fails_clearly_and_counts_what_was_written(store,
                                                                           monkeypatch):
    monkeypatch.setattr(runner, "FLUSH_CANDLES", 200)
    src = FakeSource(page_limit=100)
    real_replace = os.replace
    files = {"n": 0}

    def replace(a, b):
        if str(b).endswith("part-0.parquet"):
            files["n"] += 1
            if files["n"] >= 3:  # the third batch finds the disk full
                raise OSError(errno.ENOSPC, "No space left on device")
        return real_replace(a, b)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(StoreError, match="the disk is full") as info:
        backfill("ETH", "1m", start="2026-10-10", source=src, store=store, progress=False)
    assert "part-0.parquet" in str(info.value)
    (st,) = TaskRegistry(store.root).statuses()
    assert st.status == "failed" and "the disk is full" in st.error
    assert "move the file away" not in st.error
    monkeypatch.undo()
    stored = store.read("ETH", "1m", source="fake")
    assert st.candles_fetched == len(stored) == 400  # two batches written, the third not
    st = backfill("ETH", "1m", start="2026-10-10", source=src, store=store,
                  progress=False).status()
    assert st.status == "completed" and len(store.read("ETH", "1m", source="fake")) == 721


def test_registry_errors_give_advice_that_fits_the_cause(tmp_path):
    import sqlite3

    reg = TaskRegistry(tmp_path)
    full = sqlite3.OperationalError("database or disk is full")
    full.sqlite_errorcode = 13
    text = str(reg._error(full, write=True))
    assert "the disk is full" in text and "Free space" in text
    assert "move the file away" not in text
    ro = sqlite3.OperationalError("attempt to write a readonly database")
    ro.sqlite_errorcode = 8
    text = str(reg._error(ro, write=True))
    assert "read-only" in text and "move the file away" not in text
    bad = sqlite3.DatabaseError("file is not a database")
    bad.sqlite_errorcode = 26
    assert "move the file away" in str(reg._error(bad, write=False))


def test_already_running_resume_prints_only_that(tmp_path, capsys):
    from candlekit.cli import main

    store = Store(tmp_path)
    reg = TaskRegistry(store.root)
    task_id = reg.create(["BTC"], ["1h"], start=0, end=None, source="emulator",
                         base_url="http://127.0.0.1:9")
    reg.claim(task_id)  # this process is running it
    assert main(["tasks", "resume", task_id, "--data", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert f"Task {task_id} is already running" in err
    assert "failed" not in err and "retries it" not in err
    assert reg.status(task_id).status == "running"


# --- for real: a private tmpfs (needs unshare and mount, as root) -----------------------------

def _can_mount() -> bool:
    if sys.platform != "linux" or shutil.which("unshare") is None or os.geteuid() != 0:
        return False
    probe = subprocess.run(["unshare", "-m", "sh", "-c",
                            ("d=$(mktemp -d) && mount -t tmpfs -o size=64k tmpfs $d && "
                             "umount $d && rmdir $d")], capture_output=True, timeout=30,
                           check=False)
    return probe.returncode == 0


needs_mount = pytest.mark.skipif(not _can_mount(),
                                 reason="no private mounts here (needs root and unshare -m)")

SCRIPT = textwrap.dedent('''
    import json, subprocess, sys
    from candlekit.backfill import TaskRegistry
    from candlekit.cli import main
    from candlekit.store import Store
    from candlekit.synthetic import synthetic_candles

    root, case = sys.argv[1], sys.argv[2]
    store = Store(root)
    store.write(synthetic_candles("BTC", "1h", "2026-01-01", "2026-01-03"))
    reg = TaskRegistry(store.root)
    task_id = reg.create(["BTC"], ["1h"], start=0, end=None, source="hyperliquid")
    out = {"task": task_id}

    def attempt(name, fn):
        try:
            fn()
            out[name] = "ok"
        except Exception as exc:
            out[name] = f"{type(exc).__name__}: {exc}"

    if case == "readonly":
        subprocess.run(["mount", "-o", "remount,ro", root], check=True)
        reg = TaskRegistry(root)
        out["list"] = list(reg.list()["id"])
        out["status"] = reg.status(task_id).status
        out["cli_list"] = main(["tasks", "list", "--data", root])
        out["cli_status"] = main(["tasks", "status", task_id, "--data", root])
        out["cli_coverage"] = main(["coverage", "--data", root])
        out["cli_gaps"] = main(["gaps", "BTC", "--interval", "1h", "--data", root])
        out["cli_data"] = main(["data", "BTC", "--interval", "1h", "--start", "2026-01-01",
                                "--end", "2026-01-02", "--format", "json", "--data", root])
        attempt("write", lambda: Store(root).write(
            synthetic_candles("BTC", "1h", "2026-01-03", "2026-01-04")))
        attempt("create", lambda: reg.create(["BTC"], ["1h"], start=0, end=None,
                                             source="hyperliquid"))
    else:  # a full disk
        n = 0
        def fill():
            global n
            while True:
                n += 1
                store.write(synthetic_candles(f"C{n}", "1m", "2026-01-01", "2026-01-08"))
        attempt("write", fill)
        attempt("create", lambda: [reg.create([f"C{i}"], ["1m"], start=0, end=None,
                                              source="hyperliquid") for i in range(2000)])
    out["read"] = len(Store(root).read("BTC", "1h"))
    print("RESULT " + json.dumps(out))
''')


def _run_in_tmpfs(tmp_path, case, size):
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    (tmp_path / "script.py").write_text(SCRIPT)
    cmd = (f"mount -t tmpfs -o size={size} tmpfs {mnt} && "
           f"{sys.executable} {tmp_path / 'script.py'} {mnt} {case}")
    env = {**os.environ, "PYTHONPATH": str(REPO), "CANDLEKIT_DATA": str(mnt)}
    proc = subprocess.run(["unshare", "-m", "sh", "-c", cmd], capture_output=True, text=True,
                          timeout=300, env=env, check=False)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    assert lines, proc.stdout[-2000:] + proc.stderr[-3000:]
    return json.loads(lines[-1][len("RESULT "):]), proc


@needs_mount
def test_a_read_only_store_still_reads_and_refuses_writes_clearly(tmp_path):
    out, proc = _run_in_tmpfs(tmp_path, "readonly", "4m")
    assert out["list"] == [out["task"]] and out["status"] == "pending"
    assert out["cli_list"] == out["cli_status"] == out["cli_coverage"] == 0, proc.stderr
    assert out["cli_gaps"] == out["cli_data"] == 0, proc.stderr
    assert out["write"].startswith("StoreError: Could not write")
    assert "the filesystem is read-only" in out["write"]
    assert out["create"].startswith("StoreError: The task registry")
    assert "read-only" in out["create"] and "move the file away" not in out["create"]
    assert out["read"] == 48
    assert "Traceback" not in proc.stderr


@needs_mount
def test_a_full_disk_is_a_clear_error_and_keeps_the_candles(tmp_path):
    out, _ = _run_in_tmpfs(tmp_path, "full", "2m")
    assert out["write"].startswith("StoreError: Could not write")
    assert "the disk is full" in out["write"]
    assert out["create"].startswith("StoreError: The task registry")
    assert "disk is full" in out["create"] and "move the file away" not in out["create"]
    assert out["read"] == 48
