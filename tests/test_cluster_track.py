"""track_record over a store: every stored series graded, one series per unit, in process
and on the session's 2-worker LocalCluster, each equal to track_record of the series'
frame (synthetic data, plus one real Hyperliquid series when ../shared is there)."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import candlekit as ck
from candlekit.analysis.call import MIN_BARS
from candlekit.cluster import TRACK_SUMMARY_COLUMNS, TrackRecords
from candlekit.cluster.track import KEY_COLUMNS

distributed = pytest.importorskip("distributed")

REAL_FILE = (Path(__file__).resolve().parents[2] / "shared" / "data" / "hyperliquid-freqtrade"
             / "BTC_USDC_USDC-1h-futures.feather")


def _drop(df: pd.DataFrame, start: str, end: str) -> pd.DataFrame:
    t = df.index
    out = df[~((t >= pd.Timestamp(start, tz="UTC")) & (t < pd.Timestamp(end, tz="UTC")))]
    out.attrs = dict(df.attrs)
    return out


def _relabel(df: pd.DataFrame, source: str) -> pd.DataFrame:
    out = df.copy()
    out.attrs = {**df.attrs, "source": source}
    return out


def _build(root) -> ck.Store:
    store = ck.Store(root)
    # 1h across the 2025 new year (two yearly files): ETH with a gap (targets missing),
    # @107 with open candles at the end
    for i, sym in enumerate(["BTC", "ETH", "xyz:NVDA", "@107", "SOL"]):
        df = ck.synthetic_candles(sym, "1h", "2024-12-20", "2025-01-08", seed=40 + i)
        if sym == "ETH":
            df = _drop(df, "2024-12-31T20:00", "2025-01-01T02:00")
        if sym == "@107":
            df = df.copy()
            df.iloc[-3:, df.columns.get_loc("closed")] = False
        store.write(df)
    # the same coin from a second (synthetic) source: two series, one symbol
    store.write(_relabel(ck.synthetic_candles("SOL", "1h", "2024-12-25", "2025-01-06",
                                              seed=50), "emulator"))
    # too short for any call (30 closed candles), and nothing closed at all
    store.write(ck.synthetic_candles("DOGE", "1h", "2025-01-01", "2025-01-02T06:00", seed=51))
    new = ck.synthetic_candles("NEW", "1h", "2025-01-07T20:00", "2025-01-08", seed=52).copy()
    new["closed"] = False
    store.write(new)
    # another interval, so that a selection of 1h leaves it out
    store.write(ck.synthetic_candles("BTC", "1d", "2024-06-01", "2025-01-01", seed=53))
    # real candles (source "freqtrade"), when the shared data is there
    if REAL_FILE.exists():
        real = ck.read_freqtrade(REAL_FILE)
        store.write(real[(real.index >= pd.Timestamp("2025-06-01", tz="UTC"))
                         & (real.index < pd.Timestamp("2025-06-20", tz="UTC"))])
    return store


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return _build(tmp_path_factory.mktemp("track-store"))


@pytest.fixture(scope="module")
def client(dask_client):
    """The session's 2-worker LocalCluster (tests/conftest.py)."""
    return dask_client


def _keys(store, interval="1h"):
    return sorted(store.series(interval=interval), key=lambda k: (k.symbol, k.source))


def _frame(store, key, end=None):
    return store.read(key.symbol, key.interval, end=end, source=key.source)


def _series_calls(trs: TrackRecords, key) -> pd.DataFrame:
    c = trs.calls
    mine = c[(c["symbol"] == key.symbol) & (c["source"] == key.source)]
    out = mine.drop(columns=list(KEY_COLUMNS)).reset_index(drop=True)
    out.attrs = {}
    return out


# (track_record options, the end of the candles the reference frame reads: with an end
# inside a candle, the candle that had not closed by then is left out)
OPTIONS = [
    ({}, None),
    ({"every": 4, "horizon": 3}, None),
    ({"start": "2025-01-03", "end": "2025-01-06T05:30"}, "2025-01-06T05:00"),
    ({"horizon": 12, "end": "2025-01-05"}, "2025-01-05"),
]


@pytest.mark.parametrize("kw,ref_end", OPTIONS)
def test_in_process_equals_track_record_of_each_series(store, kw, ref_end):
    """Each series' record, its rows of .calls and its summary row are exactly
    track_record() of the series' own frame."""
    got = ck.track_record(store, interval="1h", progress=False, **kw)
    assert isinstance(got, TrackRecords)
    keys = _keys(store)
    assert list(got.by_series) == keys
    one = {k: v for k, v in kw.items() if k != "end"}
    graded = 0
    for key in keys:
        frame = _frame(store, key, ref_end)
        rec = got.by_series[key]
        row = got.summary[(got.summary["symbol"] == key.symbol)
                          & (got.summary["source"] == key.source)].iloc[0]
        if not frame["closed"].any():          # track_record(frame) refuses it
            with pytest.raises(ck.AnalysisError):
                ck.track_record(frame, **one)
            assert len(rec.calls) == 0 and row["calls"] == 0
            continue
        want = ck.track_record(frame, **one)
        pd.testing.assert_frame_equal(rec.calls, want.calls, check_exact=True)
        assert rec.summary == want.summary
        mine = want.calls.copy()
        mine.attrs = {}
        pd.testing.assert_frame_equal(_series_calls(got, key), mine, check_exact=True,
                                      check_dtype=len(mine) > 0)  # no rows: no str inferred
        assert row["calls"] == len(want.calls)
        assert row["candles"] == int(frame["closed"].sum())
        for f in ("n", "hits", "pending", "missing", "horizon"):
            assert row[f] == want.summary[f], f
        for f in ("hit_rate", "base_rate_up", "brier", "brier_base", "brier_skill",
                  "mean_signed_return", "share_up", "share_down", "share_flat"):
            v = want.summary[f]
            assert (np.isnan(row[f]) if v is None else row[f] == v), f
        if want.summary["hit_rate_ci95"] is not None:
            assert [row["hit_rate_lo"], row["hit_rate_hi"]] == want.summary["hit_rate_ci95"]
        graded += want.summary["n"]
    assert graded > 0 and got.summary["n"].sum() == graded


@pytest.mark.parametrize("kw", [
    {}, {"every": 4, "horizon": 3}, {"start": "2025-01-03", "end": "2025-01-06T05:30"},
    {"symbols": ["SOL", "ETH", "DOGE"]}, {"source": "emulator"}, {"start": "2026-01-01"},
])
def test_cluster_equals_in_process(store, client, kw):
    """On the cluster every frame of the result equals the in-process one exactly."""
    want = ck.track_record(store, interval="1h", progress=False, **kw)
    got = ck.track_record(store, interval="1h", client=client, progress=False, **kw)
    pd.testing.assert_frame_equal(got.calls, want.calls, check_exact=True)
    pd.testing.assert_frame_equal(got.summary, want.summary, check_exact=True)
    assert got.calls.attrs == want.calls.attrs
    assert list(got.by_series) == list(want.by_series)
    for key, rec in want.by_series.items():
        pd.testing.assert_frame_equal(got.by_series[key].calls, rec.calls, check_exact=True)
        assert got.by_series[key].summary == rec.summary


def test_the_analysis_kernels_are_warm_on_every_worker(store, client):
    ck.track_record(store, interval="1h", symbols="BTC", client=client, progress=False)

    def signatures() -> int:
        import importlib

        ind = importlib.import_module("candlekit.analysis.indicators")
        call = importlib.import_module("candlekit.analysis.call")
        return min(len(ind._ema_kernel.signatures), len(ind._adx_kernel.signatures),
                   len(call._p_up_kernel.signatures))

    found = client.run(signatures)
    assert len(found) == 2 and all(n >= 1 for n in found.values())


def test_layout_and_order(store):
    got = ck.track_record(store, interval="1h", progress=False)
    c, s = got.calls, got.summary
    assert list(c.columns[:4]) == list(KEY_COLUMNS)
    assert list(c.columns[4:]) == list(got.by_series[_keys(store)[0]].calls.columns)
    assert isinstance(c.index, pd.RangeIndex)
    order = c.sort_values(["symbol", "time", "source"], kind="stable")
    assert np.array_equal(order.index.to_numpy(), np.arange(len(c)))
    assert (c["interval"] == "1h").all()
    assert list(s.columns) == list(TRACK_SUMMARY_COLUMNS)
    assert list(zip(s["symbol"], s["source"])) == [(k.symbol, k.source) for k in _keys(store)]
    assert s["n"].dtype == np.int64 and s["hit_rate"].dtype == np.float64
    assert str(s["first_as_of"].dtype) == "datetime64[ms, UTC]"
    ok = s[s["status"] == "ok"]
    for r in ok.itertuples(index=False):
        mine = c[(c["symbol"] == r.symbol) & (c["source"] == r.source)]
        assert r.first_as_of == pd.Timestamp(mine["as_of"].iloc[0])
        assert r.last_as_of == pd.Timestamp(mine["as_of"].iloc[-1])
    # ETH's gap leaves targets missing; @107's open candles are not used
    eth = s[s["symbol"] == "ETH"].iloc[0]
    assert eth["missing"] > 0
    at107 = s[s["symbol"] == "@107"].iloc[0]
    assert at107["candles"] == len(ck.Store(store.root).read("@107", "1h")) - 3


def test_a_series_too_short_is_a_row_with_a_reason(store):
    """No call is possible: a row with zero calls and why, never an error for the run."""
    got = ck.track_record(store, interval="1h", progress=False)
    s = got.summary.set_index(["symbol", "source"])
    doge = s.loc[("DOGE", "synthetic")]
    assert doge["status"] == "no_calls" and doge["calls"] == 0 and doge["n"] == 0
    assert doge["candles"] == 30 and np.isnan(doge["hit_rate"])
    assert f"only 30 closed candles; the first call needs {MIN_BARS}" in doge["reason"]
    new = s.loc[("NEW", "synthetic")]
    assert new["status"] == "no_calls" and new["candles"] == 0
    assert "none of its 4 stored candles is closed" in new["reason"]
    assert s.loc[("BTC", "synthetic"), "status"] == "ok"
    assert pd.isna(s.loc[("BTC", "synthetic"), "reason"])
    for sym in ("DOGE", "NEW"):
        rec = got.by_series[ck.SeriesKey("synthetic", sym, "1h")]
        assert len(rec.calls) == 0 and rec.summary["n"] == 0
        assert list(rec.calls.columns) == list(got.calls.columns[4:])
    assert not got.calls["symbol"].isin(["DOGE", "NEW"]).any()
    # nothing left to call at all: every row says so, and .calls is empty, not missing
    late = ck.track_record(store, interval="1h", start="2026-01-01", progress=False)
    assert len(late.calls) == 0 and list(late.calls.columns) == list(got.calls.columns)
    assert late.calls.dtypes.to_dict() == got.calls.dtypes.to_dict()
    assert (late.summary["calls"] == 0).all()
    btc = late.summary[late.summary["symbol"] == "BTC"].iloc[0]
    assert "no call at or after start 2026-01-01" in btc["reason"]
    early = ck.track_record(store, interval="1h", end="2024-12-01", progress=False)
    assert (early.summary["reason"].str.contains("no candle stored that closes before")).all()


def test_end_uses_only_candles_closed_before_it(store):
    got = ck.track_record(store, interval="1h", symbols="BTC", source="synthetic",
                          end="2025-01-06T05:30", progress=False)
    as_of = pd.to_datetime(got.calls["as_of"], format="ISO8601")
    assert as_of.max() < pd.Timestamp("2025-01-06T05:30", tz="UTC")
    assert as_of.max() == pd.Timestamp("2025-01-06T04:59:59.999", tz="UTC")
    assert (got.calls["status"] == "pending").sum() == 6     # horizon 6: not closed by end
    assert got.summary.attrs["end"] == "2025-01-06T05:30:00+00:00"


def test_selection_errors(store, tmp_path):
    with pytest.raises(ck.SeriesNotFoundError, match=r"interval '4h'.*It holds: .*BTC 1h"):
        ck.track_record(store, interval="4h", progress=False)
    with pytest.raises(ck.SeriesNotFoundError, match=r"source 'hydromancer'"):
        ck.track_record(store, interval="1h", source="hydromancer", progress=False)
    with pytest.raises(ck.SeriesNotFoundError, match=r"No 1h candles of PEPE.*it holds 1h of"):
        ck.track_record(store, interval="1h", symbols=["BTC", "PEPE"], progress=False)
    with pytest.raises(ck.SeriesNotFoundError, match="No 1h candles of BTC from 'emulator'"):
        ck.track_record(store, interval="1h", symbols="BTC", source="emulator",
                        progress=False)
    with pytest.raises(ck.InvalidIntervalError, match="Invalid interval"):
        ck.track_record(store, interval="7m", progress=False)
    with pytest.raises(ck.FormatError, match="needs interval="):
        ck.track_record(store, progress=False)
    with pytest.raises(ck.FormatError, match="symbols must be"):
        ck.track_record(store, interval="1h", symbols=[""], progress=False)
    with pytest.raises(ck.InvalidTimeError, match="must be after start"):
        ck.track_record(store, interval="1h", start="2025-01-05", end="2025-01-04",
                        progress=False)
    with pytest.raises(ck.InvalidTimeError):
        ck.track_record(store, interval="1h", start="05/01/2025", progress=False)
    with pytest.raises(ck.AnalysisError, match="every"):
        ck.track_record(store, interval="1h", every=0, progress=False)
    with pytest.raises(ck.FormatError, match="distributed.Client"):
        ck.track_record(store, interval="1h", client="tcp://127.0.0.1:8786", progress=False)
    with pytest.raises(ck.SeriesNotFoundError, match="It is empty"):
        ck.track_record(tmp_path / "nothing", interval="1h", progress=False)
    with pytest.raises(ck.FormatError, match="a candle frame or a store"):
        ck.track_record(42)
    # a store root given as a path works as the Store does
    by_path = ck.track_record(str(store.root), interval="1h", symbols="ETH", progress=False)
    by_store = ck.track_record(store, interval="1h", symbols="ETH", progress=False)
    pd.testing.assert_frame_equal(by_path.calls, by_store.calls, check_exact=True)


def test_a_frame_with_client_or_store_options_is_an_error(store, client):
    df = store.read("ETH", "1h", source="synthetic")
    with pytest.raises(ck.AnalysisError, match=r"client= only apply to a track record over a "
                                               r"store"):
        ck.track_record(df, client=client)
    with pytest.raises(ck.AnalysisError, match="interval=, end="):
        ck.track_record(df, interval="1h", end="2025-01-05")
    rec = ck.track_record(df)
    assert isinstance(rec, ck.TrackRecord) and len(rec.calls)


def test_synthetic_flags_per_row(store):
    got = ck.track_record(store, interval="1h", progress=False)
    s, c = got.summary, got.calls
    assert (s["synthetic"] == s["source"].map(ck.is_synthetic)).all()
    assert (c["synthetic"] == c["source"].map(ck.is_synthetic)).all()
    assert s.loc[s["source"] == "emulator", "synthetic"].all()
    assert got.synthetic and got.calls.attrs["synthetic"] and got.summary.attrs["synthetic"]
    assert "SOL 1h (emulator)" in got.calls.attrs["synthetic_series"]
    for key, rec in got.by_series.items():
        assert rec.synthetic == ck.is_synthetic(key.source)
    md = got._repr_markdown_()
    assert md.startswith("**SYNTHETIC DATA**") and "SOL (emulator)" in md
    assert got.pooled()["synthetic"] is True
    if not REAL_FILE.exists():
        pytest.skip(f"real Hyperliquid candles not found at {REAL_FILE}")
    real = s[s["source"] == "freqtrade"]
    assert len(real) == 1 and not real["synthetic"].iloc[0] and real["calls"].iloc[0] > 0
    assert not c.loc[c["source"] == "freqtrade", "synthetic"].any()
    only_real = ck.track_record(store, interval="1h", source="freqtrade", progress=False)
    assert not only_real.synthetic and not only_real.calls.attrs["synthetic"]
    assert "SYNTHETIC" not in only_real._repr_markdown_()


def test_pooled_calibration_and_lookup(store):
    got = ck.track_record(store, interval="1h", progress=False)
    pooled = got.pooled()
    assert pooled["n"] == got.summary["n"].sum()
    assert pooled["series"] == int((got.summary["calls"] > 0).sum())
    assert got.calibration(bins=5)["n"].sum() == pooled["n"]
    assert got.record("ETH") is got.by_series[ck.SeriesKey("synthetic", "ETH", "1h")]
    assert got.record("SOL", source="emulator").source == "emulator"
    with pytest.raises(ck.SeriesNotFoundError, match="several sources"):
        got.record("SOL")
    with pytest.raises(ck.SeriesNotFoundError, match="No track record of PEPE"):
        got.record("PEPE")


def test_progress_bar_counts_series(store, capsys):
    ck.track_record(store, interval="1h", symbols=["ETH", "DOGE", "NEW"], progress=True)
    err = capsys.readouterr().err
    assert "track 1h" in err and "3/3" in err and "series" in err


def test_an_unreadable_file_is_a_row_not_a_failure(store, client, tmp_path):
    root = tmp_path / "copy"
    shutil.copytree(store.root, root)
    st = ck.Store(root)
    part = max(st.series_path("ETH", "1h", source="synthetic").rglob("*.parquet"))
    part.write_bytes(b"not a parquet file")
    results = []
    for c in (None, client):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            results.append(ck.track_record(st, interval="1h", client=c, progress=False))
        assert any("could not read ETH 1h (synthetic)" in str(w.message) for w in caught)
    want, got = results
    pd.testing.assert_frame_equal(got.summary, want.summary, check_exact=True)
    pd.testing.assert_frame_equal(got.calls, want.calls, check_exact=True)
    eth = want.summary[want.summary["symbol"] == "ETH"].iloc[0]
    assert eth["status"] == "unreadable" and eth["calls"] == 0
    assert "Corrupted store file" in eth["reason"]
    assert ck.SeriesKey("synthetic", "ETH", "1h") not in want.by_series
    btc = want.summary[want.summary["symbol"] == "BTC"].iloc[0]
    assert btc["status"] == "ok" and btc["calls"] > 0
