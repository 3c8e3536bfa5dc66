"""A Dask DataFrame of many stored series: one partition per period file.

:func:`to_dask` builds it with :func:`dask.dataframe.from_map` over the store's units:
each partition is :meth:`candlekit.Store.read` of one file (clipped to ``[start, end)``)
with ``symbol`` and ``source`` columns in front, indexed by open time. A multi-symbol
store has no global order of open times, so the divisions are unknown: group by
``symbol`` (or ``set_index``, which sorts) rather than relying on ``loc`` slicing.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd

from ..errors import MissingDependencyError
from ..frame import empty_frame
from ..intervals import parse_interval
from ..store import Store
from ..timeutil import TimeLike
from .units import Unit, plan_units, read_unit, require_series

__all__ = ["read_partition", "to_dask"]


def _with_keys(df: pd.DataFrame, symbol: str, source: str) -> pd.DataFrame:
    out = df.copy(deep=False)
    out.attrs = {}
    out.insert(0, "source", pd.array([source] * len(df), dtype="string"))
    out.insert(0, "symbol", pd.array([symbol] * len(df), dtype="string"))
    return out


def read_partition(unit: Unit, store: Store) -> pd.DataFrame:
    """One partition: the unit's candles with ``symbol`` and ``source`` columns."""
    return _with_keys(read_unit(store, unit), unit.symbol, unit.source)


def to_dask(store: Store, interval: str, *, symbols: str | Iterable[str] | None = None,
            start: TimeLike | None = None, end: TimeLike | None = None,
            source: str | None = None) -> Any:
    """Stored candles of many series at one interval, as a lazy Dask DataFrame.

    Parameters
    ----------
    store : Store
    interval : str
        One of the 15 intervals.
    symbols : str or list of str, optional
        Only these coins (default: every one stored at ``interval``).
    start, end : time, optional
        Only open times in ``[start, end)``.
    source : str, optional
        Only series of this source.

    Returns
    -------
    dask.dataframe.DataFrame
        Columns ``symbol``, ``source`` (strings), then the canonical candle columns;
        indexed by open time (``time``, UTC); one partition per period file, divisions
        unknown. Nothing is read until it is computed.

    Raises
    ------
    SeriesNotFoundError
        When no stored series matches.
    MissingDependencyError
        Without the ``dask`` extra.
    """
    try:
        import dask.dataframe as dd
    except ImportError as exc:
        raise MissingDependencyError("dask[dataframe]", "dask", "Store.to_dask") from exc
    iv = parse_interval(interval).name
    units = plan_units(store, intervals=iv, symbols=symbols, sources=source, start=start,
                       end=end)
    require_series(units, store, f"interval {iv!r}"
                   + (f", symbols {symbols!r}" if symbols is not None else "")
                   + (f", source {source!r}" if source else ""))
    meta = _with_keys(empty_frame(symbol="meta", interval=iv, source="meta"), "meta", "meta")
    return dd.from_map(read_partition, units, store=store, meta=meta, divisions=None,
                       label=f"candlekit-{iv}", enforce_metadata=False)
