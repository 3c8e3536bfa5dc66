"""Where the store keeps each series: directory names, periods and row groups.

The layout is plain hive partitioning, readable without candlekit::

    {root}/source={source}/symbol={symbol}/interval={interval}/period={YYYY-MM-DD}/part-0.parquet

Segments
    ``source`` and ``symbol`` are percent-encoded as pyarrow's and Spark's ``"uri"`` hive
    segment encoding expects (``urllib.parse.quote(name, safe="")``): ``xyz:NVDA`` is
    stored as ``xyz%3ANVDA``, ``@107`` as ``%40107``, ``PURR/USDC`` as ``PURR%2FUSDC``.
    ``pyarrow.dataset.dataset(root, partitioning="hive")`` decodes them back.
``interval``
    The interval name, except the month ``1M``, spelled ``1Mo`` (freqtrade's precedent)
    so that it cannot collide with the minute ``1m`` on a case-insensitive filesystem
    (macOS, Windows). It is mapped back to ``1M`` on read.
``period``
    The first day (UTC) of the time span one file holds, always a ``YYYY-MM-DD`` date so
    that every reader infers one type for the column across all intervals. A candle goes
    in the period holding its open time. The span depends on the interval, to keep files
    between about 0.1 and 3 million rows and a rewrite cheap:

    ==============  ===========  ===================  ==============================
    interval        file spans   rows per file        row group spans (by open time)
    ==============  ===========  ===================  ==============================
    ``1s``          1 month      up to 2,678,400      1 day (86,400 rows)
    ``1m``          1 year       up to 527,040        7 days (10,080 rows)
    ``3m`` ``5m``   1 year       up to 175,680        28 days (13,440 / 8,064 rows)
    ``15m``         1 year       up to 35,136         91 days (8,736 rows)
    ``30m``-``12h`` 1 year       up to 17,568         the whole file
    ``1d``-``1M``   1 decade     up to 3,653          the whole file
    ==============  ===========  ===================  ==============================

    Row groups are cut at fixed multiples of their span since the epoch, so a range read
    opens only the files whose period overlaps the range and, inside them, only the row
    groups whose ``time`` min/max statistics overlap it.

Files whose name starts with ``.`` or ``_`` (temporary files, the per-series ``.lock``)
are skipped by pyarrow, Spark and Dask, and do not end in ``.parquet`` so that
``**/*.parquet`` globs (polars, DuckDB) skip them too.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path, PurePath
from urllib.parse import quote, unquote

import numpy as np

from ..errors import StoreError
from ..intervals import DAY, Interval, parse_interval

__all__ = [
    "LOCK_NAME",
    "PART_NAME",
    "SeriesKey",
    "check_case_collision",
    "decode_name",
    "encode_name",
    "interval_dirname",
    "interval_from_dirname",
    "is_temp_name",
    "period_bounds_ms",
    "period_dirname",
    "period_from_dirname",
    "period_kind",
    "period_ordinals",
    "row_group_ms",
    "series_dir",
    "temp_name",
]

PART_NAME = "part-0.parquet"
LOCK_NAME = ".lock"
_TEMP_PREFIX = ".part-"
_TEMP_SUFFIX = ".tmp"
_MONTH_DIRNAME = "1Mo"


@dataclass(frozen=True, order=True)
class SeriesKey:
    """One stored series: where it came from, which coin, which interval."""

    source: str
    symbol: str
    interval: str


# --- names ---------------------------------------------------------------------------


def encode_name(name: str, *, what: str = "symbol") -> str:
    """Percent-encode a source or symbol name for a hive directory segment.

    Raises
    ------
    StoreError
        For an empty or non-string name.
    """
    if not isinstance(name, str) or not name:
        raise StoreError(f"Invalid {what} {name!r}: pass a non-empty string such as 'BTC'.")
    return quote(name, safe="")


def decode_name(segment: str) -> str:
    """The name stored in a percent-encoded directory segment (inverse of :func:`encode_name`)."""
    return unquote(segment)


def interval_dirname(interval: str | Interval) -> str:
    """Directory spelling of an interval (``1M`` is ``1Mo``)."""
    name = parse_interval(interval).name
    return _MONTH_DIRNAME if name == "1M" else name


def interval_from_dirname(dirname: str) -> str:
    """The interval a directory segment names (``1Mo`` is ``1M``)."""
    return "1M" if dirname == _MONTH_DIRNAME else parse_interval(dirname).name


def series_dir(root: PurePath | str, source: str, symbol: str, interval: str | Interval
               ) -> PurePath:
    """Directory holding one series' period directories (a :class:`pathlib.Path` for a
    local root; an object store's root stays a :class:`pathlib.PurePosixPath`)."""
    base = root if isinstance(root, PurePath) else Path(root)
    return (base / f"source={encode_name(source, what='source')}"
            / f"symbol={encode_name(symbol)}" / f"interval={interval_dirname(interval)}")


# --- periods -------------------------------------------------------------------------

_PERIOD_KIND = {"1s": "month", "1d": "decade", "3d": "decade", "1w": "decade", "1M": "decade"}


def period_kind(interval: str | Interval) -> str:
    """``"month"``, ``"year"`` or ``"decade"``: the time span of one file."""
    return _PERIOD_KIND.get(parse_interval(interval).name, "year")


def period_ordinals(ms: np.ndarray, kind: str) -> np.ndarray:
    """Period number of each open time: months or years since 1970, or decades since 0."""
    d = np.asarray(ms, dtype=np.int64).view("datetime64[ms]")
    if kind == "month":
        return d.astype("datetime64[M]").astype(np.int64)
    years = d.astype("datetime64[Y]").astype(np.int64)
    if kind == "year":
        return years
    return np.floor_divide(years + 1970, 10)


def period_bounds_ms(ordinal: int, kind: str) -> tuple[int, int]:
    """``[start, end)`` in epoch ms of one period."""
    if kind == "month":
        edges = np.array([ordinal, ordinal + 1], dtype="datetime64[M]")
    elif kind == "year":
        edges = np.array([ordinal, ordinal + 1], dtype="datetime64[Y]")
    else:
        edges = np.array([ordinal * 10 - 1970, ordinal * 10 + 10 - 1970], dtype="datetime64[Y]")
    start, end = edges.astype("datetime64[ms]").astype(np.int64)
    return int(start), int(end)


def period_dirname(ordinal: int, kind: str) -> str:
    """``period=YYYY-MM-DD``, the first day of the period."""
    start, _ = period_bounds_ms(ordinal, kind)
    return f"period={np.datetime64(start, 'ms').astype('datetime64[D]')}"


def period_from_dirname(dirname: str, kind: str) -> int | None:
    """The period ordinal a ``period=YYYY-MM-DD`` directory names, or None if it is not one."""
    if not dirname.startswith("period="):
        return None
    try:
        day = np.datetime64(dirname[len("period="):], "D")
    except ValueError:
        return None
    ordinal = int(period_ordinals(np.array([day.astype("datetime64[ms]").astype(np.int64)]),
                                  kind)[0])
    return ordinal if period_dirname(ordinal, kind) == dirname else None


_ROW_GROUP_MS = {"1s": DAY, "1m": 7 * DAY, "3m": 28 * DAY, "5m": 28 * DAY, "15m": 91 * DAY}


def row_group_ms(interval: str | Interval) -> int | None:
    """Time span of one row group, or None for one row group per file."""
    return _ROW_GROUP_MS.get(parse_interval(interval).name)


# --- filesystem guards -----------------------------------------------------------------


def check_case_collision(parent: PurePath, name: str, *, what: str,
                         siblings: list[str] | None = None) -> None:
    """Refuse a directory name that differs only by case from an existing sibling.

    Two such directories would be the same directory on a case-insensitive filesystem
    (macOS, Windows), mixing two series. Called before a write creates ``parent/name``.

    Raises
    ------
    StoreError
        Naming both spellings.
    """
    if siblings is None:
        try:
            siblings = os.listdir(parent)
        except FileNotFoundError:
            return
    if name in siblings:
        return
    folded = name.casefold()
    clash = [s for s in siblings if s.casefold() == folded]
    if clash:
        raise StoreError(
            f"Cannot store {what} {decode_name(name.partition('=')[2])!r}: the store already "
            f"has {decode_name(clash[0].partition('=')[2])!r} in {parent}, which differs only "
            "by case and would share its directory on case-insensitive filesystems (macOS, "
            "Windows). Use the existing spelling, or store this one under another source.")


def temp_name(final_name: str) -> str:
    """A unique temporary file name next to ``final_name`` that readers skip."""
    return f"{_TEMP_PREFIX}{final_name}.{os.getpid()}.{os.urandom(4).hex()}{_TEMP_SUFFIX}"


def is_temp_name(name: str) -> bool:
    """Whether ``name`` is a temporary file left by :func:`temp_name` (possibly stale)."""
    return name.startswith(_TEMP_PREFIX) and name.endswith(_TEMP_SUFFIX)
