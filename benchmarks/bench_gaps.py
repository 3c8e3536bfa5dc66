"""find_gaps() on one year of 1s candles (31,536,000 rows), whole and with gaps punched in.

Baselines in the same run: pandas ``DatetimeIndex`` diff-based gap finding
(``idx.to_series().diff()`` then filter) and polars ``diff`` then filter (polars frame
built outside the timing). Goal: at least 10x faster than pandas.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
from _timing import best_of, ratio_line
from bench_resample import one_year_of_seconds

from candlekit.gaps import find_gaps

STEP_MS = 1000
GOALS = {"pandas diff": 10}


def pandas_gaps(df: pd.DataFrame) -> pd.DataFrame:
    """The usual pandas way: diff the index, keep the steps longer than one interval."""
    step = pd.Timedelta(STEP_MS, "ms")
    diff = df.index.to_series().diff()
    after = diff[diff > step]
    return pd.DataFrame({"start": after.index - after + step, "end": after.index - step,
                         "missing_candles": (after // step - 1).to_numpy()})


def polars_gaps(frame: pl.DataFrame) -> pl.DataFrame:
    step = pl.duration(milliseconds=STEP_MS)
    return (frame.select(pl.col("time"), pl.col("time").diff().alias("d"))
            .filter(pl.col("d") > step)
            .select((pl.col("time") - pl.col("d") + step).alias("start"),
                    (pl.col("time") - step).alias("end"),
                    (pl.col("d").dt.total_milliseconds() // STEP_MS - 1)
                    .alias("missing_candles")))


def punch_gaps(df: pd.DataFrame, count: int = 2000, seed: int = 0) -> pd.DataFrame:
    """``df`` with ``count`` random runs of 1 to 600 candles removed."""
    rng = np.random.default_rng(seed)
    keep = np.ones(len(df), dtype=bool)
    starts = rng.integers(0, len(df) - 600, count)
    for s, length in zip(starts, rng.integers(1, 601, count)):
        keep[s:s + length] = False
    keep[0] = keep[-1] = True
    out = df[keep]
    out.attrs = dict(df.attrs)
    return out


def main() -> None:
    full = one_year_of_seconds()
    for label, df in (("no gaps", full), ("with gaps", punch_gaps(full))):
        frame = pl.from_pandas(df.index.to_frame(index=False))
        ours = best_of(lambda df=df: find_gaps(df), repeat=7)
        found = find_gaps(df)
        counts = (len(found), len(pandas_gaps(df)), polars_gaps(frame).height)
        if len(set(counts)) != 1:
            raise SystemExit(f"gap counts disagree (candlekit, pandas, polars): {counts}")
        pandas_s = best_of(lambda df=df: pandas_gaps(df), repeat=3)
        polars_s = best_of(lambda frame=frame: polars_gaps(frame), repeat=5)
        print("    " + ratio_line(
            f"find_gaps 1s, {len(df):,} rows, {len(found):,} gaps ({label})", ours,
            {"pandas diff": pandas_s, "polars diff": polars_s}, GOALS))


if __name__ == "__main__":
    main()
