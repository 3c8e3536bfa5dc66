"""``crosscheck``: stored coarse candles against the ones resampled from stored finer ones.

An exchange's coarse candles should equal its finer candles aggregated (on Hyperliquid
they do, bit for bit, except around incidents and candles saved while open; see the
README). A disagreement means one of the two stored series is wrong, so the analysis
reports it as a caveat rather than trusting either silently.

Only complete buckets are compared: the stored coarse candle is closed, and the resampled
one is closed with every constituent present. Prices must agree exactly; volumes (and
quote volume and trades when both are known) to a relative 1e-9, since sums of floats
depend on the order they were added in.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..errors import ResampleError
from ..intervals import next_bucket, parse_interval, tiles
from ..provenance import is_synthetic
from ..resample import resample
from ..store import Store
from ..timeutil import to_timestamp

__all__ = ["FIELDS", "VOLUME_RTOL", "crosscheck"]

#: Fields compared, in this order.
FIELDS = ("open", "high", "low", "close", "volume", "quote_volume", "trades")
#: Relative tolerance for volume, quote volume and trades.
VOLUME_RTOL = 1e-9


def _empty(attrs: dict[str, Any]) -> pd.DataFrame:
    cols: dict[str, Any] = {"fields": pd.Series([], dtype="string")}
    for f in FIELDS:
        cols[f"stored_{f}"] = pd.Series([], dtype="float64")
        cols[f"resampled_{f}"] = pd.Series([], dtype="float64")
    out = pd.DataFrame(cols, index=pd.DatetimeIndex([], tz="UTC", name="time").as_unit("ms"))
    out.attrs = attrs
    return out


def _values(s: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    v = pd.to_numeric(s, errors="coerce").astype("Float64")
    return v.to_numpy(np.float64, na_value=np.nan), v.isna().to_numpy()


def crosscheck(store: Store | str | Any, symbol: str, fine: str, coarse: str, *,
               start: Any = None, end: Any = None, source: str | None = None
               ) -> pd.DataFrame:
    """Stored ``coarse`` candles that disagree with ``fine`` candles resampled to ``coarse``.

    Parameters
    ----------
    store : Store or path
        The candle store.
    symbol : str
    fine, coarse : str
        Intervals; ``fine`` must tile ``coarse`` (1m→1h, 1h→4h, 1d→1w, ...).
    start, end : time, optional
        Coarse buckets with open time in ``[start, end)``; default everything stored.
    source : str, optional
        Needed when several sources hold the series.

    Returns
    -------
    pandas.DataFrame
        One row per disagreeing bucket, indexed by its open time: ``fields`` (the
        disagreeing fields, comma-separated) and ``stored_<field>`` / ``resampled_<field>``
        for every field in :data:`FIELDS`. ``attrs``: ``symbol, fine, coarse, source,
        synthetic, alignment, start, end`` (ISO), ``checked`` (complete buckets compared) and
        ``disagreeing`` (rows).

    Raises
    ------
    SeriesNotFoundError
        When the store holds either series not at all.
    ResampleError
        When ``fine`` does not tile ``coarse``.
    """
    st = store if isinstance(store, Store) else Store(store)
    fiv, civ = parse_interval(fine), parse_interval(coarse)
    stored = st.read(symbol, civ.name, start, end, source=source)
    al = stored.attrs.get("alignment") or "calendar"
    src = stored.attrs.get("source")
    attrs: dict[str, Any] = {"symbol": symbol, "fine": fiv.name, "coarse": civ.name,
                             "source": src, "synthetic": is_synthetic(src), "alignment": al,
                             "start": to_timestamp(start).isoformat() if start is not None
                             else None,
                             "end": to_timestamp(end).isoformat() if end is not None else None,
                             "checked": 0, "disagreeing": 0}
    stored = stored[stored["closed"].to_numpy(bool)]
    if len(stored) == 0:
        # Still check that the fine series exists, so a typo is an error, not "all clear".
        st.read(symbol, fiv.name, start, end, source=source)
        return _empty(attrs)
    fine_df = st.read(symbol, fiv.name, stored.index[0],
                      next_bucket(stored.index[-1], civ, alignment=al), source=source)
    if not tiles(fiv, civ, fine_alignment=fine_df.attrs.get("alignment") or "calendar",
                 coarse_alignment=al):
        raise ResampleError(
            f"Cannot cross-check {coarse} against {fine}: {fine} candles do not tile {coarse} "
            "buckets. Pick a finer interval that does (e.g. 1m→1h, 1h→4h, 1d→1w).")
    if len(fine_df) == 0:
        return _empty(attrs)
    rs = resample(fine_df, civ.name, alignment=al)
    rs = rs[rs["closed"].to_numpy(bool)
            & (rs["constituents"].to_numpy() == rs["expected_constituents"].to_numpy())]
    both = stored.index.intersection(rs.index)
    a, b = stored.loc[both], rs.loc[both]
    attrs["checked"] = len(both)
    bad = np.zeros(len(both), dtype=bool)
    per_field: dict[str, np.ndarray] = {}
    for f in FIELDS:
        x, xn = _values(a[f])
        y, yn = _values(b[f])
        known = ~xn & ~yn
        if f in ("open", "high", "low", "close"):
            diff = known & (x != y)
        else:
            diff = known & ~np.isclose(x, y, rtol=VOLUME_RTOL, atol=0.0)
        per_field[f] = diff
        bad |= diff
    if not bad.any():
        return _empty(attrs)
    idx = np.flatnonzero(bad)
    names = [",".join(f for f in FIELDS if per_field[f][i]) for i in idx]
    cols: dict[str, Any] = {"fields": pd.array(names, dtype="string")}
    for f in FIELDS:
        cols[f"stored_{f}"] = _values(a[f])[0][idx]
        cols[f"resampled_{f}"] = _values(b[f])[0][idx]
    out = pd.DataFrame(cols, index=both[idx])
    out.index.name = "time"
    attrs["disagreeing"] = len(out)
    out.attrs = attrs
    return out
