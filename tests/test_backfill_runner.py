"""The backfill runner against an in-process fake upstream (no network).

:class:`FakeSource` duck-types :class:`candlekit.sources.Source` over the seeded
synthetic market: a frozen server clock, a retention window (the last ``window`` candles),
listing times, outages, unknown coins and scripted empty answers (glitches).
"""

from __future__ import annotations

import re
import threading

import numpy as np
import pandas as pd
import pytest

from candlekit.backfill import Task, TaskRegistry, backfill, resume
from candlekit.errors import TaskDeletedError, UnknownSymbolError
from candlekit.intervals import bucket_ordinal, ordinal_to_ms, parse_interval
from candlekit.sources import Page, RequestStats
from candlekit.store import Store
from candlekit.synthetic import SyntheticMarket
from candlekit.timeutil import to_ms

M = 60_000
NOW = to_ms("2026-10-10T12:00:30Z")


class FakeSource:
    """A Hyperliquid-like upstream over the synthetic market, fully scripted."""

    name = "fake"
    intervals = ("1m", "5m", "1h", "1d")
    alignment = "hyperliquid"

    def __init__(self, *, now=NOW, window=5000, page_limit=5000, listing=None, outages=None,
                 unknown=(), empty_calls=(), seed=11, label="fake"):
        self.market = SyntheticMarket(seed)
        self.now = to_ms(now)
        self.window = window
        self.page_limit = page_limit
        self.listing = {k: to_ms(v) for k, v in (listing or {}).items()}
        self.outages = {k: [(to_ms(a), to_ms(b)) for a, b in v]
                        for k, v in (outages or {}).items()}
        self.unknown = set(unknown)
        self.empty_calls = set(empty_calls)
        self._label = label
        self.calls: list[tuple[str, str, int, int, int]] = []
        self.stats = RequestStats()
        self.on_fetch = None  # hook(call_number) for tests (cancel, concurrency)
        self._lock = threading.Lock()

    @property
    def label(self):
        return self._label

    @property
    def synthetic(self):
        return False

    def now_ms(self):
        return self.now

    def check_interval(self, interval):
        if interval not in self.intervals:
            from candlekit.errors import InvalidIntervalError
            raise InvalidIntervalError(interval, self.intervals)
        return parse_interval(interval)

    def check_symbol(self, symbol):
        if symbol in self.unknown:
            raise UnknownSymbolError(f"Unknown coin {symbol!r} (fake listing)", symbol)

    def earliest(self, symbol, interval):
        iv = parse_interval(interval)
        o = int(bucket_ordinal(np.array([self.now]), iv, alignment="hyperliquid")[0])
        first = int(ordinal_to_ms(np.array([o - self.window + 1]), iv,
                                  alignment="hyperliquid")[0])
        return max(first, self.listing.get(symbol, 0))

    def truth(self, symbol, interval, start, end):
        """Every candle the market has in [start, end) at the clock (no window)."""
        lo = max(to_ms(start), self.listing.get(symbol, 0))
        df = self.market.candles(symbol, interval, lo, max(to_ms(end), lo + 1),
                                 alignment="hyperliquid", now=self.now)
        t = df.index.asi8
        keep = (t >= lo) & (t < to_ms(end))
        for a, b in self.outages.get(symbol, []):
            keep &= ~((t >= a) & (t < b))
        out = df[keep]
        out.attrs = {**df.attrs, "source": self.label}
        return out

    def fetch_page(self, symbol, interval, start_ms, end_ms):
        with self._lock:
            n = len(self.calls)
            self.calls.append((symbol, interval, int(start_ms), int(end_ms), n))
        self.stats.add(requests=1)
        if self.on_fetch is not None:
            self.on_fetch(n)
        if symbol in self.unknown:
            raise UnknownSymbolError(f"Unknown coin: {symbol}", symbol)
        s = max(int(start_ms), self.earliest(symbol, interval))
        df = self.truth(symbol, interval, s, max(int(end_ms), s + 1))
        df = df[df.index.asi8 < end_ms].iloc[: self.page_limit]
        if n in self.empty_calls:
            df = df.iloc[:0]
        df.attrs = {"symbol": symbol, "interval": interval, "alignment": "hyperliquid",
                    "source": self.label}
        return Page(symbol=symbol, interval=interval, start_ms=int(start_ms),
                    end_ms=int(end_ms), frame=df, records=len(df),
                    full=len(df) >= self.page_limit, requests=1, server_now_ms=self.now)


def stored(store, symbol, interval, label="fake"):
    return store.read(symbol, interval, source=label)


def assert_same(store_df, truth):
    pd.testing.assert_index_equal(store_df.index, truth.index)
    pd.testing.assert_frame_equal(store_df.drop(columns="closed"),
                                  truth.drop(columns="closed"), check_like=True,
                                  check_freq=False)
    assert (store_df["closed"] == truth["closed"]).all()


@pytest.fixture
def store(tmp_path):
    return Store(tmp_path / "store")


def test_backfill_writes_exactly_the_truth_and_records_the_task(store):
    src = FakeSource(page_limit=700)
    start = "2026-10-09"
    task = backfill(["BTC", "ETH"], ["1m", "1h"], start=start, source=src, store=store,
                    progress=False)
    st = task.status()
    assert st.status == "completed" and st.progress_pct == 100.0
    assert st.symbol == "BTC,ETH" and st.interval == "1m,1h" and task.id.startswith("bf-")
    total = 0
    for sym in ("BTC", "ETH"):
        for iv in ("1m", "1h"):
            truth = src.truth(sym, iv, start, NOW + M)
            assert_same(stored(store, sym, iv), truth)
            total += len(truth)
            assert not truth["closed"].iloc[-1]  # the open candle is stored open
    assert st.candles_fetched == total
    assert st.requests == len(src.calls)
    assert [s["status"] for s in st.series] == ["completed"] * 4
    # pages: ceil(candles / limit) per series, plus nothing else
    n_1m = len(src.truth("BTC", "1m", start, NOW + M))
    assert len(src.calls) == 2 * (-(-n_1m // 700)) + 2


def test_rerun_fetches_only_new_candles_and_the_open_one(store):
    src = FakeSource()
    backfill("BTC", "1m", start="2026-10-10", source=src, store=store, progress=False)
    n_before = len(stored(store, "BTC", "1m"))
    src.now += 30 * M  # the clock moves on
    src.calls.clear()
    task = backfill("BTC", "1m", start="2026-10-10", source=src, store=store, progress=False)
    assert len(src.calls) == 1
    _, _, s, _, _ = src.calls[0]
    assert s == to_ms("2026-10-10T12:00Z")  # the formerly open candle, fetched again
    assert task.status().candles_fetched == 31
    df = stored(store, "BTC", "1m")
    assert len(df) == n_before + 30
    assert_same(df, src.truth("BTC", "1m", "2026-10-10", src.now + M))


def test_nothing_to_fetch_is_completed_with_a_note(store):
    src = FakeSource()
    end = "2026-10-10T06:00Z"
    backfill("BTC", "1h", start="2026-10-10", end=end, source=src, store=store, progress=False)
    src.calls.clear()
    st = backfill("BTC", "1h", start="2026-10-10", end=end, source=src, store=store,
                  progress=False).status()
    assert src.calls == [] and st.status == "completed" and "up to date" in st.note
    st = backfill("BTC", "1h", start="2026-12-01", source=src, store=store,
                  progress=False).status()
    assert src.calls == [] and st.status == "completed"
    assert "nothing to fetch: the range starts after the server clock" in st.note


def test_retention_is_recorded_noted_and_never_requested_again(store):
    src = FakeSource(window=500, page_limit=300)
    start = "2026-10-09"
    st = backfill("SOL", "1m", start=start, source=src, store=store, progress=False).status()
    earliest = src.earliest("SOL", "1m")
    requested = (NOW // M * M + M - to_ms(start)) // M
    assert st.status == "completed"
    assert st.series[0]["earliest_available"] == pd.Timestamp(earliest, unit="ms", tz="UTC"
                                                               ).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert st.earliest_available == st.series[0]["earliest_available"]
    assert "keeps only the last" not in st.note  # window 500 != page limit
    assert "not available upstream" in st.note
    assert f"{requested - 500} candles requested before it were not fetched" in st.note
    assert st.series[0]["unavailable"] == requested - 500
    assert_same(stored(store, "SOL", "1m"), src.truth("SOL", "1m", earliest, NOW + M))
    # persisted per source, symbol and interval; a later run does not ask for it again
    reg = TaskRegistry(store.root)
    assert reg.availability("fake", "SOL", "1m")[0] == earliest
    src.calls.clear()
    src.now += 10 * M
    backfill("SOL", "1m", start=start, source=src, store=store, progress=False)
    assert [c[2] for c in src.calls] == [to_ms("2026-10-10T12:00Z")]


def test_retention_note_names_the_window_when_it_is_the_page_limit(store):
    src = FakeSource(window=5000)
    st = backfill("BTC", "1m", start="2026-09-01", source=src, store=store,
                  progress=False).status()
    when = pd.Timestamp(src.earliest("BTC", "1m"), unit="ms", tz="UTC")
    assert (f"fake keeps only the last 5000 1m candles: history before "
            f"{when.strftime('%Y-%m-%dT%H:%MZ')} is not available upstream") in st.note
    assert len(src.calls) == 1  # the first page said where the history starts
    assert len(stored(store, "BTC", "1m")) == 5000


def test_range_entirely_older_than_the_window_comes_back_empty(store):
    src = FakeSource(window=1000)
    st = backfill("ETH", "1m", start="2026-10-01", end="2026-10-02", source=src, store=store,
                  progress=False).status()
    assert st.status == "completed" and st.candles_fetched == 0
    assert st.series[0]["unavailable"] == 1440
    assert st.series[0]["earliest_available"] is not None
    # the empty answer was asked again once, widened to the clock: data resumes later
    assert len(src.calls) == 2 and src.calls[1][3] > to_ms("2026-10-02")
    src.calls.clear()
    backfill("ETH", "1m", start="2026-10-01", end="2026-10-02", source=src, store=store,
             progress=False)
    assert src.calls == []


def test_listing_time_limits_history(store):
    listed = "2026-10-10T06:00Z"
    src = FakeSource(listing={"NEW": listed})
    st = backfill("NEW", "1h", start="2026-10-01", source=src, store=store,
                  progress=False).status()
    assert st.series[0]["earliest_available"] == "2026-10-10T06:00:00Z"
    assert "has no NEW 1h candles before 2026-10-10T06:00Z" in st.note
    assert stored(store, "NEW", "1h").index[0] == pd.Timestamp(listed)


def test_outage_inside_history_is_recorded_and_reported(store):
    outage = ("2026-10-10T03:00Z", "2026-10-10T03:45Z")
    src = FakeSource(outages={"BTC": [outage]}, page_limit=200)
    st = backfill("BTC", "1m", start="2026-10-10", source=src, store=store,
                  progress=False).status()
    s = st.series[0]
    assert st.status == "completed" and s["confirmed_empty"] == 45
    assert s["empty_ranges"] == [["2026-10-10T03:00:00Z", "2026-10-10T03:45:00Z"]]
    assert "outage upstream" in st.note and "[2026-10-10T03:00Z, 2026-10-10T03:45Z)" in st.note
    assert s["earliest_available"] is None  # an outage is not retention
    assert_same(stored(store, "BTC", "1m"), src.truth("BTC", "1m", "2026-10-10", NOW + M))
    # a later run with a wider range does not ask for the outage again
    src.calls.clear()
    backfill("BTC", "1m", start="2026-10-09T23:00Z", source=src, store=store, progress=False)
    for _, _, a, b, _ in src.calls:
        assert b <= to_ms(outage[0]) or a >= to_ms(outage[1])


def test_outage_at_the_start_of_a_gap_is_told_apart_from_retention(store):
    src = FakeSource(page_limit=5000)
    backfill("BTC", "1m", start="2026-10-10", end="2026-10-10T02:00Z", source=src,
             store=store, progress=False)
    src.outages = {"BTC": [(to_ms("2026-10-10T02:00Z"), to_ms("2026-10-10T02:30Z"))]}
    st = backfill("BTC", "1m", start="2026-10-10", end="2026-10-10T04:00Z", source=src,
                  store=store, progress=False).status()
    s = st.series[0]
    assert s["earliest_available"] is None and s["confirmed_empty"] == 30


def test_a_glitchy_empty_answer_is_asked_again_not_believed(store):
    src = FakeSource(empty_calls={0, 2})
    backfill("BTC", "5m", start="2026-10-09", source=src, store=store, progress=False)
    assert_same(stored(store, "BTC", "5m"), src.truth("BTC", "5m", "2026-10-09", NOW + M))
    reg = TaskRegistry(store.root)
    assert reg.availability("fake", "BTC", "5m") == (None, [])
    assert src.stats.retries >= 1


def test_unknown_coin_fails_the_task_and_writes_nothing(store):
    src = FakeSource(unknown={"NOPE"})
    with pytest.raises(UnknownSymbolError, match="NOPE"):
        backfill(["BTC", "NOPE"], "1m", start="2026-10-10", source=src, store=store,
                 progress=False)
    assert store.series() == []
    st = TaskRegistry(store.root).statuses()[0]
    assert st.status == "failed" and "NOPE" in st.error


def test_only_gaps_fetches_just_the_gaps(store):
    src = FakeSource()
    truth = src.truth("BTC", "1m", "2026-10-10T01:00Z", "2026-10-10T05:00Z")
    holed = truth.drop(truth.index[[10, 11, 12, 100, 200]])
    holed.attrs = dict(truth.attrs)
    store.write(holed)
    task = backfill("BTC", "1m", start="2026-10-10", source=src, store=store, only_gaps=True,
                    progress=False)
    # each gap is asked with the stored candle after it, so an answer shows both sides
    assert sorted((c[2], c[3]) for c in src.calls) == [
        (int(truth.index[i].value // 10**6), int(truth.index[j].value // 10**6) + 2 * M)
        for i, j in ((10, 12), (100, 100), (200, 200))]
    assert task.status().candles_fetched == 5
    assert_same(stored(store, "BTC", "1m"), truth)


def test_background_task_can_be_cancelled_and_resumed(store):
    src = FakeSource(page_limit=100)
    started = threading.Event()
    release = threading.Event()

    def slow(n):
        if n == 3:
            started.set()
            release.wait(10)

    src.on_fetch = slow
    task = backfill("BTC", "1m", start="2026-10-10", source=src, store=store,
                    background=True, progress=False)
    assert started.wait(10)
    assert task.status().status == "running" and not task.done
    task.cancel()
    release.set()
    st = task.wait(timeout=30)
    assert st.status == "cancelled" and task.done
    n = len(stored(store, "BTC", "1m"))
    assert 0 < n < 700  # it stopped between pages, keeping what it wrote
    src.on_fetch = None
    st = resume(task.id, store=store, source=src, progress=False).status()
    assert st.status == "completed" and st.progress_pct == 100.0
    assert_same(stored(store, "BTC", "1m"), src.truth("BTC", "1m", "2026-10-10", NOW + M))


def test_background_failure_is_recorded_and_reraised_by_wait(store):
    src = FakeSource(unknown={"NOPE"})
    task = backfill("NOPE", "1h", start="2026-10-10", source=src, store=store,
                    background=True, progress=False)
    with pytest.raises(UnknownSymbolError):
        task.wait(timeout=30)
    assert task.status().status == "failed" and isinstance(task.error, UnknownSymbolError)
    assert "failed" in repr(task) and "failed" in task._repr_html_()


def test_delete_keeps_the_data(store):
    src = FakeSource()
    task = backfill("BTC", "1h", start="2026-10-09", source=src, store=store, progress=False)
    before = stored(store, "BTC", "1h")
    TaskRegistry(store.root).delete(task.id)
    pd.testing.assert_frame_equal(stored(store, "BTC", "1h"), before)
    assert TaskRegistry(store.root).list().empty


def test_two_concurrent_backfills_of_one_series(store):
    src_a, src_b = FakeSource(page_limit=300), FakeSource(page_limit=250)
    tasks = [backfill("BTC", "1m", start="2026-10-09T12:00Z", source=s, store=store,
                      background=True, progress=False) for s in (src_a, src_b)]
    for t in tasks:
        assert t.wait(timeout=60).status == "completed"
    assert_same(stored(store, "BTC", "1m"),
                src_a.truth("BTC", "1m", "2026-10-09T12:00Z", NOW + M))


def test_task_handle_repr_and_html(store):
    src = FakeSource()
    task = backfill("BTC", "1h", start="2026-10-10", source=src, store=store, progress=False)
    text = repr(task)
    assert task.id in text and "completed" in text and "100.0%" in text
    page = task._repr_html_()
    assert "<progress" in page and "BTC" in page and task.id in page
    again = Task.open(task.id, store=store)
    assert again.done and again.wait().status == "completed"


def test_progress_bar_counts_buckets(store, capsys):
    src = FakeSource(page_limit=200)
    backfill("BTC", "1m", start="2026-10-10T08:00Z", source=src, store=store, progress=True)
    err = capsys.readouterr().err
    assert "backfill bf-" in err and "BTC 1m" in err and "241/241" in err


def test_progress_bar_counts_candles_fetched_not_candles_unavailable(store, capsys):
    src = FakeSource(window=500, page_limit=300)
    backfill("BTC", "1m", start="2026-09-01", source=src, store=store, progress=True)
    err = capsys.readouterr().err
    final = err.replace("\r", "\n").strip().splitlines()[-1]
    # ~56,000 buckets requested, 500 available: the bar counts the 500 candles fetched
    # (it never jumps to 99% on candles found unavailable) and ends at 500/500
    assert "500/500" in final and "100%" in final
    counts = [int(n) for n in re.findall(r"(\d+)/\d+ \[", err)]
    assert counts and max(counts) == 500


def test_ctrl_c_cancels_the_task_and_propagates(store):
    src = FakeSource(page_limit=100)

    def interrupt(n):
        if n == 2:
            raise KeyboardInterrupt

    src.on_fetch = interrupt
    with pytest.raises(KeyboardInterrupt):
        backfill("BTC", "1m", start="2026-10-10", source=src, store=store, progress=False)
    (st,) = TaskRegistry(store.root).statuses()
    assert st.status == "cancelled" and "Ctrl-C" in st.note


def test_deleting_a_running_task_stops_it_and_keeps_its_candles(store):
    src = FakeSource(page_limit=100)
    reg = TaskRegistry(store.root)
    deleted = threading.Event()

    def delete_once(n):
        if n == 3 and not deleted.is_set():
            reg.delete(reg.statuses()[0].id)
            deleted.set()

    src.on_fetch = delete_once
    task = backfill("BTC", "1m", start="2026-10-10", source=src, store=store,
                    background=True, progress=False)
    task._thread.join(30)
    assert deleted.is_set() and not task._thread.is_alive()
    assert isinstance(task.error, TaskDeletedError)
    assert f"task {task.id} was deleted while running" in str(task.error)
    with pytest.raises(TaskDeletedError, match="was deleted while running"):
        task.status()  # says so, not "No backfill task"
    assert reg.list().empty
    n = len(stored(store, "BTC", "1m"))
    assert 0 < n < 700 and f"the {n} candles it wrote stay in the store" in str(task.error)


def test_deleting_a_foreground_task_raises_that_it_was_deleted(store):
    src = FakeSource(page_limit=100)
    reg = TaskRegistry(store.root)

    def delete_once(n):
        if n == 2:
            reg.delete(reg.statuses()[0].id)

    src.on_fetch = delete_once
    with pytest.raises(TaskDeletedError, match=r"task bf-\w+ was deleted while running"):
        backfill("BTC", "1m", start="2026-10-10", source=src, store=store, progress=False)
    assert len(stored(store, "BTC", "1m")) > 0


class RepeatingSource(FakeSource):
    """An upstream that repeats 10 records inside each full page (the client dedupes them):
    the page has the maximum number of records but fewer candles."""

    def fetch_page(self, symbol, interval, start_ms, end_ms):
        page = super().fetch_page(symbol, interval, start_ms, end_ms)
        if not page.full:
            return page
        frame = page.frame.iloc[:-10]
        frame.attrs = dict(page.frame.attrs)
        return Page(symbol=page.symbol, interval=page.interval, start_ms=page.start_ms,
                    end_ms=page.end_ms, frame=frame, records=self.page_limit, full=True,
                    requests=1, server_now_ms=page.server_now_ms)


def test_a_full_page_of_repeated_records_is_not_taken_for_the_end(store):
    src = RepeatingSource(page_limit=500)
    backfill("BTC", "1m", start="2026-10-09", source=src, store=store, progress=False)
    assert_same(stored(store, "BTC", "1m"), src.truth("BTC", "1m", "2026-10-09", NOW + M))
