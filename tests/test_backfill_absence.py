"""Empty answers are not proof of absence (issue 8, section 1).

Against the emulator answering ``[]`` at rates from 0.2 to 1.0: after a run the store
equals the emulator's truth, or the task says it is incomplete (``partial``, exit code 1
from the CLI) and nothing wrong is stored or recorded; after a healthy rerun the store
always equals the truth. Then: the old data-loss path through ``earliest_available``,
registries written by an older candlekit, and re-checks of recorded empty ranges.
"""

from __future__ import annotations

import sqlite3

import pandas as pd
import pytest
from test_backfill_runner import NOW as FAKE_NOW
from test_backfill_runner import FakeSource, assert_same, stored

from candlekit.backfill import TaskRegistry, backfill, runner
from candlekit.backfill.registry import RECHECK_FIRST_MS
from candlekit.cli import main
from candlekit.emulator import Emulator, Faults
from candlekit.sources import Hyperliquid
from candlekit.store import Store
from candlekit.timeutil import to_ms

NOW = "2026-11-01T00:00:30Z"
START = "2026-10-22"
SERIES = (("BTC", "1h"), ("ETH", "15m"), ("SOL", "4h"))
M = 60_000


def client(emu):
    return Hyperliquid(emu.url, weight_budget=10**9, backoff_factor=0.001, backoff_max=0.01,
                       max_retries=2)


def seed_with_holes(store, emu):
    """Store the truth with a few holes, so that the plan has several gap ranges."""
    for sym, iv in SERIES:
        truth = emu.truth(sym, iv, max(to_ms(START), emu.earliest(sym, iv)), "2026-10-30")
        holed = truth.drop(truth.index[[3, 4, 20, len(truth) // 2, len(truth) - 5]])
        holed.attrs = dict(truth.attrs)
        store.write(holed)


def expected(emu, sym, iv):
    return emu.truth(sym, iv, max(to_ms(START), emu.earliest(sym, iv)), emu.now_ms + 1)


def check_exact(store, emu):
    for sym, iv in SERIES:
        df = store.read(sym, iv, source="emulator")
        truth = expected(emu, sym, iv)
        pd.testing.assert_index_equal(df.index, truth.index)
        closed = truth["closed"].to_numpy()
        pd.testing.assert_frame_equal(df[closed], truth[closed], check_freq=False)


def check_nothing_wrong(store, emu, reg):
    """Every stored candle is true; no absence was recorded (the emulator has no
    outages) and no boundary was moved past the truth."""
    for sym, iv in SERIES:
        df = store.read(sym, iv, source="emulator")
        truth = emu.truth(sym, iv, "2026-10-20", emu.now_ms + 1)
        assert df.index.isin(truth.index).all()
        closed = df["closed"].to_numpy()
        pd.testing.assert_frame_equal(df[closed], truth.loc[df.index][closed],
                                      check_freq=False)
        earliest, ranges = reg.availability("emulator", sym, iv)
        assert ranges == []
        assert earliest is None or earliest <= emu.earliest(sym, iv)


@pytest.mark.parametrize("rate, seed", [(0.2, 1), (0.5, 2), (0.5, 3), (0.8, 4), (1.0, 5)])
def test_empty_answers_never_lose_candles(tmp_path, rate, seed):
    store = Store(tmp_path)
    reg = TaskRegistry(store.root)
    with Emulator(now=NOW, budget=None, window=600, faults=Faults(empty=rate),
                  fault_seed=seed) as emu:
        seed_with_holes(store, emu)
        src = client(emu)
        symbols = [s for s, _ in SERIES]
        for sym, iv in SERIES:
            st = backfill(sym, iv, start=START, source=src, store=store, progress=False).status()
            assert st.status in ("completed", "partial")
            if st.status == "partial":
                assert "INCOMPLETE" in st.note and "tasks resume" in st.note
                assert st.series[0]["status"] == "partial"
        check_nothing_wrong(store, emu, reg)
        statuses = {s.status for s in reg.statuses()}
        if statuses == {"completed"}:
            check_exact(store, emu)
        if rate == 1.0:
            assert statuses == {"partial"}  # nothing came: it says so, never "completed"

        emu.faults = None  # a healthy upstream: the rerun gets everything
        for sym, iv in SERIES:
            st = backfill(sym, iv, start=START, source=src, store=store, progress=False).status()
            assert st.status == "completed", st.note
        check_exact(store, emu)
        check_nothing_wrong(store, emu, reg)
        assert symbols  # every series checked above


def test_cli_exits_1_while_incomplete_then_0_with_the_truth(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(runner, "backoff_delay", lambda *a, **k: 0.0)  # keep it fast
    store = Store(tmp_path)
    with Emulator(now=NOW, budget=None, faults=Faults(empty=1.0)) as emu:
        args = ["backfill", "BTC", "-i", "1h", "--start", START, "--source", "emulator",
                "--base-url", emu.url, "--data", str(tmp_path)]
        assert main(args) == 1
        out = capsys.readouterr()
        assert "partial" in out.out and "INCOMPLETE" in out.out
        assert "every answer for [2026-10-22T00:00Z, 2026-11-01T01:00Z) was empty" in out.out
        emu.faults = None
        assert main(args) == 0
        out = capsys.readouterr()
        assert "completed" in out.out and "INCOMPLETE" not in out.out
        truth = emu.truth("BTC", "1h", START, emu.now_ms + 1)
        pd.testing.assert_index_equal(store.read("BTC", "1h", source="emulator").index,
                                      truth.index)


class FlakySource(FakeSource):
    """A :class:`FakeSource` that answers ``[]`` to every request overlapping
    ``empty_window`` while ``flaky`` is set (an upstream under load)."""

    empty_window = (0, 0)
    flaky = True

    def fetch_page(self, symbol, interval, start_ms, end_ms):
        page = super().fetch_page(symbol, interval, start_ms, end_ms)
        a, b = self.empty_window
        if self.flaky and start_ms < b and end_ms > a and len(page.frame):
            frame = page.frame.iloc[:0]
            frame.attrs = dict(page.frame.attrs)
            page = type(page)(symbol=page.symbol, interval=page.interval,
                              start_ms=page.start_ms, end_ms=page.end_ms, frame=frame,
                              records=0, full=False, requests=1,
                              server_now_ms=page.server_now_ms)
        return page


def test_empty_answers_cannot_move_the_start_of_history_forward(tmp_path):
    """Two gaps: every answer for the first is empty, and the second starts with an outage
    whose bridge request is empty too. Before the fix the second gap recorded
    ``earliest_available`` after the first, which was then never asked for again."""
    store = Store(tmp_path)
    outage = ("2026-10-10T04:00Z", "2026-10-10T04:30Z")
    src = FlakySource(outages={"BTC": [outage]})
    truth = src.truth("BTC", "1m", "2026-10-10", "2026-10-10T05:00Z")
    keep = ~((truth.index >= "2026-10-10T02:00Z") & (truth.index < "2026-10-10T03:00Z"))
    keep &= truth.index < "2026-10-10T04:00Z"
    seeded = truth[keep]
    seeded.attrs = dict(truth.attrs)
    store.write(seeded)
    src.empty_window = (to_ms("2026-10-10T01:59Z"), to_ms("2026-10-10T03:01Z"))
    st = backfill("BTC", "1m", start="2026-10-10", source=src, store=store,
                  progress=False).status()
    assert st.status == "partial"
    assert "[2026-10-10T02:00Z, 2026-10-10T03:00Z)" in st.note
    reg = TaskRegistry(store.root)
    assert reg.availability("fake", "BTC", "1m")[0] is None  # no boundary from empties
    assert reg.availability("fake", "BTC", "1m")[1] == [(to_ms(outage[0]), to_ms(outage[1]))]

    src.flaky = False
    st = backfill("BTC", "1m", start="2026-10-10", source=src, store=store,
                  progress=False).status()
    assert st.status == "completed" and "INCOMPLETE" not in st.note
    assert_same(stored(store, "BTC", "1m"), src.truth("BTC", "1m", "2026-10-10",
                                                      FAKE_NOW + M))
    assert reg.availability("fake", "BTC", "1m")[0] is None


def test_old_registries_are_not_trusted(tmp_path):
    """A schema-1 registry recorded ranges as empty after a few empty answers and moved
    the start of history on them: the next run asks for those ranges again."""
    store = Store(tmp_path)
    src = FakeSource()
    backfill("BTC", "1h", start="2026-10-09", end="2026-10-09T06:00Z", source=src,
             store=store, progress=False)
    reg = TaskRegistry(store.root)
    with sqlite3.connect(reg.path) as con:  # what candlekit 1 left behind
        con.execute("DROP TABLE availability")
        con.execute("DROP TABLE empty_ranges")
        con.execute("CREATE TABLE availability (source TEXT NOT NULL, symbol TEXT NOT NULL, "
                    "interval TEXT NOT NULL, earliest_available INTEGER NOT NULL, "
                    "observed_ms INTEGER NOT NULL, PRIMARY KEY (source, symbol, interval))")
        con.execute("CREATE TABLE empty_ranges (source TEXT NOT NULL, symbol TEXT NOT NULL, "
                    "interval TEXT NOT NULL, start_ms INTEGER NOT NULL, end_ms INTEGER NOT "
                    "NULL, observed_ms INTEGER NOT NULL, PRIMARY KEY (source, symbol, "
                    "interval, start_ms))")
        con.execute("INSERT INTO availability VALUES ('fake', 'ETH', '1h', ?, 0)",
                    (to_ms("2026-10-10T06:00Z"),))
        con.execute("INSERT INTO empty_ranges VALUES ('fake', 'BTC', '1h', ?, ?, 0)",
                    (to_ms("2026-10-09T10:00Z"), to_ms("2026-10-10T02:00Z")))
        con.execute("PRAGMA user_version=1")
    con.close()
    reg = TaskRegistry(store.root)  # a new process: migrates on first use
    assert reg.availability("fake", "BTC", "1h") == (None, [])
    assert reg.availability("fake", "ETH", "1h") == (None, [])
    st = backfill(["BTC", "ETH"], "1h", start="2026-10-09", source=src, store=store,
                  progress=False).status()
    assert st.status == "completed"
    for sym in ("BTC", "ETH"):
        assert_same(stored(store, sym, "1h"), src.truth(sym, "1h", "2026-10-09",
                                                        FAKE_NOW + M))
    rec = reg.availability_record("fake", "BTC", "1h")
    assert rec.ranges == []  # the untrusted record was replaced by what the answers showed


def test_recorded_empty_ranges_are_checked_again_later(tmp_path):
    store = Store(tmp_path)
    outage = ("2026-10-10T03:00Z", "2026-10-10T03:30Z")
    src = FakeSource(outages={"BTC": [outage]})
    st = backfill("BTC", "1m", start="2026-10-10", source=src, store=store,
                  progress=False).status()
    assert st.series[0]["confirmed_empty"] == 30
    src.outages = {}  # the upstream published the candles late
    src.calls.clear()
    backfill("BTC", "1m", start="2026-10-10", source=src, store=store, progress=False)
    assert all(c[3] <= to_ms(outage[0]) or c[2] >= to_ms(outage[1]) for c in src.calls)
    src.now += RECHECK_FIRST_MS  # the record is due: one request spanning it
    src.calls.clear()
    st = backfill("BTC", "1m", start="2026-10-10", source=src, store=store,
                  progress=False).status()
    spanning = [c for c in src.calls if c[2] < to_ms(outage[0]) and c[3] > to_ms(outage[1])]
    assert len(spanning) == 1
    assert "re-checked recorded empty ranges" in st.note and "30 candles found" in st.note
    assert_same(stored(store, "BTC", "1m"), src.truth("BTC", "1m", "2026-10-10",
                                                      src.now + M))
    assert TaskRegistry(store.root).availability("fake", "BTC", "1m") == (None, [])


def test_a_confirmed_outage_rechecked_stays_recorded_and_waits_longer(tmp_path):
    store = Store(tmp_path)
    outage = ("2026-10-10T03:00Z", "2026-10-10T03:30Z")
    src = FakeSource(outages={"BTC": [outage]})
    backfill("BTC", "1m", start="2026-10-10", source=src, store=store, progress=False)
    reg = TaskRegistry(store.root)
    (first,) = reg.availability_record("fake", "BTC", "1m").ranges
    src.now += RECHECK_FIRST_MS
    st = backfill("BTC", "1m", start="2026-10-10", source=src, store=store,
                  progress=False).status()
    assert "still empty" in st.note and st.status == "completed"
    (again,) = reg.availability_record("fake", "BTC", "1m").ranges
    assert (again.start, again.end, again.checks) == (first.start, first.end, 1)
    assert again.next_check_ms == src.now + 2 * RECHECK_FIRST_MS


def test_recheck_clears_records_from_the_cli_and_the_backfill_option(tmp_path, capsys):
    store = Store(tmp_path)
    outage = ("2026-10-10T03:00Z", "2026-10-10T03:30Z")
    src = FakeSource(outages={"BTC": [outage]}, window=600)
    task = backfill("BTC", "1m", start="2026-10-10", source=src, store=store, progress=False)
    reg = TaskRegistry(store.root)
    assert reg.availability("fake", "BTC", "1m")[0] is not None
    assert main(["tasks", "recheck", task.id, "--data", str(tmp_path)]) == 0
    assert "forgot 1 earliest-available" in capsys.readouterr().out
    assert reg.availability("fake", "BTC", "1m") == (None, [])

    src = FakeSource(outages={"BTC": [outage]})
    backfill("BTC", "1m", start="2026-10-10", source=src, store=store, progress=False)
    assert reg.availability("fake", "BTC", "1m")[1]
    src.outages = {}
    st = backfill("BTC", "1m", start="2026-10-10", source=src, store=store, recheck=True,
                  progress=False).status()
    assert st.status == "completed"
    assert_same(stored(store, "BTC", "1m"), src.truth("BTC", "1m", "2026-10-10",
                                                      src.now + M))


def test_a_wrong_start_of_history_is_found_by_the_recheck(tmp_path):
    store = Store(tmp_path)
    src = FakeSource(window=300)
    backfill("BTC", "1h", start="2026-09-01", source=src, store=store, progress=False)
    reg = TaskRegistry(store.root)
    boundary = reg.availability("fake", "BTC", "1h")[0]
    assert boundary == src.earliest("BTC", "1h")
    src.window = 5000  # the upstream serves more history now
    src.now += RECHECK_FIRST_MS
    st = backfill("BTC", "1h", start="2026-09-01", source=src, store=store,
                  progress=False).status()
    assert "before the recorded start of history" in st.note
    assert_same(stored(store, "BTC", "1h"), src.truth("BTC", "1h", "2026-09-01",
                                                      src.now + M))
