"""Backfill against the candlekit emulator over HTTP on 127.0.0.1: faults, pacing,
retention, gap repair, cancel, delete and bad inputs (kill -9 and processes: see
test_backfill_kill.py)."""

from __future__ import annotations

import math
import time

import pandas as pd
import pytest

from candlekit.backfill import TaskRegistry, backfill, resume
from candlekit.emulator import Emulator, Faults
from candlekit.errors import (
    InvalidIntervalError,
    InvalidTimeError,
    UnknownSymbolError,
)
from candlekit.intervals import floor_time
from candlekit.sources import Hyperliquid, SourceConfigError, get_source
from candlekit.store import Store
from candlekit.timeutil import to_ms

NOW = "2026-11-01T00:00:30Z"
ALL_FAULTS = Faults(server_error=0.2, slow=0.2, truncated=0.2, dropped=0.2, empty=0.2,
                    duplicates=0.2, out_of_order=0.2, stale_open=0.2, slow_seconds=0.4)


def client(emu, **kw):
    """A Hyperliquid client for ``emu``; unpaced unless a weight budget is given."""
    kw.setdefault("backoff_factor", 0.01)
    kw.setdefault("weight_budget", 10**9)
    return Hyperliquid(emu.url, **kw)


def check_store(store, emu, symbol, interval, start, *, complete=True):
    """Every stored candle is the truth (open candles: stored open); with ``complete``,
    every candle the truth has from ``start`` is stored."""
    df = store.read(symbol, interval, source="emulator")
    assert df.index.is_unique and df.index.is_monotonic_increasing
    truth = emu.truth(symbol, interval, start, emu.now_ms + 1)
    if complete:
        pd.testing.assert_index_equal(df.index, truth.index)
    else:
        assert df.index.isin(truth.index).all()
        truth = truth.loc[df.index]
    closed = truth["closed"].to_numpy()
    assert (df["closed"].to_numpy() == closed).all()  # no open candle marked closed
    # an open candle may have been served stale (a fault): closed candles are exact
    pd.testing.assert_frame_equal(df[closed], truth[closed], check_freq=False)
    return df


def test_every_fault_switched_on_store_equals_the_truth(tmp_path):
    store = Store(tmp_path)
    series = [("BTC", "1m"), ("ETH", "5m"), ("SOL", "1h"), ("HYPE", "15m")]
    with Emulator(mode="hyperliquid", now=NOW, budget=None, window=12_000, faults=ALL_FAULTS,
                  fault_seed=11) as emu:
        src = client(emu, timeout=0.2, max_retries=12)
        start = "2026-10-20"
        task = backfill(["BTC", "ETH", "SOL", "HYPE"], ["1m", "5m", "15m", "1h"], start=start,
                        source=src, store=store, progress=False)
        st = task.status()
        assert st.status == "completed" and st.source == "emulator"
        assert sum(emu.stats.faults_injected.values()) > 10
        for sym, iv in series:
            check_store(store, emu, sym, iv, max(to_ms(start), emu.earliest(sym, iv)))
        first_1m = emu.earliest("BTC", "1m")

        emu.advance("3d")  # 4320 new 1m candles; the oldest roll out of the window
        st = backfill(["BTC", "ETH", "SOL", "HYPE"], ["1m", "5m", "15m", "1h"], start=start,
                      source=src, store=store, progress=False).status()
        assert st.status == "completed"
        assert emu.earliest("BTC", "1m") > first_1m
        df = check_store(store, emu, "BTC", "1m", first_1m)
        assert len(df) > 12_000  # history gone upstream is kept in the store
        for sym, iv in series[1:]:
            check_store(store, emu, sym, iv, max(to_ms(start), emu.earliest(sym, iv)))


def test_requests_stay_within_pages_plus_one_per_series_plus_retries(tmp_path):
    store = Store(tmp_path)
    with Emulator(mode="hyperliquid", now=NOW, budget=None, window=40_000) as emu:
        src = client(emu)
        src.identify()  # one meta request, so that only candleSnapshot is counted below
        emu.reset_stats()
        start = "2026-10-10"
        symbols, intervals = ["BTC", "ETH"], ["1m", "5m", "1h"]
        st = backfill(symbols, intervals, start=start, source=src, store=store,
                      progress=False).status()
        sizes = [len(store.read(s, i, source="emulator")) for s in symbols for i in intervals]
        assert sum(sizes) == st.candles_fetched
        bound = sum(math.ceil(n / 5000) for n in sizes) + len(sizes) + src.stats.retries
        assert emu.stats.requests <= bound
        assert st.requests == emu.stats.requests

        emu.advance("1d")
        emu.reset_stats()
        retries = src.stats.retries
        st = backfill(symbols, intervals, start=start, source=src, store=store,
                      progress=False).status()
        assert src.stats.retries == retries
        # only what is new (1441, 289, 25 candles with the formerly open one): one page each
        assert emu.stats.requests == len(sizes)
        assert st.candles_fetched == 2 * (1441 + 289 + 25)
        for s in symbols:
            for i in intervals:
                check_store(store, emu, s, i, start)


def test_no_429_under_default_pacing_with_a_budget(tmp_path):
    store = Store(tmp_path)
    budget, window = 250, 1.0
    with Emulator(mode="hyperliquid", now=NOW, budget=budget, budget_window=window,
                  window=20_000) as emu:
        src = client(emu, weight_budget=budget, weight_window=window)
        backfill(["BTC", "ETH"], "1m", start="2026-10-22", source=src, store=store,
                 progress=False)
        assert emu.stats.rate_limited == 0 and src.stats.rate_limited == 0
        assert emu.stats.weight_used > 2 * budget  # the budget had to slide: pacing worked
        for sym in ("BTC", "ETH"):
            check_store(store, emu, sym, "1m", "2026-10-22")


def test_retention_note_and_earliest_available(tmp_path):
    store = Store(tmp_path)
    with Emulator(mode="hyperliquid", now=NOW, budget=None) as emu:
        st = backfill("BTC", "1m", start="2026-10-01", source="emulator", base_url=emu.url,
                      store=store, progress=False).status()
        earliest = emu.earliest("BTC", "1m")
        when = pd.Timestamp(earliest, unit="ms", tz="UTC")
        requested = (to_ms(NOW) // 60_000 + 1) - to_ms("2026-10-01") // 60_000
        assert st.status == "completed"
        assert st.earliest_available == when.strftime("%Y-%m-%dT%H:%M:%SZ")
        assert (f"emulator keeps only the last 5000 1m candles: history before "
                f"{when.strftime('%Y-%m-%dT%H:%MZ')} is not available upstream; "
                f"{requested - 5000} candles requested before it were not fetched") in st.note
        check_store(store, emu, "BTC", "1m", earliest)
        assert TaskRegistry(store.root).availability("emulator", "BTC", "1m")[0] == earliest
        # later runs never ask for it again: one request, for the open candle
        emu.reset_stats()
        backfill("BTC", "1m", start="2026-10-01", source="emulator", base_url=emu.url,
                 store=store, progress=False)
        assert emu.stats.requests == 2  # the client's identify (meta) and one candleSnapshot


def test_only_gaps_fetches_just_the_gaps(tmp_path):
    store = Store(tmp_path)
    with Emulator(mode="hyperliquid", now=NOW, budget=None) as emu:
        truth = emu.truth("ETH", "1h", "2026-10-01", "2026-10-20")
        holes = truth.drop(truth.index[[5, 6, 7, 100, 300]])
        holes.attrs = dict(truth.attrs)
        store.write(holes)
        src = client(emu)
        src.identify()
        emu.reset_stats()
        st = backfill("ETH", "1h", start="2026-09-01", source=src, store=store, only_gaps=True,
                      progress=False).status()
        assert emu.stats.requests == 3 and st.candles_fetched == 5
        df = store.read("ETH", "1h", source="emulator")
        pd.testing.assert_frame_equal(df, truth, check_freq=False)


def test_cancel_background_task_then_resume(tmp_path):
    store = Store(tmp_path)
    with Emulator(mode="hyperliquid", now=NOW, budget=250, budget_window=1.0,
                  window=30_000) as emu:
        src = client(emu, weight_budget=250, weight_window=1.0)
        task = backfill("BTC", "1m", start="2026-10-12", source=src, store=store,
                        background=True, progress=False)
        deadline = time.monotonic() + 30
        # progress counts pages; candles_fetched counts candles written (in batches)
        while task.status().progress_pct == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        st = task.cancel()
        assert st.status in ("running", "cancelled")
        assert task.wait(timeout=30).status == "cancelled"
        partial = len(store.read("BTC", "1m", source="emulator"))
        assert 0 < partial < 27_000
        check_store(store, emu, "BTC", "1m", "2026-10-12", complete=False)
        assert resume(task.id, store=store, source=src, progress=False).status(
        ).status == "completed"
        check_store(store, emu, "BTC", "1m", "2026-10-12")


def test_delete_keeps_data(tmp_path):
    store = Store(tmp_path)
    with Emulator(mode="hyperliquid", now=NOW, budget=None) as emu:
        task = backfill("SOL", "1d", start="2026-01-01", source="emulator", base_url=emu.url,
                        store=store, progress=False)
        before = store.read("SOL", "1d", source="emulator")
        TaskRegistry(store.root).delete(task.id)
        pd.testing.assert_frame_equal(store.read("SOL", "1d", source="emulator"), before)
        assert task.id not in set(TaskRegistry(store.root).list()["id"])


@pytest.mark.parametrize("kwargs, error, needle", [
    ({"symbol": "BTC", "interval": "45m"}, InvalidIntervalError, "Invalid interval"),
    ({"symbol": "BTC", "interval": "1s"}, InvalidIntervalError, "Hydromancer"),
    ({"symbol": "BTC", "interval": "1h", "end": "2026-09-01"}, InvalidTimeError, "after"),
    ({"symbol": "BTC", "interval": "1h", "start": "not a date"}, InvalidTimeError,
     "Unparseable"),
    ({"symbol": [], "interval": "1h"}, UnknownSymbolError, "No symbol"),
    ({"symbol": ["BTC", ""], "interval": "1h"}, UnknownSymbolError, "Invalid coin"),
    ({"symbol": "BTC", "interval": "1h", "source": "binance"}, SourceConfigError, "binance"),
])
def test_bad_inputs_create_nothing(tmp_path, kwargs, error, needle):
    store = Store(tmp_path / "store")
    args = {"start": "2026-10-01", "store": store, "progress": False,
            "source": "emulator", "base_url": "http://127.0.0.1:9"}
    args.update(kwargs)
    with pytest.raises(error, match=needle):
        backfill(args.pop("symbol"), args.pop("interval"), **args)
    assert not store.root.exists()  # no task registry, no candles


def test_a_start_before_any_history_is_reported_as_such(tmp_path, capsys):
    from candlekit.cli import main

    store = Store(tmp_path)
    with Emulator(mode="hyperliquid", now=NOW, budget=None) as emu:
        code = main(["backfill", "BTC", "-i", "1d", "--start", "1900-01-01", "--source",
                     "emulator", "--base-url", emu.url, "--data", str(tmp_path)])
        err = capsys.readouterr().err
        assert code == 2 and "before 1970-01-01: no upstream has candles that early" in err
        assert "422" not in err and "deserialize" not in err
        assert not (tmp_path / "tasks.sqlite").exists()  # refused before a task exists
        # from 1970: where the history starts is found and noted, not an error
        st = backfill("BTC", "1d", start="1970-01-01", source="emulator", base_url=emu.url,
                      store=store, progress=False).status()
        first = emu.earliest("BTC", "1d")
        assert st.status == "completed"
        assert st.earliest_available == pd.Timestamp(first, unit="ms", tz="UTC").strftime(
            "%Y-%m-%dT%H:%M:%SZ")
        assert "is not available upstream" in st.note
        check_store(store, emu, "BTC", "1d", first)


def test_unknown_coin_fails_the_task_nothing_written(tmp_path):
    store = Store(tmp_path)
    with Emulator(mode="hyperliquid", now=NOW, budget=None) as emu, pytest.raises(
            UnknownSymbolError, match="NOPE"):
        backfill(["BTC", "NOPE"], "1h", start="2026-10-01", source="emulator",
                 base_url=emu.url, store=store, progress=False)
    assert store.series() == []
    (st,) = TaskRegistry(store.root).statuses()
    assert st.status == "failed" and "NOPE" in st.error


def test_hydromancer_calendar_months_and_weeks(tmp_path):
    store = Store(tmp_path)
    with Emulator(mode="hydromancer", now=NOW, budget=None) as emu:
        src = get_source("emulator-hydromancer", base_url=emu.url, weight_budget=10**9)
        st = backfill("ETH", ["1w", "1M", "4h"], start="2025-06-15", source=src, store=store,
                      progress=False).status()
        assert st.status == "completed" and st.source == "emulator-hydromancer"
        for iv in ("1w", "1M", "4h"):
            df = store.read("ETH", iv, source="emulator-hydromancer")
            assert df.attrs["alignment"] == "calendar"
            # every bucket overlapping the range: the first one opens before the start
            first = floor_time("2025-06-15", iv, alignment="calendar")
            truth = emu.truth("ETH", iv, first, emu.now_ms + 1)
            pd.testing.assert_index_equal(df.index, truth.index)
            closed = truth["closed"].to_numpy()
            assert (df["closed"].to_numpy() == closed).all()
            pd.testing.assert_frame_equal(df[closed], truth[closed], check_freq=False)
