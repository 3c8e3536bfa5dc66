"""run_analysis, the recorded history, and grading recorded calls against the store."""

from __future__ import annotations

import math
import re
import shutil

import numpy as np
import pandas as pd
import pytest

import candlekit as ck
from candlekit.analysis import analyze
from candlekit.analysis.api import DEFAULT_LOOKBACK, load_candles, plan_series, wait_analysis
from candlekit.analysis.llm import LLM
from candlekit.analysis.llmstub import LLMStub
from candlekit.analysis.model import Analysis, Call
from candlekit.analysis.registry import AnalysisRegistry
from candlekit.errors import AnalysisError, AnalysisNotFoundError, SeriesNotFoundError
from candlekit.frame import make_frame
from candlekit.resample import resample
from candlekit.store import Store
from candlekit.synthetic import synthetic_candles

AS_OF = "2026-04-20T12:00Z"


@pytest.fixture(scope="module")
def filled(tmp_path_factory):
    """BTC 1h (2,900 synthetic candles) and 1d; ETH 1h and a 4h with one tampered candle."""
    root = tmp_path_factory.mktemp("analysis-store")
    st = Store(root)
    btc = synthetic_candles("BTC", "1h", "2026-01-01", "2026-05-01", seed=7)
    st.write(btc)
    st.write(synthetic_candles("BTC", "1d", "2025-01-01", "2026-05-01", seed=7))
    eth = synthetic_candles("ETH", "1h", "2026-01-01", "2026-05-01", seed=8)
    st.write(eth)
    four = resample(eth, "4h").drop(columns=["constituents", "expected_constituents"])
    four.loc[pd.Timestamp("2026-04-10T08:00Z"), "high"] += 5.0  # disagrees with its 1h
    st.write(four)
    return root


@pytest.fixture()
def store(filled, tmp_path):
    root = tmp_path / "store"
    shutil.copytree(filled, root)
    return Store(root)


def _same(a: Analysis, b: Analysis) -> None:
    assert a.facts == b.facts
    assert a.text == b.text
    assert a.call == b.call and a.caveats == b.caveats and a.sections == b.sections


def test_a_recorded_analysis_equals_analyze_on_the_whole_series(store):
    a = ck.run_analysis("BTC", "1h", store=store, as_of=AS_OF, prompt="levels")
    assert re.fullmatch(r"an-[0-9a-f]{8}", a.id) and a.status == "completed"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z", a.created_at)
    assert a.as_of == "2026-04-20T11:59:59.999Z" and a.source == "synthetic" and a.synthetic
    whole = store.read("BTC", "1h")
    _same(a, analyze(whole, as_of=AS_OF, prompt="levels", lookback=DEFAULT_LOOKBACK))
    assert a.facts["bars_used"] == DEFAULT_LOOKBACK
    recorded = ck.get_analysis(a.id, store)
    assert recorded.to_dict() == a.to_dict()
    d = recorded.to_dict()
    assert {k: d[k] for k in ("id", "symbol", "status", "analysis", "created_at")} == {
        "id": a.id, "symbol": "BTC", "status": "completed", "analysis": a.text,
        "created_at": a.created_at}
    assert AnalysisRegistry(store).request(a.id)["lookback"] == DEFAULT_LOOKBACK


def test_gaps_inside_the_lookback_widen_the_read_as_analyze_would(tmp_path):
    st = Store(tmp_path / "gappy")
    df = synthetic_candles("BTC", "1h", "2026-01-01", "2026-05-01", seed=7)
    attrs = dict(df.attrs)
    holey = df[(df.index < "2026-03-01") | (df.index >= "2026-03-25")]  # 576 candles missing
    holey.attrs = attrs
    st.write(holey)
    a = ck.run_analysis("BTC", "1h", store=st, as_of=AS_OF, lookback=1500)
    assert a.facts["bars_used"] == 1500 and a.facts["missing_candles"] == 576
    _same(a, analyze(st.read("BTC", "1h"), as_of=AS_OF, lookback=1500))
    b = ck.run_analysis("BTC", "4h", store=st, as_of=AS_OF, lookback=400)  # resampled
    assert b.facts["bars_used"] == 400 and b.facts["gaps"] == 1


def test_the_latest_candles_and_an_open_last_candle(store):
    df = store.read("BTC", "1h")
    open_last = df.iloc[[-1]].copy()
    open_last.index = (open_last.index + pd.Timedelta(hours=1)).as_unit("ms")
    open_last["closed"] = False
    open_last.attrs = dict(df.attrs)
    store.write(open_last)
    a = ck.run_analysis("BTC", "1h", store=store, lookback=300)
    assert a.as_of == "2026-04-30T23:59:59.999Z"  # the open candle never enters
    assert a.facts["open_candles_left_out"] == 1
    assert a.facts["bars_used"] == 300
    _same(a, analyze(store.read("BTC", "1h"), lookback=300))


def test_an_interval_not_stored_is_resampled_from_a_finer_stored_one(store):
    plan = plan_series(store, "BTC", "4h")
    assert (plan.base, plan.finer, plan.resampled) == ("1h", None, True)
    a = ck.run_analysis("BTC", "4h", store=store, as_of=AS_OF, lookback=400)
    assert a.interval == "4h" and a.facts["interval"] == "4h"
    fine = store.read("BTC", "1h")
    four = resample(fine, "4h")
    four = four[four["constituents"] == four["expected_constituents"]].drop(
        columns=["constituents", "expected_constituents"])
    four.attrs = dict(fine.attrs, interval="4h", resampled_from="1h")
    _same(a, analyze(four, as_of=AS_OF, lookback=400))
    assert any("resampled from" in c and "1h" in c for c in a.caveats)
    df = load_candles("BTC", "4h", store=store, as_of=AS_OF, bars=50)
    assert df.attrs["resampled_from"] == "1h" and df.attrs["interval"] == "4h"
    # the bucket opening at as_of closes after it: read, but left out by the analysis
    assert df.index[-1] == pd.Timestamp(AS_OF)
    assert a.as_of == "2026-04-20T11:59:59.999Z" and a.facts["open_candles_left_out"] == 1


def test_stored_coarse_candles_are_crosschecked_against_the_finer_ones(store):
    assert plan_series(store, "ETH", "4h").finer == "1h"
    a = ck.run_analysis("ETH", "4h", store=store, as_of=AS_OF)
    assert a.facts["crosscheck_disagreeing"] == 1
    assert any("disagree" in c and "high" in c for c in a.caveats)
    assert any("disagree" in line for line in a.text.splitlines())


def test_unknown_series_raise_the_stores_error_and_record_nothing(store):
    with pytest.raises(SeriesNotFoundError, match="No DOGE 1h candles"):
        ck.run_analysis("DOGE", "1h", store=store)
    with pytest.raises(SeriesNotFoundError, match="no stored finer interval tiles 15m"):
        ck.run_analysis("ETH", "15m", store=store)
    assert ck.analyses(store).empty


def test_a_failed_analysis_is_recorded_failed_with_the_error(store):
    with pytest.raises(AnalysisError, match="closed candle"):
        ck.run_analysis("BTC", "1h", store=store, as_of="2026-01-01T10:00Z")
    (row,) = ck.analyses(store).itertuples()
    assert row.status == "failed" and row.error.startswith("AnalysisError: Only 10 closed")


def test_background_analyses_finish_or_fail_in_a_worker(store):
    running = ck.run_analysis("BTC", "1h", store=store, as_of=AS_OF, background=True)
    assert running.status == "running" and running.call is None and running.id
    done = wait_analysis(running.id, store=store, timeout=60)
    assert done.status == "completed" and done.call is not None
    assert done.created_at == running.created_at
    bad = ck.run_analysis("BTC", "1h", store=store, as_of="2025-06-01", background=True)
    failed = wait_analysis(bad.id, store=store, timeout=60)
    assert failed.status == "failed" and "starts later" in failed.error


def test_the_history_show_and_delete(store):
    first = ck.run_analysis("BTC", "1h", store=store, as_of=AS_OF, lookback=200)
    second = ck.run_analysis("BTC", "1d", store=store, prompt="trend", lookback=200)
    table = ck.analyses(store)
    assert list(table["id"]) == [second.id, first.id]
    assert {"id", "symbol", "interval", "status", "created_at", "as_of", "prompt", "model",
            "direction", "p_up"} <= set(table.columns)
    assert table.iloc[0]["prompt"] == "trend" and table.iloc[0]["direction"] == \
        second.call.direction
    assert math.isclose(table.iloc[1]["p_up"], first.call.p_up)
    ck.delete_analysis(first.id, store)
    assert list(ck.analyses(store)["id"]) == [second.id]
    with pytest.raises(AnalysisNotFoundError):
        ck.get_analysis(first.id, store)
    with pytest.raises(LookupError):
        ck.delete_analysis(first.id, store)


def test_the_model_path_is_recorded_and_its_cache_lives_in_the_store(store):
    with LLMStub("faithful") as stub:
        a = ck.run_analysis("BTC", "1h", store=store, as_of=AS_OF, llm=LLM(
            "stub", base_url=stub.url))
        b = ck.run_analysis("BTC", "1h", store=store, as_of=AS_OF, llm=LLM(
            "stub", base_url=stub.url))
        assert len(stub.requests) == 1
        stub.mode = "invented"
        c = ck.run_analysis("BTC", "1h", store=store, as_of=AS_OF, llm={
            "model": "stub-2", "base_url": stub.url})
    assert a.llm.accepted and not a.llm.cached and b.llm.cached and b.text == a.text
    assert not c.llm.accepted and c.llm.reason.startswith("the model wrote ")
    recorded = ck.get_analysis(c.id, store)
    assert recorded.llm == c.llm and recorded.model == "stub-2"
    assert recorded.text == analyze(store.read("BTC", "1h"), as_of=AS_OF,
                                    lookback=DEFAULT_LOOKBACK).text
    table = ck.analyses(store)
    assert list(table["model"]) == ["stub-2", "stub", "stub"]
    assert list(table["llm_accepted"]) == [False, True, True]
    assert len(AnalysisRegistry(store).cache()) == 2


# --- grading, on hand-computed cases -------------------------------------------------------

CLOSES = [100.0, 100.0, 103.0, 99.5, 100.5, 100.0, 102.0, None, 104.0, 105.0]  # None: a gap
T0 = pd.Timestamp("2026-10-01T00:00Z")


def _close_time(i: int) -> str:
    return (T0 + pd.Timedelta(hours=i + 1) - pd.Timedelta(milliseconds=1)).strftime(
        "%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@pytest.fixture()
def graded_store(tmp_path):
    st = Store(tmp_path / "grading")
    rows = [(T0 + pd.Timedelta(hours=i), c) for i, c in enumerate(CLOSES) if c is not None]
    t = [r[0] for r in rows]
    c = np.array([r[1] for r in rows])
    st.write(make_frame(t, c, c + 1, c - 1, c, np.ones(len(c)), symbol="TEST", interval="1h",
                        source="hyperliquid"))
    reg = AnalysisRegistry(st)
    ids = {}

    def record(name, i, direction, p_up, horizon, band=1.0):
        running = reg.create("TEST", "1h", source="hyperliquid")
        call = Call(direction, p_up, horizon, CLOSES[i], _close_time(i), band)
        reg.complete(Analysis("TEST", "1h", _close_time(i), facts={"close": CLOSES[i]},
                              text="t", call=call, id=running.id, source="hyperliquid"))
        ids[name] = running.id

    record("A", 0, "up", 0.6, 2)      # 100 -> 103: up by more than the band: a hit
    record("B", 1, "down", 0.3, 2)    # 100 -> 99.5: inside the band: flat, a miss
    record("C", 4, "flat", 0.5, 1)    # 100.5 -> 100: flat, a hit; not an up move
    record("D", 9, "up", 0.7, 3)      # target beyond the last candle: pending
    record("E", 5, "up", 0.55, 2)     # target candle 7 is a gap: missing
    record("F", 0, "up", 0.6, 2)      # the same call as A: counted once
    reg.fail(reg.create("TEST", "1h").id, "boom")  # failed and running ones have no call
    reg.create("TEST", "1h")
    return st, ids


def test_grading_arithmetic_on_hand_computed_calls(graded_store):
    st, ids = graded_store
    grades = ck.grade_analyses(st)
    calls = grades.calls.set_index("id")
    assert len(calls) == 6
    a, b, c = calls.loc[ids["A"]], calls.loc[ids["B"]], calls.loc[ids["C"]]
    assert (a["status"], a["outcome"], a["hit"], a["up"], a["target_close"]) == (
        "graded", "up", True, True, 103.0)
    assert a["realized_return"] == pytest.approx(0.03)
    assert (b["outcome"], b["hit"], b["up"]) == ("flat", False, False)
    assert b["realized_return"] == pytest.approx(-0.005)
    assert (c["outcome"], c["hit"], c["up"]) == ("flat", True, False)
    d, e, f = calls.loc[ids["D"]], calls.loc[ids["E"]], calls.loc[ids["F"]]
    assert d["status"] == "pending" and d["gradable_at"] == pd.Timestamp(_close_time(12))
    assert d["note"] == ("can be graded once the 1h candle closing at 2026-10-01T12:59:59.999Z "
                         "is stored and closed")
    assert e["status"] == "missing" and "missing from the store" in e["note"]
    assert f["duplicate_of"] == ids["A"] and f["note"] == f"the same call as {ids['A']} " \
        "(counted once)"
    s = grades.summary
    assert (s["n"], s["hits"], s["pending"], s["missing"], s["duplicates"]) == (3, 2, 1, 1, 1)
    assert s["hit_rate"] == pytest.approx(2 / 3)
    assert s["hit_rate_ci95"] == pytest.approx([0.2077, 0.9385], abs=1e-4)  # Wilson, z=1.96
    assert s["base_rate_up"] == pytest.approx(1 / 3)
    assert s["brier"] == pytest.approx((0.16 + 0.09 + 0.25) / 3)
    assert s["brier_base"] == pytest.approx(2 / 9)
    assert s["brier_skill"] == pytest.approx(0.25)
    assert s["mean_signed_return"] == pytest.approx((0.03 + 0.005) / 2)  # flat calls excluded
    assert s["synthetic"] is False
    (row,) = grades.by_series().to_dict(orient="records")
    assert (row["symbol"], row["n"], row["hits"], row["pending"], row["missing"]) == (
        "TEST", 3, 2, 1, 1)
    assert row["brier_skill"] == pytest.approx(0.25)
    assert row["hit_rate_lo"] == pytest.approx(0.2077, abs=1e-4)


def test_grading_an_empty_registry(tmp_path):
    grades = ck.grade_analyses(Store(tmp_path))
    assert grades.calls.empty and grades.summary["n"] == 0
    assert grades.summary["hit_rate"] is None and grades.summary["pending"] == 0
    assert grades.by_series().empty


def test_a_resampled_call_is_graded_against_resampled_closes(store):
    a = ck.run_analysis("BTC", "4h", store=store, as_of="2026-04-10T00:00Z", horizon=3,
                        lookback=300)
    (row,) = ck.grade_analyses(store).calls.itertuples()
    four = resample(store.read("BTC", "1h"), "4h")
    target_open = pd.Timestamp("2026-04-10T00:00Z") + pd.Timedelta(hours=8)
    assert row.status == "graded" and row.target_close == four.loc[target_open, "close"]
    assert row.realized_return == pytest.approx(row.target_close / a.call.reference_close - 1)
    assert ck.grade_analyses(store).summary["synthetic"] is True


@pytest.mark.shared
def test_real_candles_recorded_with_the_incident_crosschecked(freqtrade_dir, tmp_path):
    st = Store(tmp_path / "real")
    ck.import_freqtrade(freqtrade_dir, store=st, pairs="BTC", intervals=["1h", "4h"],
                        progress=False)
    a = ck.run_analysis("BTC", "4h", store=st, as_of="2025-04-25", lookback=500)
    assert not a.synthetic and a.source == "freqtrade"
    assert a.facts["crosscheck_disagreeing"] >= 1  # the 2025-04-20 restart at 84099
    assert any("disagree with the ones resampled from the stored 1h" in c for c in a.caveats)
    whole = st.read("BTC", "4h")
    _same(a, analyze(whole, as_of="2025-04-25", lookback=500, crosscheck=ck.crosscheck(
        st, "BTC", "1h", "4h", start=a.facts["first_bar"], end="2025-04-25T00:00Z")))
    assert ck.grade_analyses(st).calls.iloc[0]["status"] == "graded"
