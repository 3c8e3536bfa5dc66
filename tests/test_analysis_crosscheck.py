"""crosscheck(): stored coarse candles against resampled finer ones, and its caveat."""

from __future__ import annotations

import pandas as pd
import pytest

import candlekit as ck
from candlekit.errors import ResampleError, SeriesNotFoundError


def _canonical(df: pd.DataFrame) -> pd.DataFrame:
    out = df.drop(columns=[c for c in ("constituents", "expected_constituents")
                           if c in df.columns])
    out.attrs = dict(df.attrs)
    return out


@pytest.fixture()
def store(tmp_path):
    s = ck.Store(tmp_path / "store")
    minutes = ck.synthetic_candles("BTC", "1m", "2026-01-01", "2026-01-06")
    hours = _canonical(ck.resample(minutes, "1h"))
    hours.loc["2026-01-02 05:00", "close"] += 1.0
    hours.loc["2026-01-04 12:00", "volume"] *= 1.01
    hours.loc["2026-01-05 20:00", ["high"]] += 5.0
    s.write(minutes)
    s.write(hours)
    return s


def test_finds_each_disagreeing_bucket(store):
    xc = ck.crosscheck(store, "BTC", "1m", "1h")
    assert list(xc.index) == [pd.Timestamp("2026-01-02 05:00", tz="UTC"),
                              pd.Timestamp("2026-01-04 12:00", tz="UTC"),
                              pd.Timestamp("2026-01-05 20:00", tz="UTC")]
    assert list(xc["fields"]) == ["close", "volume", "high"]
    row = xc.iloc[0]
    assert row["stored_close"] == row["resampled_close"] + 1.0
    assert row["stored_open"] == row["resampled_open"]
    assert xc.attrs["checked"] == 5 * 24 and xc.attrs["disagreeing"] == 3
    assert xc.attrs["synthetic"] is True
    assert (xc.attrs["fine"], xc.attrs["coarse"], xc.attrs["source"]) == ("1m", "1h",
                                                                         "synthetic")
    part = ck.crosscheck(store, "BTC", "1m", "1h", start="2026-01-03", end="2026-01-05")
    assert len(part) == 1 and part.attrs["checked"] == 48


def test_incomplete_buckets_are_not_compared(tmp_path):
    s = ck.Store(tmp_path / "s2")
    minutes = ck.synthetic_candles("ETH", "1m", "2026-01-01", "2026-01-02")
    hours = _canonical(ck.resample(minutes, "1h"))
    hours.loc["2026-01-01 03:00", "close"] += 1.0
    holed = minutes.drop(minutes.index[200:202])  # 03:20 and 03:21 missing
    holed.attrs = dict(minutes.attrs)
    s.write(holed)
    s.write(hours)
    xc = ck.crosscheck(s, "ETH", "1m", "1h")
    assert len(xc) == 0 and xc.attrs["checked"] == 23


def test_errors(store):
    with pytest.raises(SeriesNotFoundError):
        ck.crosscheck(store, "BTC", "5m", "1h")
    with pytest.raises(SeriesNotFoundError):
        ck.crosscheck(store, "DOGE", "1m", "1h")
    with pytest.raises(ResampleError, match="tile"):
        ck.crosscheck(store, "BTC", "1h", "1m")


def test_becomes_a_caveat_up_to_as_of(store):
    xc = ck.crosscheck(store, "BTC", "1m", "1h")
    hours = store.read("BTC", "1h")
    early = ck.analyze(hours, as_of="2026-01-04T00:00Z", crosscheck=xc)
    assert early.facts["crosscheck_disagreeing"] == 1
    assert early.facts["crosscheck_checked"] == 120
    msg = [c for c in early.caveats if "disagree" in c]
    assert len(msg) == 1 and "fields: close" in msg[0] and msg[0] in early.text
    late = ck.analyze(hours, crosscheck=xc)
    assert late.facts["crosscheck_disagreeing"] == 3
    assert "fields: close, high, volume" in "\n".join(late.caveats)
    with pytest.raises(ck.AnalysisError, match="crosscheck is for BTC 1h"):
        ck.analyze(ck.resample(hours, "4h"), crosscheck=xc)
    clean = ck.analyze(hours, as_of="2026-01-04T00:00Z")
    assert not any("disagree" in c for c in clean.caveats)


@pytest.mark.shared
def test_real_hyperliquid_incident(freqtrade_dir, tmp_path):
    """The 2025-04-20 incident: coarse candles that disagree with their finer candles."""
    s = ck.Store(tmp_path / "real")
    ck.import_freqtrade(freqtrade_dir, store=s, pairs="BTC", intervals=["1h", "4h"],
                        alignment="hyperliquid", progress=False)
    xc = ck.crosscheck(s, "BTC", "1h", "4h", start="2025-04-01", end="2025-05-01")
    assert xc.attrs["checked"] > 150
    assert len(xc) >= 1
    assert (xc.index >= pd.Timestamp("2025-04-20", tz="UTC")).any()
