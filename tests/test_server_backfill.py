"""Backfill through the API against the emulator: progress rises, the task completes and
the store equals the emulator's truth; DELETE stops a running task (candles stay); a
server restart mid-task resumes it; `candlekit tasks` sees server tasks; --follow keeps
series current beyond the upstream's window."""

from __future__ import annotations

import json
import time

import pandas as pd
from fastapi.testclient import TestClient

from candlekit.cli import main
from candlekit.emulator import Emulator, Faults
from candlekit.server import Follow, create_app
from candlekit.server.worker import window_start
from candlekit.store import Store
from candlekit.timeutil import to_ms

NOW = "2026-11-01T00:00:30Z"
FAST = {"weight_budget": 10**9, "backoff_factor": 0.01}


def app_for(store, emu, **kw):
    return create_app(store, upstream="emulator", base_url=emu.url, source_options=FAST, **kw)


def wait_for(client, task_id, pred, timeout=60.0):
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        st = client.get(f"/api/klines/backfill/status/{task_id}").json()
        seen.append(st)
        if pred(st):
            return st, seen
        time.sleep(0.05)
    raise AssertionError(f"timed out; last status {seen[-1] if seen else None}")


def assert_store_is_truth(store, emu, symbol, interval, start):
    df = store.read(symbol, interval, source="emulator")
    truth = emu.truth(symbol, interval, start, emu.now_ms + 1)
    pd.testing.assert_frame_equal(df, truth, check_freq=False)


def test_backfill_progress_rises_and_store_equals_truth(tmp_path):
    store = Store(tmp_path)
    with Emulator(now=NOW, budget=None, window=50_000,
                  faults=Faults(slow=1.0, slow_seconds=0.12)) as emu, \
            TestClient(app_for(store, emu)) as c:
        r = c.post("/api/klines/backfill", json={"symbol": "BTC", "interval": "1m",
                                                  "start_date": "2026-10-20"})
        assert r.status_code == 202
        body = r.json()
        assert body["id"].startswith("bf-") and body["status"] in ("pending", "running")
        st, seen = wait_for(c, body["id"], lambda s: s["status"] == "completed")
        pcts = [s["progress_pct"] for s in seen]
        assert pcts == sorted(pcts) and any(0 < p < 100 for p in pcts) and pcts[-1] == 100.0
        assert {"id", "status", "progress_pct", "candles_fetched"} <= set(st)
        assert type(st["progress_pct"]) is float and type(st["candles_fetched"]) is int
        assert st["candles_fetched"] == len(emu.truth("BTC", "1m", "2026-10-20", emu.now_ms + 1))
        assert_store_is_truth(store, emu, "BTC", "1m", "2026-10-20")
        for path in ("/api/klines/backfill-tasks", "/api/klines/backfill/tasks"):
            rows = c.get(path).json()
            assert [x["id"] for x in rows] == [body["id"]]
            assert rows[0]["status"] == "completed" and rows[0]["symbol"] == "BTC"
            assert rows[0]["progress_pct"] == 100.0
        data = c.get("/api/klines/data?symbol=BTC&interval=1h&start=2026-10-20"
                     "&end=2026-10-21").json()
        assert len(data) == 24
    main(["tasks", "list", "--json", "--data", str(tmp_path)])  # the CLI's registry


def test_cli_lists_server_tasks(tmp_path, capsys):
    store = Store(tmp_path)
    with Emulator(now=NOW, budget=None) as emu, TestClient(app_for(store, emu)) as c:
        task_id = c.post("/api/klines/backfill", json={
            "symbol": "ETH", "interval": "1h", "start_date": "2026-10-25",
            "end_date": "2026-10-26"}).json()["id"]
        wait_for(c, task_id, lambda s: s["status"] == "completed")
    capsys.readouterr()
    assert main(["tasks", "list", "--json", "--data", str(tmp_path)]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["id"], r["status"]) for r in rows] == [(task_id, "completed")]
    assert len(store.read("ETH", "1h")) == 24


def test_delete_of_a_running_task_stops_it_and_keeps_candles(tmp_path):
    store = Store(tmp_path)
    with Emulator(now=NOW, budget=None, window=60_000,
                  faults=Faults(slow=1.0, slow_seconds=0.25)) as emu, \
            TestClient(app_for(store, emu)) as c:
        task_id = c.post("/api/klines/backfill", json={
            "symbol": "SOL", "interval": "1m", "start_date": "2026-10-01"}).json()["id"]
        wait_for(c, task_id, lambda s: s["status"] == "running" and s["progress_pct"] > 0)
        r = c.delete(f"/api/klines/backfill-tasks/{task_id}")
        assert r.status_code == 200 and r.json() == {"status": "ok"}
        assert c.get(f"/api/klines/backfill/status/{task_id}").status_code == 404
        assert c.get("/api/klines/backfill-tasks").json() == []
        requests_after = emu.stats.requests
        time.sleep(0.8)
        assert emu.stats.requests == requests_after        # nothing fetches any more
        kept = store.read("SOL", "1m", source="emulator")    # what was fetched stays
        assert 0 < len(kept) < len(emu.truth("SOL", "1m", "2026-10-01", emu.now_ms + 1))
        assert c.delete(f"/api/klines/backfill-tasks/{task_id}").status_code == 404


def test_restart_mid_task_resumes_it(tmp_path):
    store = Store(tmp_path)
    with Emulator(now=NOW, budget=None, window=60_000,
                  faults=Faults(slow=1.0, slow_seconds=0.25)) as emu:
        with TestClient(app_for(store, emu)) as c:
            task_id = c.post("/api/klines/backfill", json={
                "symbol": "ETH", "interval": "1m", "start_date": "2026-10-05"}).json()["id"]
            wait_for(c, task_id, lambda s: s["progress_pct"] > 10)
        # the server stopped: the task stopped between two pages, unfinished
        with TestClient(app_for(store, emu, run_worker=False)) as c:
            st = c.get(f"/api/klines/backfill/status/{task_id}").json()
        assert st["status"] == "cancelled" and st["progress_pct"] < 100
        with TestClient(app_for(store, emu)) as c:        # a new server on the same store
            st, _ = wait_for(c, task_id, lambda s: s["status"] == "completed")
            assert st["progress_pct"] == 100.0
        assert_store_is_truth(store, emu, "ETH", "1m", "2026-10-05")


def test_bad_backfill_requests(tmp_path):
    store = Store(tmp_path)
    with Emulator(now=NOW, budget=None) as emu, TestClient(app_for(store, emu)) as c:
        for body, code in [
            ({"symbol": "BTC", "interval": "2m"}, "invalid_interval"),
            ({"symbol": "BTC", "interval": "1s"}, "invalid_interval"),   # not on Hyperliquid
            ({"symbol": "BTC", "interval": "1h", "start_date": "soon"}, "invalid_time"),
            ({"symbol": "BTC", "interval": "1h", "start_date": "2026-10-02",
              "end_date": "2026-10-01"}, "invalid_time"),
            ({"symbol": " BTC", "interval": "1h"}, "unknown_symbol"),
            ({"symbol": "BTC", "interval": "1h", "start_date": "99999999999999999"},
             "invalid_time"),
        ]:
            r = c.post("/api/klines/backfill", json=body)
            assert r.status_code in (400, 404) and r.json()["error"] == code, (body, r.text)
        assert c.get("/api/klines/backfill-tasks").json() == []
        # an unknown coin: the task is recorded and fails, saying why
        task_id = c.post("/api/klines/backfill", json={"symbol": "DOGE", "interval": "1h"}
                         ).json()["id"]
        st, _ = wait_for(c, task_id, lambda s: s["status"] in ("failed", "completed"))
        assert st["status"] == "failed" and "DOGE" in st["error"]


def test_default_start_is_the_upstreams_window(tmp_path):
    store = Store(tmp_path)
    with Emulator(now=NOW, budget=None, window=200) as emu, \
            TestClient(app_for(store, emu)) as c:
        task_id = c.post("/api/klines/backfill", json={"symbol": "BTC", "interval": "1d"}
                         ).json()["id"]
        st, _ = wait_for(c, task_id, lambda s: s["status"] == "completed")
        # the last 5000 daily buckets by this machine's clock
        assert pd.Timestamp(st["start"]).value // 10**6 == window_start("1d")
        assert len(store.read("BTC", "1d")) == 200   # everything the upstream keeps


def test_follow_keeps_series_current_beyond_the_window(tmp_path):
    store = Store(tmp_path)
    with Emulator(now="2026-11-01T00:00:00Z", budget=None, window=100) as emu:
        follow = Follow(("BTC", "xyz:NVDA"), ("1m",), to_ms("2026-10-31T20:00Z"), every=0.3)
        with TestClient(app_for(store, emu, follow=follow)) as c:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                rows = c.get("/api/klines/backfill-tasks").json()
                if rows and rows[0]["status"] == "completed":
                    break
                time.sleep(0.05)
            assert len(rows) == 1 and rows[0]["symbol"] == "BTC,xyz:NVDA"
            assert len(store.read("BTC", "1m")) == 100      # the upstream's window
            emu.advance("90min")
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and min(
                    len(store.read(s, "1m")) for s in follow.symbols) < 190:
                time.sleep(0.05)
            btc = store.read("BTC", "1m")
            # nothing opens at the (frozen) clock: the last candle is the minute before it
            assert len(btc) == 190 and btc.index[-1] == pd.Timestamp(emu.now_ms - 60_000,
                                                                      unit="ms", tz="UTC")
            assert len(store.read("xyz:NVDA", "1m")) == 190
            assert c.get("/api/klines/backfill-tasks").json()[0]["id"] == rows[0]["id"]
        # restarted, the server keeps following with the same task
        with TestClient(app_for(store, emu, follow=follow)) as c:
            emu.advance("10min")
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and min(
                    len(store.read(s, "1m")) for s in follow.symbols) < 200:
                time.sleep(0.05)
            assert len(store.read("BTC", "1m")) == len(store.read("xyz:NVDA", "1m")) == 200
            assert [r["id"] for r in c.get("/api/klines/backfill-tasks").json()] == [
                rows[0]["id"]]


def _serve_process(root, port, emu_url):
    import subprocess
    import sys

    return subprocess.Popen(
        [sys.executable, "-m", "candlekit.cli", "serve", "--data", str(root), "--port",
         str(port), "--source", "emulator", "--base-url", emu_url, "--log-level", "warning"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _get(url, timeout=60.0):
    import requests

    deadline = time.monotonic() + timeout
    while True:
        try:
            return requests.get(url, timeout=5)
        except requests.ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_kill_9_of_the_server_mid_task_then_restart_resumes(tmp_path):
    import signal
    import socket

    import requests

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    with Emulator(now=NOW, budget=None, window=60_000,
                  faults=Faults(slow=1.0, slow_seconds=0.2)) as emu:
        proc = _serve_process(tmp_path, port, emu.url)
        try:
            _get(url + "/api/klines/backfill-tasks")
            task_id = requests.post(url + "/api/klines/backfill", json={
                "symbol": "BTC", "interval": "1m", "start_date": "2026-10-08"},
                timeout=30).json()["id"]
            deadline = time.monotonic() + 60
            while requests.get(f"{url}/api/klines/backfill/status/{task_id}",
                               timeout=10).json()["progress_pct"] < 5:
                assert time.monotonic() < deadline
                time.sleep(0.05)
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(30)
        proc = _serve_process(tmp_path, port, emu.url)
        try:
            st = _get(f"{url}/api/klines/backfill/status/{task_id}").json()
            deadline = time.monotonic() + 90
            while st["status"] != "completed":
                assert time.monotonic() < deadline, st
                time.sleep(0.1)
                st = requests.get(f"{url}/api/klines/backfill/status/{task_id}",
                                  timeout=10).json()
        finally:
            proc.terminate()
            proc.wait(30)
        assert_store_is_truth(Store(tmp_path), emu, "BTC", "1m", "2026-10-08")


def test_tasks_beyond_max_running_wait_pending(tmp_path):
    store = Store(tmp_path)
    with Emulator(now=NOW, budget=None, window=60_000,
                  faults=Faults(slow=1.0, slow_seconds=0.2)) as emu, \
            TestClient(app_for(store, emu, max_running=1)) as c:
        first = c.post("/api/klines/backfill", json={
            "symbol": "BTC", "interval": "1m", "start_date": "2026-10-25"}).json()
        started = time.monotonic()
        second = c.post("/api/klines/backfill", json={
            "symbol": "ETH", "interval": "1h", "start_date": "2026-10-25"}).json()
        assert time.monotonic() - started < 1.5 and second["status"] == "pending"
        assert first["status"] == "running"
        wait_for(c, second["id"], lambda s: s["status"] == "completed")
        assert c.get(f"/api/klines/backfill/status/{first['id']}").json()["status"] == (
            "completed")
        assert_store_is_truth(store, emu, "ETH", "1h", "2026-10-25")
