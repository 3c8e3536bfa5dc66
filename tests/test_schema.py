"""The canonical candle schema and validate()."""

import numpy as np
import pandas as pd
import pytest

from candlekit.errors import CandleValidationError
from candlekit.frame import make_frame
from candlekit.intervals import ALIGNMENTS, bucket_range
from candlekit.schema import CandleSchema, find_invalid, validate


def frame(n=6, interval="1m", alignment="calendar", start="2025-01-01", **kw):
    span = pd.Timedelta(seconds=n) if interval == "1s" else pd.Timedelta(days=31 * (n + 1))
    times = bucket_range(start, pd.Timestamp(start, tz="UTC") + span, interval,
                         alignment=alignment)[:n]
    c = 100 + np.arange(n, dtype=float)
    return make_frame(times, c, c + 1, c - 1, c + 0.5, np.ones(n), quote_volume=c * 2,
                      trades=np.arange(n), interval=interval, alignment=alignment,
                      symbol="BTC", source="test", **kw)


@pytest.mark.parametrize("alignment", ALIGNMENTS)
@pytest.mark.parametrize("interval", ["1s", "1m", "1h", "1d", "3d", "1w", "1M"])
def test_valid_frames_pass(interval, alignment):
    df = frame(interval=interval, alignment=alignment)
    assert validate(df) is df


def test_schema_is_a_pandera_model_with_nullable_extras():
    schema = CandleSchema.to_schema()
    assert set(schema.columns) == {"open", "high", "low", "close", "volume", "quote_volume",
                                   "trades", "closed"}
    assert schema.columns["quote_volume"].nullable and schema.columns["trades"].nullable
    assert not schema.columns["volume"].nullable
    assert schema.index.name == "time"


def test_nulls_mean_unknown_and_are_valid():
    df = frame()
    df.loc[df.index[2], "quote_volume"] = pd.NA
    df.loc[df.index[3], "trades"] = pd.NA
    validate(df)


def _break(df, pos, col, value):
    df = df.copy()
    df.iloc[pos, df.columns.get_loc(col)] = value
    return df


@pytest.mark.parametrize(
    "col, value, check",
    [
        ("high", 99.0, "high < max(open, close)"),
        ("low", 200.0, "low > min(open, close)"),
        ("open", np.nan, "price is NaN"),
        ("low", -1.0, "price <= 0"),
        ("volume", -0.5, "volume < 0 or NaN"),
        ("volume", np.nan, "volume < 0 or NaN"),
        ("quote_volume", -3.0, "quote_volume < 0"),
        ("trades", -1, "trades < 0"),
        ("high", np.inf, "price is infinite"),
        ("close", np.inf, "price is infinite"),
        ("low", -np.inf, "price is infinite"),
        ("open", -np.inf, "price is infinite"),
        ("volume", np.inf, "volume is infinite"),
        ("volume", -np.inf, "volume is infinite"),
        ("quote_volume", np.inf, "quote_volume is infinite"),
    ],
)
def test_row_failures_are_reported_with_rows(col, value, check):
    bad = _break(frame(), 4, col, value)
    with pytest.raises(CandleValidationError) as info:
        validate(bad)
    failures = info.value.failures
    assert check in set(failures["check"])
    row = failures[failures["check"] == check].iloc[0]
    assert row["position"] == 4 and row["time"] == bad.index[4]
    assert "row 4" in str(info.value) and "See .failures" in str(info.value)
    assert isinstance(info.value, ValueError)


def test_index_failures():
    df = frame()
    dup = df.iloc[[0, 1, 1, 2]]
    dup.attrs = df.attrs
    with pytest.raises(CandleValidationError) as info:
        validate(dup)
    assert list(info.value.failures["check"]) == ["duplicate time"]
    back = df.iloc[[0, 2, 1, 3]]
    back.attrs = df.attrs
    with pytest.raises(CandleValidationError) as info:
        validate(back)
    assert "time not increasing" in set(info.value.failures["check"])


@pytest.mark.parametrize("interval, alignment, shift", [
    ("1m", "calendar", pd.Timedelta(seconds=1)),
    ("1h", "calendar", pd.Timedelta(minutes=30)),
    ("1w", "calendar", pd.Timedelta(days=3)),        # a Thursday week is not a Monday week
    ("1M", "calendar", pd.Timedelta(days=1)),
    ("1M", "hyperliquid", pd.Timedelta(days=-19)),   # calendar month start, not 30-day bucket
])
def test_misaligned_times_fail(interval, alignment, shift):
    df = frame(interval=interval, alignment=alignment, n=3)
    moved = df.copy()
    moved.index = (moved.index + shift).as_unit("ms")
    moved.attrs = df.attrs
    with pytest.raises(CandleValidationError) as info:
        validate(moved)
    assert any(c.startswith(f"time not aligned to {interval}")
               for c in info.value.failures["check"])


def test_interval_and_alignment_from_keywords():
    df = frame(interval="1w", alignment="hyperliquid")
    df.attrs = {}
    with pytest.raises(CandleValidationError, match="interval is unknown"):
        validate(df)
    validate(df, interval="1w", alignment="hyperliquid")
    with pytest.raises(CandleValidationError):
        validate(df, interval="1w", alignment="calendar")


@pytest.mark.parametrize("mutate, needle", [
    (lambda d: d.set_axis(d.index.as_unit("ns")), "conform"),
    (lambda d: d.astype({"trades": "float64"}), "trades"),
    (lambda d: d.astype({"closed": "int64"}), "closed"),
])
def test_dtype_failures_point_to_conform(mutate, needle):
    df = frame()
    bad = mutate(df)
    bad.attrs = df.attrs
    with pytest.raises(CandleValidationError) as info:
        validate(bad)
    assert needle in str(info.value)


def test_missing_columns():
    df = frame().drop(columns=["quote_volume"])
    with pytest.raises(CandleValidationError, match=r"Missing candle columns \['quote_volume'\]"):
        validate(df)


def test_extra_columns_allowed():
    df = frame()
    df["constituents"] = 60
    validate(df)


def test_find_invalid_on_valid_frame_is_empty():
    assert find_invalid(frame()).empty


def test_validate_at_scale_flags_the_single_bad_row():
    n = 200_000
    t = np.arange(n, dtype=np.int64) * 1000 + 1_700_000_000_000
    c = np.full(n, 50.0)
    df = make_frame(t, c, c + 1, c - 1, c, np.ones(n), interval="1s")
    validate(df)
    df = _break(df, n - 7, "high", 10.0)
    with pytest.raises(CandleValidationError) as info:
        validate(df)
    assert set(info.value.failures["position"]) == {n - 7}


@pytest.mark.parametrize("column", ["open", "high", "low", "close", "volume", "quote_volume",
                                    "trades", "closed"])
@pytest.mark.parametrize("as_text", [True, False])
def test_text_and_object_columns_get_a_clear_error(column, as_text):
    df = frame()
    bad = df.copy()
    bad[column] = bad[column].astype(str) if as_text else bad[column].astype(object)
    bad.attrs = df.attrs
    with pytest.raises(CandleValidationError) as info:
        validate(bad)
    message = str(info.value)
    assert f"{column} is " in message and "conform" in message
    assert "(text)" in message if as_text else "object" in message
    for dump in ("TypingError", "numba", "nopython"):
        assert dump not in message
    assert info.value.failures["column"].tolist() == [column]


def test_conform_parses_numeric_text_and_refuses_other_text():
    from candlekit.frame import conform

    df = frame()
    text = df.astype({"open": str, "volume": object})
    text.attrs = df.attrs
    assert validate(conform(text)).equals(df)
    text.iloc[2, text.columns.get_loc("open")] = "n/a"
    with pytest.raises(CandleValidationError, match="'open' holds 'n/a' at row 2"):
        conform(text)


@pytest.mark.parametrize("value", [np.inf, -np.inf, np.nan])
def test_store_write_refuses_non_finite_candles_and_writes_nothing(tmp_path, value):
    from candlekit.store import Store

    store = Store(tmp_path / "store")
    good = frame(interval="1h")
    store.write(good)
    bad = _break(frame(interval="1h"), 2, "high", value)
    bad = _break(bad, 3, "volume", value)
    with pytest.raises(CandleValidationError):
        store.write(bad)
    assert store.read("BTC", "1h").equals(good)
