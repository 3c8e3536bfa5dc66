"""validate() on 10M candles versus a plain pandera schema that uses ``unique=True``.

Goal (issue 2): at least 10x faster than the plain pandera schema.
"""

from __future__ import annotations

import pandera.pandas as pa
from _timing import best_of, ratio_line

from candlekit.schema import validate
from candlekit.synthetic import synthetic_candles

ROWS = 10_000_000


def plain_pandera_schema() -> pa.DataFrameSchema:
    """The same rules written the obvious pandera way: element-wise checks, unique index."""
    positive = pa.Check.gt(0)
    return pa.DataFrameSchema(
        {
            "open": pa.Column("float64", positive),
            "high": pa.Column("float64", positive),
            "low": pa.Column("float64", positive),
            "close": pa.Column("float64", positive),
            "volume": pa.Column("float64", pa.Check.ge(0)),
            "quote_volume": pa.Column("Float64", pa.Check.ge(0), nullable=True),
            "trades": pa.Column("Int64", pa.Check.ge(0), nullable=True),
            "closed": pa.Column("bool"),
        },
        index=pa.Index("datetime64[ms, UTC]", unique=True, name="time",
                       checks=pa.Check(lambda s: s.is_monotonic_increasing)),
        checks=[
            pa.Check(lambda d: d["high"] >= d[["open", "close"]].max(axis=1)),
            pa.Check(lambda d: d["low"] <= d[["open", "close"]].min(axis=1)),
            pa.Check(lambda d: d["low"] <= d["high"]),
        ],
    )


def main() -> None:
    # 10M one-second candles of the synthetic market (about 116 days)
    df = synthetic_candles("BTC", "1s", "2025-01-01", "2025-04-26T17:46:40Z", base="1s")
    df = df.iloc[:ROWS]
    if len(df) != ROWS or not df["closed"].all():
        raise SystemExit(f"benchmark data is wrong: {len(df):,} rows, expected {ROWS:,} closed")
    ours = best_of(lambda: validate(df), repeat=5)
    plain = best_of(lambda: plain_pandera_schema().validate(df), repeat=2)
    print("    " + ratio_line(f"validate {len(df):,} rows", ours, {"pandera unique=True": plain},
                              {"pandera unique=True": 10}))
