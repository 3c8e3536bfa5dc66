"""Importing candle files into the store: freqtrade data directories, CSV and Parquet.

:func:`import_freqtrade`
    Every freqtrade candle file of a data directory in one call, with a summary table.
:func:`read_candles`
    One CSV or Parquet file of candles, in whatever column names and time encoding it
    uses, as a validated canonical frame.
:func:`import_candles`
    :func:`read_candles` and :meth:`candlekit.Store.write` in one step.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from .errors import CandlekitError, CandleValidationError, FormatError, InvalidTimeError
from .frame import empty_frame, make_frame
from .freqtrade import parse_freqtrade_name, read_freqtrade
from .intervals import (
    ALIGNMENTS,
    INTERVALS,
    Alignment,
    Interval,
    bucket_ordinal,
    check_alignment,
    close_ms,
    is_aligned,
    ordinal_to_ms,
    parse_interval,
)
from .schema import validate
from .store import Store, WriteStats
from .timeutil import TimeLike, to_ms, to_timestamp, utc_now_ms

__all__ = ["SUMMARY_COLUMNS", "import_candles", "import_freqtrade", "read_candles"]

SUMMARY_COLUMNS = ("symbol", "interval", "file", "candles", "inserted", "replaced",
                   "unchanged", "kept", "earliest", "latest")
_COUNTS = ("candles", "inserted", "replaced", "unchanged", "kept")
# A name that claims to be a freqtrade candle file: ...-{timeframe}[-{type}].{ext}
_CANDLE_NAME = re.compile(
    r"-\d+(?:Mo|[A-Za-z])(?:-[A-Za-z_]+)?\.(?:feather|parquet|json|json\.gz)$")
_EXPECTED_NAMES = ("freqtrade candle files are named {pair}-{timeframe}[-{candle_type}].{ext} "
                   "with ext feather, parquet, json or json.gz, e.g. "
                   "BTC_USDC_USDC-1h-futures.feather or ETH_USDT-5m.json")


# --- freqtrade directories ---------------------------------------------------------------


def import_freqtrade(directory: str | os.PathLike[str], *,
                     store: Store | str | os.PathLike[str] | None = None,
                     source: str = "freqtrade",
                     pairs: str | Sequence[str] | None = None,
                     intervals: str | Sequence[str] | None = None,
                     candle_types: str | Sequence[str] = ("futures", "spot"),
                     alignment: Alignment | None = None, now: TimeLike | None = None,
                     errors: Literal["raise", "warn"] = "raise",
                     progress: bool = True) -> pd.DataFrame:
    """Import every freqtrade candle file of a data directory into the store.

    Each file is read with :func:`candlekit.read_freqtrade` (symbol and interval from its
    name) and written with :meth:`candlekit.Store.write` (an upsert: importing the same
    files again changes nothing).

    Parameters
    ----------
    directory : str or os.PathLike
        A freqtrade data directory (e.g. ``user_data/data/hyperliquid``); subdirectories
        (freqtrade keeps futures in ``futures/``) are searched too. Files whose names are
        not candle file names (READMEs, ``-trades`` files) are ignored; names that look
        like candle files but cannot be read (an unknown timeframe) count as bad files,
        unless ``pairs`` or ``intervals`` is given (they cannot be matched then).
    store : Store, str, os.PathLike or None
        The store, or its root directory; ``None`` means ``Store()`` (``$CANDLEKIT_DATA``
        or ``./data``).
    source : str, default "freqtrade"
        The store's source label for the imported series.
    pairs : str or sequence of str, optional
        Only these pairs: freqtrade names (``"BTC/USDC:USDC"``) or coins (``"BTC"``).
    intervals : str or sequence of str, optional
        Only these intervals (``"1M"`` and freqtrade's ``"1Mo"`` both name months).
    candle_types : str or sequence of str, default ("futures", "spot")
        freqtrade candle types to import. ``mark``, ``index``, ``premiumIndex`` and
        ``funding_rate`` files hold other prices than the traded ones and are skipped
        unless listed here.
    alignment : {"calendar", "hyperliquid"}, optional
        Alignment of the 1w/1M files; by default recognised from their timestamps.
    now : time, optional
        The present for the ``closed`` flags (default: the current time, taken once).
    errors : {"raise", "warn"}, default "raise"
        What to do about files that cannot be imported. Either way every other file is
        imported first. ``"raise"`` then raises one :class:`FormatError` listing each bad
        file and why; ``"warn"`` warns instead and returns them in the summary, which then
        has an ``error`` column (empty for the files that were imported).
    progress : bool, default True
        Show a tqdm progress bar over the files.

    Returns
    -------
    pandas.DataFrame
        One row per file, sorted by symbol and interval: ``symbol``, ``interval``,
        ``file`` (path relative to ``directory``), ``candles`` (read from the file),
        ``inserted``, ``replaced``, ``unchanged``, ``kept`` (stored closed candles kept
        over open ones in the file; see :class:`candlekit.WriteStats`), and the
        ``earliest`` and ``latest`` open times in the file.

    Raises
    ------
    FormatError
        When the directory holds no candle files (or none matching the filters), when a
        filter matches no file, when two files would fill the same series (e.g. a spot
        and a futures file of one coin: pass ``pairs=`` to pick one; nothing is written
        then), or, after the good files are stored, when some files could not be
        imported; also when ``directory`` is not a directory.

    Examples
    --------
    >>> summary = import_freqtrade("user_data/data/hyperliquid", intervals=["1h", "1d"],
    ...                            store="data")                      # doctest: +SKIP
    >>> summary[["symbol", "interval", "candles", "inserted"]]        # doctest: +SKIP
      symbol interval  candles  inserted
    0    BTC       1h     7793      7793
    1    BTC       1d     1802      1802
    """
    if errors not in ("raise", "warn"):
        raise FormatError(f"errors must be 'raise' or 'warn', not {errors!r}.", errors)
    root = _directory(directory)
    store = _store(store)
    now_ms = utc_now_ms() if now is None else to_ms(now)
    if alignment is not None:
        check_alignment(alignment)
    selected, bad = _select_files(root, pairs, intervals, candle_types)

    rows: list[dict[str, Any]] = []
    failures: list[tuple[str, str]] = []
    for rel, meta, reason in bad:
        failures.append((rel, reason))
        rows.append(_row(meta, rel, None, None, reason))
    bar = tqdm(selected, desc="import freqtrade", unit="file", disable=not progress)
    for rel, meta in bar:
        bar.set_postfix_str(rel, refresh=False)
        df = None
        try:
            df = read_freqtrade(root / rel, alignment=alignment, now=now_ms)
            df.attrs["source"] = source
            stats = store.write(df)
        except CandlekitError as exc:
            failures.append((rel, str(exc)))
            rows.append(_row(meta, rel, df, None, str(exc)))
            continue
        rows.append(_row(meta, rel, df, stats, None))
    bar.close()

    summary = _summary(rows, with_error=errors == "warn")
    if failures:
        good = len(rows) - len(failures)
        inserted = int(summary["inserted"].sum())
        listing = "\n".join(f"  - {rel}: {reason}" for rel, reason in failures)
        message = (f"{len(failures)} of {len(rows)} freqtrade file(s) in {root} could not be "
                   f"imported:\n{listing}\nThe other {good} file(s) were stored "
                   f"({inserted} candles inserted). Fix or delete the files above and import "
                   "again (files already stored are not written twice), or pass "
                   "errors='warn' to get them in the summary instead.")
        if errors == "raise":
            raise FormatError(message, failures)
        warnings.warn(message, UserWarning, stacklevel=2)
    return summary


def _directory(directory: str | os.PathLike[str]) -> Path:
    root = Path(directory).expanduser()
    if not root.is_dir():
        raise FormatError(
            f"No directory {root}: pass the freqtrade data directory holding the candle "
            "files (e.g. user_data/data/<exchange>).", str(root))
    return root


def _store(store: Store | str | os.PathLike[str] | None) -> Store:
    return store if isinstance(store, Store) else Store(store)


def _as_list(value: str | Sequence[str] | None) -> list[str] | None:
    if value is None:
        return None
    return [value] if isinstance(value, str) else list(value)


def _select_files(root: Path, pairs: str | Sequence[str] | None,
                  intervals: str | Sequence[str] | None,
                  candle_types: str | Sequence[str]
                  ) -> tuple[list[tuple[str, dict[str, str]]],
                             list[tuple[str, dict[str, str] | None, str]]]:
    """The candle files to import, and those whose names cannot be read, as paths
    relative to ``root``."""
    want_pairs = _as_list(pairs)
    want_ivs = _as_list(intervals)
    if want_ivs is not None:
        want_ivs = [parse_interval("1M" if iv == "1Mo" else iv).name for iv in want_ivs]
    types = _as_list(candle_types) or []
    found: list[tuple[str, dict[str, str]]] = []
    bad: list[tuple[str, dict[str, str] | None, str]] = []
    skipped_types: set[str] = set()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root).as_posix()
        if not _CANDLE_NAME.search(path.name):
            continue
        try:
            meta = parse_freqtrade_name(path)
        except CandlekitError as exc:
            bad.append((rel, None, str(exc)))
            continue
        if meta["candle_type"] not in types:
            skipped_types.add(meta["candle_type"])
            continue
        found.append((rel, meta))
    if not found and not bad:
        extra = (f" (skipped files of candle type {sorted(skipped_types)}: pass "
                 "candle_types= to import them)" if skipped_types else "")
        raise FormatError(f"No freqtrade candle files in {root}{extra}: {_EXPECTED_NAMES}. "
                          "Point at the directory freqtrade download-data wrote to.", str(root))
    selected = [(rel, m) for rel, m in found
                if (want_pairs is None or m["pair"] in want_pairs or m["symbol"] in want_pairs)
                and (want_ivs is None or m["interval"] in want_ivs)]
    _check_filters(root, found, want_pairs, want_ivs)
    if found and not selected:
        raise FormatError(
            f"No freqtrade candle file in {root} is both one of pairs {want_pairs} and one "
            f"of intervals {want_ivs}: widen the filters.", (want_pairs, want_ivs))
    _check_collisions(selected)
    return selected, bad if want_pairs is None and want_ivs is None else []


def _check_filters(root: Path, found: list[tuple[str, dict[str, str]]],
                   want_pairs: list[str] | None, want_ivs: list[str] | None) -> None:
    have_pairs = sorted({m["pair"] for _, m in found})
    have_ivs = sorted({m["interval"] for _, m in found}, key=INTERVALS.index)
    if want_pairs is not None:
        names = {m["pair"] for _, m in found} | {m["symbol"] for _, m in found}
        missing = [p for p in want_pairs if p not in names]
        if missing:
            raise FormatError(
                f"No freqtrade candle files in {root} for pairs {missing}; it has "
                f"{have_pairs}. Pass freqtrade pair names (e.g. 'BTC/USDC:USDC') or coins "
                "('BTC').", missing)
    if want_ivs is not None:
        missing = [iv for iv in want_ivs if iv not in have_ivs]
        if missing:
            raise FormatError(
                f"No freqtrade candle files in {root} for intervals {missing}; it has "
                f"{have_ivs}.", missing)


def _check_collisions(selected: list[tuple[str, dict[str, str]]]) -> None:
    by_series: dict[tuple[str, str], list[str]] = {}
    for rel, m in selected:
        by_series.setdefault((m["symbol"], m["interval"]), []).append(rel)
    clashes = {k: v for k, v in by_series.items() if len(v) > 1}
    if clashes:
        listing = "; ".join(f"{sym} {iv}: {', '.join(files)}"
                            for (sym, iv), files in clashes.items())
        raise FormatError(
            f"Several files would fill the same store series (symbol, interval): {listing}. "
            "Nothing was imported. Choose one with pairs= (the full pair, e.g. "
            "'BTC/USDC:USDC'), or import the others separately under another source=.",
            clashes)


def _row(meta: dict[str, str] | None, rel: str, df: pd.DataFrame | None,
         stats: WriteStats | None, error: str | None) -> dict[str, Any]:
    t = df.index.asi8 if df is not None else np.empty(0, dtype=np.int64)
    s = stats.as_dict() if stats is not None else {}
    return {
        "symbol": meta["symbol"] if meta else None,
        "interval": meta["interval"] if meta else None,
        "file": rel,
        "candles": len(t),
        **{k: s.get(k, 0) for k in ("inserted", "replaced", "unchanged", "kept")},
        "earliest": int(t[0]) if len(t) else None,
        "latest": int(t[-1]) if len(t) else None,
        "error": error,
    }


def _summary(rows: list[dict[str, Any]], *, with_error: bool) -> pd.DataFrame:
    columns = [*SUMMARY_COLUMNS, *(["error"] if with_error else [])]
    df = pd.DataFrame(rows, columns=[*SUMMARY_COLUMNS, "error"])
    order = sorted(range(len(rows)), key=lambda i: (
        rows[i]["symbol"] is None, rows[i]["symbol"] or "",
        INTERVALS.index(rows[i]["interval"]) if rows[i]["interval"] else len(INTERVALS),
        rows[i]["file"]))
    df = df.iloc[order].reset_index(drop=True)
    for c in _COUNTS:
        df[c] = df[c].astype(np.int64)
    for c in ("earliest", "latest"):
        df[c] = pd.to_datetime(df[c].astype("Int64"), unit="ms", utc=True).astype(
            "datetime64[ms, UTC]")
    return df[columns]


# --- CSV and Parquet files ---------------------------------------------------------------

CANONICAL = ("time", "open", "high", "low", "close", "volume", "quote_volume", "trades",
             "closed")
_REQUIRED = ("time", "open", "high", "low", "close", "volume")
_ALIASES: dict[str, tuple[str, ...]] = {
    "time": ("time", "date", "timestamp", "open_time", "datetime", "t"),
    "open": ("open", "o"),
    "high": ("high", "h"),
    "low": ("low", "l"),
    "close": ("close", "c"),
    "volume": ("volume", "v"),
    "quote_volume": ("quote_volume", "quote_asset_volume", "q"),
    "trades": ("trades", "number_of_trades", "n"),
    "closed": ("closed", "is_closed", "x"),
}
_CLOSE_TIME_ALIASES = ("close_time", "time", "date", "timestamp", "datetime", "T")
_SUFFIXES = {".csv": "csv", ".csv.gz": "csv", ".parquet": "parquet", ".pq": "parquet"}
_UNITS = {"s": 1000.0, "ms": 1.0, "us": 1e-3, "ns": 1e-6}  # to milliseconds
_NS_PER_UNIT = {"s": 1_000_000_000, "ms": 1_000_000, "us": 1_000, "ns": 1}


def read_candles(path: str | os.PathLike[str], *, symbol: str, interval: str,
                 columns: Mapping[str, str] | None = None,
                 time_unit: Literal["s", "ms", "us", "ns"] | None = None,
                 time_is: Literal["open", "close"] = "open", source: str = "file",
                 alignment: Alignment | None = None, now: TimeLike | None = None,
                 format: Literal["csv", "parquet"] | None = None) -> pd.DataFrame:
    """Read a CSV or Parquet file of candles as a validated canonical frame.

    Parameters
    ----------
    path : str or os.PathLike
        A ``.csv``, ``.csv.gz``, ``.parquet`` or ``.pq`` file (else pass ``format``).
    symbol, interval : str
        What the candles are (the file does not say); stored in ``df.attrs``.
    columns : mapping, optional
        File column for each canonical name: ``time open high low close volume`` and,
        optionally, ``quote_volume trades closed``; e.g. ``{"time": "timestamp", "open":
        "o"}``. Names left out are looked up in the file as themselves and common
        aliases (``time``: date, timestamp, open_time, datetime, t; ``open``: o;
        ``high``: h; ``low``: l; ``close``: c; ``volume``: v; ``quote_volume``:
        quote_asset_volume, q; ``trades``: number_of_trades, n; ``closed``: is_closed,
        x), also ignoring case for names longer than one letter. With
        ``time_is="close"`` the time is looked up as close_time, time, date, timestamp,
        datetime, T. A missing ``quote_volume`` or ``trades`` column means unknown
        (null).
    time_unit : {"s", "ms", "us", "ns"}, optional
        Unit of numeric (epoch) times. By default it is inferred from the largest
        magnitude: below 1e11 seconds, below 1e14 milliseconds, below 1e17 microseconds,
        else nanoseconds; right for every time from 1973 to 5138, so pass it for older
        times. Times as ISO 8601 strings or datetimes need no unit (naive means UTC).
    time_is : {"open", "close"}, default "open"
        What the time column holds. ``"close"`` reads files keyed by close time and
        converts each to its candle's open time; both conventions are recognised, per
        file: the last millisecond of the candle (``T = open + duration - 1 ms``, as
        Hyperliquid's ``T``; e.g. ``00:59:59.999`` for the 00:00 hourly candle) or the
        end of the bucket, exclusive (``T = open + duration``, the next candle's open
        time; e.g. ``01:00``). Close times that fit neither raise.
    source : str, default "file"
        The store's source label, in ``df.attrs["source"]``.
    alignment : {"calendar", "hyperliquid"}, optional
        Alignment of 1w/1M candles; by default recognised from the times (calendar
        first, where both fit).
    now : time, optional
        The present (default: the current time). A candle is closed when its close time
        is before ``now`` and, if the file has a ``closed`` column, that column says so:
        a candle that has not ended is never closed, whatever the file says.
    format : {"csv", "parquet"}, optional
        The file format, when the suffix does not tell.

    Returns
    -------
    pandas.DataFrame
        The validated canonical frame, sorted by open time; rows repeated exactly are
        dropped. attrs: ``symbol``, ``interval``, ``alignment``, ``source``.

    Raises
    ------
    FormatError
        If the file cannot be read, a column is missing or not numeric, times cannot be
        parsed or are not the interval's open (or close) times, or two different candles
        share an open time (listed; nothing is picked). Messages name the file and column
        and say what to pass.
    CandleValidationError
        If a candle breaks the OHLC invariants (``.failures`` lists the rows).
    InvalidTimeError
        If a candle opens after ``now``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "btc.csv"
    >>> _ = path.write_text("timestamp,o,h,l,c,v\\n"
    ...                     "1735693200,101,103,100,102,5\\n"
    ...                     "1735689600,100,102,99,101,4\\n")
    >>> df = read_candles(path, symbol="BTC", interval="1h", now="2026-01-01")
    >>> df[["open", "close", "volume", "closed"]].reset_index()
                           time   open  close  volume  closed
    0 2025-01-01 00:00:00+00:00  100.0  101.0     4.0    True
    1 2025-01-01 01:00:00+00:00  101.0  102.0     5.0    True
    """
    path = Path(path)
    iv = parse_interval(interval)
    if alignment is not None:
        check_alignment(alignment)
    if time_is not in ("open", "close"):
        raise FormatError(f"time_is must be 'open' or 'close', not {time_is!r}.", time_is)
    if time_unit is not None and time_unit not in _UNITS:
        raise FormatError(f"time_unit must be one of {list(_UNITS)}, not {time_unit!r} "
                          "(or None to infer it).", time_unit)
    if not symbol or not isinstance(symbol, str):
        raise FormatError(f"symbol must be a non-empty string (the coin, e.g. 'BTC'), not "
                          f"{symbol!r}.", symbol)
    now_ms = utc_now_ms() if now is None else to_ms(now)
    raw = _read_table(path, format)
    mapping = _resolve_columns(raw, columns, time_is, path)
    attrs = {"symbol": symbol, "interval": iv.name, "source": source}
    if len(raw) == 0:
        return empty_frame(alignment=alignment or "calendar", **attrs)

    stamps = _times(raw[mapping["time"]], time_unit, path, mapping["time"])
    t, al = _open_times(stamps, iv, time_is, alignment, path, mapping["time"])
    values = {name: _numeric(raw[col], path, col, name)
              for name, col in mapping.items() if name in ("open", "high", "low", "close",
                                                           "volume", "quote_volume")}
    q = values.pop("quote_volume", None)
    n = _trade_counts(raw[mapping["trades"]], path, mapping["trades"]) \
        if "trades" in mapping else None
    file_closed = _flags(raw[mapping["closed"]], path, mapping["closed"]) \
        if "closed" in mapping else None
    t, values, q, n, file_closed = _sorted_unique(t, values, q, n, file_closed, path)
    _check_spacing(t, iv, al, path)

    if t[-1] > now_ms:
        late = np.flatnonzero(t > now_ms)
        raise InvalidTimeError(
            f"{path.name}: {len(late)} candle(s) open after now ({to_timestamp(now_ms)}), "
            f"the first at {to_timestamp(int(t[late[0]]))}. Pass now= later than the last "
            "candle, or drop the candles from the future.", int(t[late[0]]))
    closed = close_ms(t, iv, alignment=al) < now_ms
    if file_closed is not None:
        closed &= file_closed
    df = make_frame(t, values["open"], values["high"], values["low"], values["close"],
                    values["volume"], quote_volume=q, trades=n, closed=closed,
                    alignment=al, **attrs)
    try:
        return validate(df)
    except CandleValidationError as exc:
        raise CandleValidationError(f"{path}: {exc}", exc.failures) from None


def import_candles(path: str | os.PathLike[str], *,
                   store: Store | str | os.PathLike[str] | None = None,
                   **read_kwargs: Any) -> WriteStats:
    """Read a CSV or Parquet candle file with :func:`read_candles` and store it.

    Parameters
    ----------
    path : str or os.PathLike
        The file.
    store : Store, str, os.PathLike or None
        The store, or its root directory; ``None`` means ``Store()``.
    **read_kwargs
        Passed to :func:`read_candles` (``symbol`` and ``interval`` are required).

    Returns
    -------
    WriteStats
        What the store did (see :meth:`candlekit.Store.write`).

    Raises
    ------
    FormatError, CandleValidationError, InvalidTimeError
        As :func:`read_candles`; nothing is written then.

    Examples
    --------
    >>> import_candles("btc_1h.csv", symbol="BTC", interval="1h",
    ...                columns={"time": "timestamp"}, store="data")  # doctest: +SKIP
    WriteStats(inserted=8760, replaced=0, unchanged=0, kept=0, files_written=2)
    """
    df = read_candles(path, **read_kwargs)
    return _store(store).write(df)


def _suffix_format(path: Path, fmt: str | None) -> str:
    if fmt is not None:
        if fmt not in ("csv", "parquet"):
            raise FormatError(f"format must be 'csv' or 'parquet', not {fmt!r}.", fmt)
        return fmt
    name = path.name.lower()
    for suffix, kind in _SUFFIXES.items():
        if name.endswith(suffix):
            return kind
    raise FormatError(
        f"Cannot tell the format of {path.name} from its name: expected a suffix among "
        f"{', '.join(_SUFFIXES)}. Rename the file, or pass format='csv' or "
        "format='parquet'.", str(path))


def _read_table(path: Path, fmt: str | None) -> pd.DataFrame:
    kind = _suffix_format(path, fmt)
    if not path.is_file():
        raise FormatError(f"Cannot read {path}: no such file.", str(path))
    try:
        if kind == "csv":
            return pd.read_csv(path)
        return pd.read_parquet(path)
    except pd.errors.EmptyDataError:
        raise FormatError(f"{path} is empty: not even a header row with the column names.",
                          str(path)) from None
    except (OSError, ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise FormatError(f"Cannot read {path} as {kind}: {exc}. Check that it is a "
                          f"{kind} file (pass format= if its suffix is misleading).",
                          str(path)) from exc


def _resolve_columns(raw: pd.DataFrame, columns: Mapping[str, str] | None, time_is: str,
                     path: Path) -> dict[str, str]:
    """File column of each canonical name present (required ones always)."""
    given = dict(columns or {})
    unknown = [k for k in given if k not in CANONICAL]
    if unknown:
        raise FormatError(
            f"Unknown canonical column name(s) {unknown} in columns=: the keys are the "
            f"canonical names {list(CANONICAL)} and the values the file's columns, e.g. "
            "columns={'time': 'timestamp', 'open': 'o'}.", unknown)
    have = [str(c) for c in raw.columns]
    by_lower: dict[str, list[str]] = {}
    for c in have:
        by_lower.setdefault(c.lower(), []).append(c)
    mapping: dict[str, str] = {}
    for name in CANONICAL:
        if name in given:
            col = given[name]
            if col not in have:
                near = by_lower.get(str(col).lower(), [])
                hint = f" (did you mean {near[0]!r}?)" if near else ""
                raise FormatError(
                    f"column {col!r} (for {name!r}) not found in {path.name}{hint}; columns "
                    f"are {have}; pass columns={{{name!r}: '<name>'}} with one of them.",
                    col)
            mapping[name] = col
            continue
        aliases = (_CLOSE_TIME_ALIASES if name == "time" and time_is == "close"
                   else _ALIASES[name])
        col = next((a for a in aliases if a in have), None)
        if col is None:
            col = next((by_lower[a.lower()][0] for a in aliases
                        if len(a) > 1 and len(by_lower.get(a.lower(), [])) == 1), None)
        if col is not None:
            mapping[name] = col
        elif name in _REQUIRED:
            what = f"{time_is} time" if name == "time" else repr(name)
            raise FormatError(
                f"column for {what} not found in {path.name} (looked for "
                f"{', '.join(repr(a) for a in aliases)}); columns are {have}; pass "
                f"columns={{{name!r}: '<name>'}}.", name)
    return mapping


def _times(col: pd.Series, unit: str | None, path: Path, name: str) -> np.ndarray:
    """Epoch milliseconds of a time column (datetimes, ISO strings or epoch numbers)."""
    missing = np.flatnonzero(col.isna().to_numpy())
    if len(missing):
        raise FormatError(
            f"{path.name}: time column {name!r} has {len(missing)} empty value(s), the first "
            f"at data row {missing[0]}. Drop those rows or fill them in.", int(missing[0]))
    if col.dtype.kind == "M" or isinstance(col.dtype, pd.DatetimeTZDtype):
        idx = pd.DatetimeIndex(col)
        if idx.tz is None:
            idx = idx.tz_localize("UTC")
        return _whole_ms(idx.asi8, idx.unit, path, name)
    if col.dtype.kind in "iuf":
        return _epoch_ms(col.to_numpy(), unit, path, name)
    if col.dtype.kind == "b":
        raise FormatError(f"{path.name}: time column {name!r} holds booleans, not times: "
                          "pass columns={'time': '<name>'} with the time column.", name)
    numbers = pd.to_numeric(col, errors="coerce")
    if not numbers.isna().any():
        return _epoch_ms(numbers.to_numpy(), unit, path, name)
    text = col.astype(str)
    try:
        idx = pd.DatetimeIndex(pd.to_datetime(text, utc=True, format="ISO8601"))
    except (ValueError, TypeError, OverflowError):
        parsed = pd.to_datetime(text, utc=True, format="ISO8601", errors="coerce")
        bad = int(np.flatnonzero(parsed.isna().to_numpy())[0])
        raise FormatError(
            f"{path.name}: time column {name!r} has a value that is neither an ISO 8601 time "
            f"nor an epoch number: {col.iloc[bad]!r} at data row {bad}. Pass the right column "
            "with columns={'time': '<name>'} or fix the value.", col.iloc[bad]) from None
    return _whole_ms(idx.asi8, idx.unit, path, name)


def _whole_ms(raw: np.ndarray, unit: str, path: Path, name: str) -> np.ndarray:
    if unit == "s":
        return raw * 1000
    per_ms = _NS_PER_UNIT["ms"] // _NS_PER_UNIT[unit] if unit in ("us", "ns") else 1
    if per_ms > 1:
        rest = np.flatnonzero(raw % per_ms)
        if len(rest):
            raise FormatError(
                f"{path.name}: time column {name!r} has times with fractions of a "
                f"millisecond (data row {rest[0]}): candle times are whole milliseconds. "
                "Check the column and time_unit.", int(rest[0]))
        return raw // per_ms
    return raw.astype(np.int64, copy=False)


def _epoch_ms(values: np.ndarray, unit: str | None, path: Path, name: str) -> np.ndarray:
    if unit is None:
        top = float(np.max(np.abs(values))) if len(values) else 0.0
        unit = "s" if top < 1e11 else "ms" if top < 1e14 else "us" if top < 1e17 else "ns"
    if values.dtype.kind in "iu":
        raw = values.astype(np.int64, copy=False)
        return _whole_ms(raw, unit, path, name)
    if not np.all(np.isfinite(values)):
        bad = int(np.flatnonzero(~np.isfinite(values))[0])
        raise FormatError(f"{path.name}: time column {name!r} has a non-finite value at data "
                          f"row {bad}. Drop that row or fix it.", bad)
    ms = values * _UNITS[unit]
    whole = np.rint(ms)
    off = np.flatnonzero(np.abs(ms - whole) > 1e-3)
    if len(off):
        raise FormatError(
            f"{path.name}: time column {name!r} read as epoch {unit} has times with fractions "
            f"of a millisecond ({float(values[off[0]])!r} at data row {off[0]}). Pass the right "
            "time_unit=.", float(values[off[0]]))
    return whole.astype(np.int64)


def _open_times(stamps: np.ndarray, iv: Interval, time_is: str, alignment: str | None,
                path: Path, name: str) -> tuple[np.ndarray, str]:
    """Open times and alignment: the stamps themselves, or converted from close times."""
    if alignment is not None:
        candidates: tuple[str, ...] = (alignment,)
    else:
        candidates = ALIGNMENTS if iv.depends_on_alignment() else ("calendar",)
    for al in candidates:
        if time_is == "open":
            if is_aligned(stamps, iv, alignment=al).all():
                return stamps, al
            continue
        if is_aligned(stamps, iv, alignment=al).all():  # bucket ends, exclusive
            return ordinal_to_ms(bucket_ordinal(stamps, iv, alignment=al) - 1, iv,
                                 alignment=al), al
        if is_aligned(stamps + 1, iv, alignment=al).all():  # last milliseconds
            return ordinal_to_ms(bucket_ordinal(stamps, iv, alignment=al), iv,
                                 alignment=al), al
    al = candidates[0]
    if time_is == "open":
        bad = int(np.flatnonzero(~is_aligned(stamps, iv, alignment=al))[0])
        hint = ("If the file holds close times, pass time_is='close'. "
                "Otherwise check the interval")
        what = f"{iv.name} open times"
    else:
        ends = is_aligned(stamps, iv, alignment=al)
        lasts = is_aligned(stamps + 1, iv, alignment=al)
        bad = int(np.flatnonzero(~(lasts if lasts.sum() > ends.sum() else ends))[0])
        hint = ("Close times must all be the candle's last millisecond (open + duration - "
                "1 ms, e.g. 00:59:59.999) or all the bucket end (open + duration, e.g. "
                "01:00). Check the interval")
        what = f"{iv.name} close times"
    others = [a for a in ALIGNMENTS if a != al]
    fits_other = alignment is not None and iv.depends_on_alignment() and _fits(
        stamps, iv, time_is, others[0])
    if fits_other:
        hint = f"They fit {others[0]!r} alignment: pass alignment={others[0]!r}. Or check " \
               "the interval"
    aligned = f" under {al!r} alignment" if iv.depends_on_alignment() else ""
    raise FormatError(
        f"{path.name}: column {name!r} does not hold {what}{aligned}: data row {bad} is "
        f"{to_timestamp(int(stamps[bad]))}. {hint} (interval={iv.name!r}) and the time "
        "column and unit.", int(stamps[bad]))


#: Fewest candles before the spacing of a file's times is taken as evidence of its interval.
_SPACING_EVIDENCE = 3
_SHORTEST_MONTH_MS = 28 * 86_400_000


def _check_spacing(t: np.ndarray, iv: Interval, alignment: str, path: Path) -> None:
    """Refuse a file whose candles are all further apart than ``iv``, on the boundaries
    of a coarser interval: hourly candles imported as ``1m`` would otherwise be stored as
    1m candles with 59 missing after each."""
    if len(t) < _SPACING_EVIDENCE:
        return
    closest = int(np.diff(t).min())
    if closest <= iv.nominal_ms:
        return
    looks = None
    for name in INTERVALS[INTERVALS.index(iv.name) + 1:]:
        cand = parse_interval(name)
        reach = _SHORTEST_MONTH_MS if cand.step_ms(alignment) is None else cand.nominal_ms
        if reach <= closest and bool(is_aligned(t, cand, alignment=alignment).all()):
            looks = cand
    if looks is None:
        return
    raise FormatError(
        f"{path.name}: these do not look like {iv.name} candles: all {len(t)} are at least "
        f"{pd.Timedelta(milliseconds=closest)} apart and open on {looks.name} boundaries, "
        f"so the file looks like {looks.name} candles. Import it with interval="
        f"{looks.name!r} (--interval {looks.name}); nothing was stored.", looks.name)


def _fits(stamps: np.ndarray, iv: Interval, time_is: str, alignment: str) -> bool:
    if is_aligned(stamps, iv, alignment=alignment).all():
        return True
    return time_is == "close" and bool(is_aligned(stamps + 1, iv, alignment=alignment).all())


def _numeric(col: pd.Series, path: Path, name: str, what: str) -> np.ndarray:
    if col.dtype.kind in "iuf":
        return col.to_numpy(dtype=np.float64)
    try:
        return pd.to_numeric(col, errors="raise").to_numpy(dtype=np.float64, na_value=np.nan)
    except (ValueError, TypeError):
        parsed = pd.to_numeric(col, errors="coerce")
        bad = int(np.flatnonzero(parsed.isna().to_numpy() & col.notna().to_numpy())[0])
        raise FormatError(
            f"{path.name}: column {name!r} (for {what!r}) is not numeric: {col.iloc[bad]!r} "
            f"at data row {bad}. Fix the value, or map {what!r} to another column with "
            f"columns={{{what!r}: '<name>'}}.", col.iloc[bad]) from None


def _trade_counts(col: pd.Series, path: Path, name: str) -> pd.api.extensions.ExtensionArray:
    values = _numeric(col, path, name, "trades")
    known = ~np.isnan(values)
    bad = np.flatnonzero(known & (values != np.round(values)))
    if len(bad):
        raise FormatError(
            f"{path.name}: column {name!r} (for 'trades') has a count that is not a whole "
            f"number: {float(values[bad[0]])!r} at data row {bad[0]}. Map 'trades' to the "
            "trade count column, or leave it out.", float(values[bad[0]]))
    return pd.arrays.IntegerArray(np.where(known, values, 0).astype(np.int64), ~known)


_TRUE = {"true", "t", "1", "yes", "y"}
_FALSE = {"false", "f", "0", "no", "n"}


def _flags(col: pd.Series, path: Path, name: str) -> np.ndarray:
    if col.dtype == bool:
        return col.to_numpy()
    text = col.astype(str).str.strip().str.lower()
    bad = np.flatnonzero(~(text.isin(_TRUE | _FALSE | {"1.0", "0.0"})).to_numpy())
    if len(bad) or col.isna().any():
        i = int(bad[0]) if len(bad) else int(np.flatnonzero(col.isna().to_numpy())[0])
        raise FormatError(
            f"{path.name}: column {name!r} (for 'closed') must hold true/false (or 1/0), "
            f"got {col.iloc[i]!r} at data row {i}. Map 'closed' to the right column, or "
            "leave it out to decide closedness from the time.", col.iloc[i])
    return text.isin(_TRUE | {"1.0"}).to_numpy()


def _sorted_unique(t: np.ndarray, values: dict[str, np.ndarray], q: np.ndarray | None,
                   n: pd.api.extensions.ExtensionArray | None, closed: np.ndarray | None,
                   path: Path) -> tuple:
    """Sort by open time; drop rows repeated exactly; raise on different rows at one time."""
    if len(t) < 2 or bool(np.all(t[1:] > t[:-1])):
        return t, values, q, n, closed
    order = np.argsort(t, kind="stable")
    t = t[order]
    values = {k: v[order] for k, v in values.items()}
    q = q[order] if q is not None else None
    n = n[order] if n is not None else None
    closed = closed[order] if closed is not None else None
    later = np.flatnonzero(t[1:] == t[:-1]) + 1
    same = np.ones(len(later), dtype=bool)
    parts: list[np.ndarray] = [*values.values()]
    if q is not None:
        parts.append(q)
    if n is not None:
        parts.append(np.where(n.isna(), np.nan, n.to_numpy(dtype=np.float64, na_value=np.nan)))
    if closed is not None:
        parts.append(closed.astype(np.float64))
    for v in parts:
        a, b = v[later], v[later - 1]
        same &= (a == b) | (np.isnan(a) & np.isnan(b))
    conflicts = later[~same]
    if len(conflicts):
        times = sorted({int(x) for x in t[conflicts]})
        shown = ", ".join(str(to_timestamp(x)) for x in times[:10])
        raise FormatError(
            f"{path.name} holds different candles at the same open time ({len(times)} "
            f"time(s)): {shown}{' ...' if len(times) > 10 else ''}. Nothing was read: keep "
            "one candle per time in the file (candlekit does not guess which is right).",
            times)
    keep = np.ones(len(t), dtype=bool)
    keep[later] = False
    return (t[keep], {k: v[keep] for k, v in values.items()},
            q[keep] if q is not None else None, n[keep] if n is not None else None,
            closed[keep] if closed is not None else None)
