"""Server benchmark: ``candlekit serve`` over loopback, in a separate process.

Measures, in one run, against one uvicorn process on 127.0.0.1 serving one temporary store
(100,000 synthetic 1m candles):

* ``GET /api/klines/data`` of all 100,000 candles (columns to JSON bytes) vs the FastAPI
  idiom on the same data and in the same server: ``response_model=list[Kline]`` built from
  ``df.to_dict("records")`` (pydantic validation and serialisation); goal >= 10x;
* ``POST /info`` candleSnapshot of 5,000 candles: p50 and p99 latency over one keep-alive
  connection (goal p50 <= 15 ms), and requests per second with 8 concurrent keep-alive
  clients.

Both include reading the store. The client is ``http.client`` (the body read in one call,
one connection kept alive), so its own cost weighs little on what is measured; the load
average is printed with the results, which vary with it on a shared machine. Bounded loops, 127.0.0.1 only.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

N_CANDLES = 100_000
START = "2026-01-01"
INFO_REQUESTS = 200
CONCURRENT = 8
CONCURRENT_SECONDS = 4.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def build_store(root: str) -> None:
    from candlekit.store import Store
    from candlekit.synthetic import synthetic_candles

    end = np.datetime64(START, "m") + np.timedelta64(N_CANDLES, "m")
    df = synthetic_candles("BTC", "1m", START, str(end))
    df.attrs["source"] = "bench"
    Store(root).write(df)


def server_main(root: str, port: int) -> None:
    """The benchmarked server: candlekit's app plus the FastAPI-idiom baseline route."""
    from datetime import datetime

    import uvicorn
    from fastapi import Query
    from pydantic import BaseModel

    from candlekit.server import create_app
    from candlekit.store import Store

    store = Store(root)
    app = create_app(store, run_worker=False)

    class Kline(BaseModel):
        timestamp: datetime
        open: float
        high: float
        low: float
        close: float
        volume: float
        quote_volume: float | None = None
        trades: int | None = None
        closed: bool

    @app.get("/baseline/klines/data", response_model=list[Kline])
    def baseline(symbol: str = Query(...), interval: str = Query("1m")):
        df = store.read(symbol, interval)
        df = df.reset_index().rename(columns={"time": "timestamp"})
        df["quote_volume"] = df["quote_volume"].astype(object).where(
            df["quote_volume"].notna(), None)
        df["trades"] = df["trades"].astype(object).where(df["trades"].notna(), None)
        return df.to_dict("records")

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def _wait(url: str, proc: subprocess.Popen) -> None:
    import requests

    deadline = time.monotonic() + 120
    while True:
        try:
            requests.get(url + "/api/klines/supported-symbols", timeout=2)
            return
        except requests.ConnectionError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("benchmark server did not start") from None
            time.sleep(0.1)


class Client:
    """A lean keep-alive HTTP client (``http.client``: the body read in one call), so the
    client's own cost weighs as little as possible on what is measured."""

    def __init__(self, port: int):
        import http.client

        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def get(self, path: str) -> bytes:
        self.conn.request("GET", path)
        r = self.conn.getresponse()
        body = r.read()
        assert r.status == 200, (r.status, body[:200])
        return body

    def post(self, path: str, obj: dict) -> bytes:
        self.conn.request("POST", path, body=json.dumps(obj),
                          headers={"Content-Type": "application/json"})
        r = self.conn.getresponse()
        body = r.read()
        assert r.status == 200, (r.status, body[:200])
        return body


def _best(fn, repeat: int) -> float:
    fn()
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="candlekit-bench-server-") as root:
        build_store(root)
        port = _free_port()
        proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--serve", root,
                                 str(port)])
        url = f"http://127.0.0.1:{port}"
        try:
            _wait(url, proc)
            s = Client(port)
            ours = json.loads(s.get("/api/klines/data?symbol=BTC&interval=1m"))
            base = json.loads(s.get("/baseline/klines/data?symbol=BTC&interval=1m"))
            assert len(ours) == len(base) == N_CANDLES, (len(ours), len(base))
            assert [r["close"] for r in ours] == [r["close"] for r in base]
            t_ours = _best(lambda: s.get("/api/klines/data?symbol=BTC&interval=1m"), 5)
            t_base = _best(lambda: s.get("/baseline/klines/data?symbol=BTC&interval=1m"), 3)
            ratio = t_base / t_ours
            print(f"load average {os.getloadavg()[0]:.1f}")
            print(f"server GET /api/klines/data, {N_CANDLES:,} 1m candles: candlekit "
                  f"{t_ours * 1000:.1f} ms; FastAPI response_model=list[Kline] from "
                  f"df.to_dict('records') {t_base * 1000:.1f} ms ({ratio:.1f}x; goal >=10x "
                  f"{'MET' if ratio >= 10 else 'MISSED'})")

            first = int(np.datetime64(START, "ms").astype(np.int64))

            def body(i: int) -> dict:
                """Page i % 19 of the history: every request reads and encodes anew."""
                t0 = first + (i % 19) * 5000 * 60_000
                return {"type": "candleSnapshot", "req": {"coin": "BTC", "interval": "1m",
                                                          "startTime": t0,
                                                          "endTime": t0 + 5000 * 60_000}}

            assert len(json.loads(s.post("/info", body(3)))) == 5000
            lat = []
            for i in range(INFO_REQUESTS):
                t = time.perf_counter()
                s.post("/info", body(i))
                lat.append(time.perf_counter() - t)
            p50, p99 = np.percentile(lat, [50, 99]) * 1000
            print(f"server POST /info candleSnapshot of 5,000 candles, one keep-alive client, "
                  f"{INFO_REQUESTS} requests over 19 different pages: p50 {p50:.1f} ms, "
                  f"p99 {p99:.1f} ms (goal p50 <=15 ms {'MET' if p50 <= 15 else 'MISSED'})")

            done = [0] * CONCURRENT
            stop = time.perf_counter() + CONCURRENT_SECONDS

            def client(i: int) -> None:
                c = Client(port)
                while time.perf_counter() < stop:
                    c.post("/info", body(i + done[i]))
                    done[i] += 1

            threads = [threading.Thread(target=client, args=(i,)) for i in range(CONCURRENT)]
            started = time.perf_counter()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            elapsed = time.perf_counter() - started
            print(f"server POST /info 5,000 candles, {CONCURRENT} concurrent keep-alive "
                  f"clients for {elapsed:.1f} s: {sum(done) / elapsed:.0f} requests/s "
                  f"({sum(done) * 5000 / elapsed:,.0f} candles/s; one server process, the "
                  f"clients on the same {os.cpu_count()} cores)")
        finally:
            proc.terminate()
            proc.wait(30)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--serve":
        server_main(sys.argv[2], int(sys.argv[3]))
    else:
        main()
