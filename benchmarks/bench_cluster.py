"""Cluster benchmark: ``resample_store`` 1s→1m over 20 coin-months of 1s candles.

In one run and on the same files (a temporary store, deleted afterwards):

* the in-process loop over the 20 units (``client=None``);
* the same on a 2-worker ``LocalCluster`` (one thread per worker, processes), after the
  workers' numba warm-up (timed separately: it is paid once per cluster).

Both write the 1m series (the 1m files are deleted between the runs). On 2 cores there is
nothing to gain from a cluster, so the goal is its overhead: at most 1.3x the in-process
time. The same comparison for ``track_record`` over 16 coin-years of 1h candles (one
whole series per unit, 8,760 candles each), with the same goal. Printed: time per unit and bytes of parquet read per second, so the docs can state
how it scales with workers. Also printed: rows and parquet bytes per coin-year of 1s, 1m
and 1h candles as the store writes them, for sizing real workloads.

The data is synthetic (``candlekit.synthetic_candles``): 4 distinct months of 1s candles,
each stored under 5 coin names, so that generating them stays under a minute on 2 cores.
"""

from __future__ import annotations

import itertools
import shutil
import tempfile
import time
from pathlib import Path

import candlekit as ck
from candlekit.cluster import resample_store, warm_up

MONTHS = ["2026-01-01", "2026-02-01", "2026-03-01", "2026-04-01", "2026-05-01"]
COINS = ["BENCH1", "BENCH2", "BENCH3", "BENCH4", "BENCH5"]
GOAL = 1.3
REPEATS = 3


def build(store: ck.Store) -> None:
    """20 coin-months of 1s: each of 4 synthetic months written under 5 coin names."""
    for start, end in itertools.pairwise(MONTHS):
        df = ck.synthetic_candles("BTC", "1s", start, end, base="1s")
        for coin in COINS:
            df.attrs.update(symbol=coin, source="synthetic")
            store.write(df)


def _clear_1m(store: ck.Store) -> None:
    for key in store.series(interval="1m"):
        store.delete(key.symbol, key.interval, source=key.source)


def _once(store: ck.Store, client: object) -> tuple[float, object, float]:
    """Wall time, summary, and seconds the workers spent computing units (0 in process)."""
    _clear_1m(store)
    if client is None:
        t0 = time.perf_counter()
        summary = resample_store(store, "1s", "1m", progress=False)
        return time.perf_counter() - t0, summary, 0.0
    from distributed import get_task_stream

    with get_task_stream(client) as ts:
        t0 = time.perf_counter()
        summary = resample_store(store, "1s", "1m", client=client, progress=False)
        wall = time.perf_counter() - t0
    busy = sum(ss["stop"] - ss["start"] for task in ts.data for ss in task["startstops"]
               if ss["action"] == "compute")
    return wall, summary, busy


TRACK_COINS = [f"TRACK{i}" for i in range(1, 17)]


def track_bench(tmp: Path, client: object) -> None:
    """track_record over 16 stored 1h coin-years: in process, then on the cluster."""
    store = ck.Store(tmp / "track")
    df = ck.synthetic_candles("BTC", "1h", "2025-01-01", "2026-01-01", seed=7)
    for coin in TRACK_COINS:
        df.attrs.update(symbol=coin, source="synthetic")
        store.write(df)
    ck.track_record(store, interval="1h", client=client, progress=False)  # warm-up
    local, remote = [], []
    for _ in range(REPEATS):  # interleaved, as above
        t0 = time.perf_counter()
        want = ck.track_record(store, interval="1h", progress=False)
        local.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        got = ck.track_record(store, interval="1h", client=client, progress=False)
        remote.append(time.perf_counter() - t0)
    assert got.calls.equals(want.calls) and got.summary.equals(want.summary)
    local_s, remote_s = min(local), min(remote)
    ratio = remote_s / local_s
    n = len(TRACK_COINS)
    print(f"track_record over {n} 1h coin-years ({len(want.calls):,} calls): in-process "
          f"{local_s:.2f} s ({local_s / n * 1e3:.0f} ms/series); LocalCluster 2x1 "
          f"{remote_s:.2f} s ({remote_s / n * 1e3:.0f} ms/series); {ratio:.2f}x the "
          f"in-process time (goal <={GOAL:g}x {'MET' if ratio <= GOAL else 'MISSED'}); "
          f"best of {REPEATS}, interleaved")


def sizes(tmp: Path) -> None:
    """Rows and parquet bytes per coin-year, measured on synthetic data written by the store."""
    st = ck.Store(tmp / "sizes")
    for interval in ("1m", "1h"):
        st.write(ck.synthetic_candles("SIZE", interval, "2025-01-01", "2026-01-01"))
    cov = st.coverage()
    print("sizes per coin-year (synthetic candles as the store writes them):")
    month = ck.Store(tmp / "bench").coverage(interval="1s")
    bytes_1s = month["bytes"].sum() / month["files"].sum() * 12
    print(f"    1s: 31,536,000 rows, {bytes_1s / 2**20:,.0f} MiB (12 x the mean monthly file "
          "of this run)")
    for row in cov.itertuples(index=False):
        print(f"    {row.interval}: {row.total_candles:,} rows, {row.bytes / 2**20:,.1f} MiB "
              f"({row.files} file)")


def main() -> None:
    """Print one line per measurement."""
    from distributed import Client, LocalCluster

    tmp = Path(tempfile.mkdtemp(prefix="candlekit-bench-cluster-"))
    try:
        store = ck.Store(tmp / "bench")
        t0 = time.perf_counter()
        build(store)
        cov = store.coverage(interval="1s")
        units, rows, nbytes = int(cov["files"].sum()), int(cov["total_candles"].sum()), \
            int(cov["bytes"].sum())
        print(f"store: {units} coin-months of synthetic 1s candles ({rows:,} rows, "
              f"{nbytes / 2**20:,.0f} MiB parquet), built in {time.perf_counter() - t0:.0f} s")

        local, remote, busy = [], [], []
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                          dashboard_address=None) as cluster, Client(cluster) as client:
            t0 = time.perf_counter()
            warm_up(client)
            warm = time.perf_counter() - t0
            for _ in range(REPEATS):  # interleaved, so both see the same load on the machine
                secs, summary, _ = _once(store, None)
                local.append(secs)
                secs, summary_c, b = _once(store, client)
                remote.append(secs)
                busy.append(b)
            track_bench(tmp, client)
        best = int(min(range(REPEATS), key=remote.__getitem__))
        local, remote, busy = min(local), remote[best], busy[best]
        assert int(summary["rows_in"].sum()) == rows
        assert summary_c.equals(summary)
        ratio = remote / local
        verdict = "MET" if ratio <= GOAL else "MISSED"
        print(f"resample_store 1s->1m, {units} units: in-process {local:.2f} s "
              f"({local / units * 1e3:.0f} ms/unit, {nbytes / local / 2**20:,.0f} MiB/s read); "
              f"LocalCluster 2x1 {remote:.2f} s ({remote / units * 1e3:.0f} ms/unit, "
              f"{nbytes / remote / 2**20:,.0f} MiB/s read); {ratio:.2f}x the in-process time "
              f"(goal <={GOAL:g}x {verdict}); best of {REPEATS}, interleaved")
        print(f"    on the cluster the 2 workers computed units for {busy:.2f} s "
              f"({busy / units * 1e3:.0f} ms per unit on a worker, {busy / (2 * remote):.0%} "
              f"of 2 x {remote:.2f} s); worker warm-up {warm:.1f} s, once per cluster")
        sizes(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
