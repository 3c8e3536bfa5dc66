"""Reads never block on writes: while a writer rewrites a series, every reader gets whole
files, old or new, never a torn or partial one; and the serve CLI as written in the README."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time

import numpy as np
import requests
from _server_helpers import put, synthetic
from fastapi.testclient import TestClient

from candlekit.server import create_app, serve
from candlekit.store import Store


def test_readers_see_whole_files_while_a_writer_rewrites(tmp_path):
    store = Store(tmp_path)
    # two yearly files of 1h candles; versions differ by their volume scale
    base = synthetic("BTC", "1h", "2025-12-01", "2026-02-01")
    versions = []
    for k in (1.0, 3.0):
        df = base.copy()
        df["volume"] = base["volume"] * k
        df.attrs = dict(base.attrs)
        versions.append(df)
    put(store, versions[0])
    stop = threading.Event()
    writes = 0

    def writer():
        nonlocal writes
        i = 1
        while not stop.is_set():
            store.write(versions[i % 2])
            writes += 1
            i += 1

    t = threading.Thread(target=writer)
    with TestClient(create_app(store, run_worker=False)) as c:
        t.start()
        try:
            deadline = time.monotonic() + 3.0
            seen = set()
            n = 0
            while time.monotonic() < deadline:
                rows = c.get("/api/klines/data?symbol=BTC&interval=1h").json()
                assert len(rows) == len(base)                      # nothing missing
                ratio = np.array([r["volume"] for r in rows]) / base["volume"].to_numpy()
                year = np.array([r["timestamp"][:4] for r in rows])
                for y in ("2025", "2026"):                          # each file whole
                    scales = set(np.round(ratio[year == y], 6))
                    assert len(scales) == 1 and scales <= {1.0, 3.0}, scales
                    seen |= scales
                n += 1
        finally:
            stop.set()
            t.join()
    assert writes > 5 and n > 5 and seen == {1.0, 3.0}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_candlekit_serve_command(tmp_path):
    store = Store(tmp_path)
    put(store, synthetic("BTC", "1h", "2026-10-01", "2026-10-02"))
    port = _free_port()
    env = {**os.environ, "CANDLEKIT_TOKEN": "tok"}
    proc = subprocess.Popen([sys.executable, "-m", "candlekit.cli", "serve", "--data",
                             str(tmp_path), "--port", str(port), "--log-level", "warning"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                r = requests.get(url + "/api/klines/supported-symbols",
                                 headers={"Authorization": "Bearer tok"}, timeout=2)
                break
            except requests.ConnectionError:
                assert proc.poll() is None and time.monotonic() < deadline
                time.sleep(0.1)
        assert r.json() == {"symbols": ["BTC"]}
        assert requests.get(url + "/api/klines/coverage", timeout=5).status_code == 401
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
    assert "token required" in out and f"127.0.0.1:{port}" in out


def test_serve_in_a_thread_stops_cleanly(tmp_path):
    store = Store(tmp_path)
    put(store, synthetic("ETH", "1d", "2026-01-01", "2026-02-01"))
    srv = serve(store, port=0, background=True)
    r = requests.get(srv.url + "/api/klines/data?symbol=ETH&interval=1d", timeout=10)
    assert len(r.json()) == 31
    srv.close()
    try:
        requests.get(srv.url + "/api/klines/supported-symbols", timeout=2)
        raise AssertionError("still serving")
    except requests.ConnectionError:
        pass
