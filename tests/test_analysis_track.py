"""track_record(): the same calls as analyze() at every as_of, graded, incrementally."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import candlekit as ck
from candlekit.analysis.model import Call
from candlekit.analysis.scoring import summarize
from candlekit.errors import AnalysisError


@pytest.fixture(scope="module")
def hourly() -> pd.DataFrame:
    df = ck.synthetic_candles("ETH", "1h", "2026-01-01", "2026-02-15")
    # history with a gap and a stale open candle: both must be handled the same way
    df = df.drop(df.index[300:305])
    df.loc[df.index[700], "closed"] = False
    df.attrs = dict(ck.synthetic_candles("ETH", "1h", "2026-01-01", "2026-01-02").attrs)
    return df


def _call(row) -> Call:
    return Call(direction=row.direction, p_up=row.p_up, horizon=int(row.horizon),
                reference_close=row.reference_close, as_of=row.as_of,
                dead_band=row.dead_band)


def test_calls_equal_analyze_at_each_sampled_step(hourly):
    tr = ck.track_record(hourly, horizon=4)
    rng = np.random.default_rng(7)
    rows = sorted({0, 1, len(tr.calls) - 1, *rng.integers(0, len(tr.calls), 12).tolist()})
    for k in rows:
        row = tr.calls.iloc[k]
        assert ck.analyze(hourly, as_of=row.as_of, horizon=4).call == _call(row), k


def test_summary_in_the_narrative_equals_the_track_record_up_to_as_of(hourly):
    tr = ck.track_record(hourly)
    as_of = tr.calls["as_of"].iloc[600]
    a = ck.analyze(hourly, as_of=as_of)
    done = tr.calls[(tr.calls["status"] == "graded")
                    & (tr.calls["target_time"] <= pd.Timestamp(as_of))]
    s = summarize(done)
    f = a.facts
    assert f["track_n"] == s["n"] and f["track_hits"] == s["hits"]
    for k in ("hit_rate", "base_rate_up", "brier", "brier_base", "brier_skill",
              "mean_signed_return", "share_flat"):
        assert f[f"track_{k}"] == pytest.approx(s[k], rel=1e-12, abs=1e-15), k
    assert [f["track_hit_rate_lo"], f["track_hit_rate_hi"]] == pytest.approx(s["hit_rate_ci95"])


def test_graded_columns_and_summary(hourly):
    tr = ck.track_record(hourly, horizon=3)
    c = tr.calls
    first_call = ck.analysis.call.MIN_BARS - 1
    assert len(c) == int(hourly["closed"].sum()) - first_call
    assert set(c["status"]) == {"graded", "pending", "missing"}  # the gap: targets missing
    assert (c["status"] == "pending").sum() == 3
    assert c.loc[c.status == "pending", "gradable_at"].notna().all()
    g = c[c.status == "graded"]
    assert (g["hit"].astype(bool) == (g["outcome"] == g["direction"])).all()
    assert tr.summary["n"] == len(g)
    assert tr.summary["hit_rate"] == pytest.approx(g["hit"].astype(bool).mean())
    assert tr.synthetic and tr.interval == "1h" and tr.symbol == "ETH"
    assert tr.summary["synthetic"] is True and tr.calls.attrs["synthetic"] is True
    json.dumps(tr.summary, allow_nan=False)
    assert "SYNTHETIC DATA" in tr._repr_markdown_()


def test_every_and_start(hourly):
    full = ck.track_record(hourly)
    sparse = ck.track_record(hourly, every=5)
    assert list(sparse.calls["as_of"]) == list(full.calls["as_of"].iloc[::5])
    later = ck.track_record(hourly, start="2026-02-01")
    assert later.calls["as_of"].iloc[0] == "2026-02-01T00:59:59.999Z"
    np.testing.assert_array_equal(
        later.calls["p_up"].to_numpy(),
        full.calls.set_index("as_of").loc[later.calls["as_of"], "p_up"].to_numpy())


def test_calibration_table(hourly):
    tr = ck.track_record(hourly)
    cal = tr.calibration(bins=10)
    assert list(cal.columns) == ["bin_low", "bin_high", "n", "mean_p_up", "observed_up"]
    assert cal["n"].sum() == tr.summary["n"]
    assert ((cal["mean_p_up"] >= cal["bin_low"]) & (cal["mean_p_up"] <= cal["bin_high"])).all()


def test_bad_arguments(hourly):
    with pytest.raises(AnalysisError, match="every"):
        ck.track_record(hourly, every=0)
    with pytest.raises(AnalysisError, match="horizon"):
        ck.track_record(hourly, horizon=2.5)
