"""The :class:`Store`: candle series in hive-partitioned parquet under one root.

The root is a local directory or an fsspec URL (``s3://bucket/prefix``, ``memory://x``):
see :mod:`candlekit.store.files` for what each backend guarantees,
:mod:`candlekit.store.layout` for the directory scheme, :mod:`candlekit.store.parquet` for
the file format and crash safety, :mod:`candlekit.store.merge` for the upsert rule.

Reads take no lock: every file is replaced atomically, so a reader sees each file whole,
old or new (a read that spans several files while a writer rewrites them may see some
files before and some after that write). Two writers of one series never lose or
duplicate candles: on a local disk they are serialised by an exclusive lock
(:mod:`candlekit.store.lock`); on S3 each file is replaced only if it is still the version
that was merged into (a conditional write), and a writer that loses the race merges again.
"""

from __future__ import annotations

import hashlib
import os
import random
import re
import time
import warnings
from collections.abc import Iterator
from pathlib import Path, PurePath
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa

from ..errors import (
    CandleValidationError,
    CorruptFileError,
    InvalidTimeError,
    SeriesNotFoundError,
    StoreError,
)
from ..frame import empty_frame, frame_alignment
from ..fsutil import translate_os_errors
from ..intervals import INTERVALS, Interval, parse_interval
from ..schema import validate
from ..timeutil import TimeLike, to_ms, to_timestamp
from .files import ABSENT, Files, WriteConflict, is_url, open_files
from .layout import (
    PART_NAME,
    SeriesKey,
    check_case_collision,
    decode_name,
    encode_name,
    interval_dirname,
    interval_from_dirname,
    period_bounds_ms,
    period_dirname,
    period_from_dirname,
    period_kind,
    period_ordinals,
    row_group_ms,
    series_dir,
)
from .merge import WriteStats, merge_tables
from .parquet import (
    FileInfo,
    frame_to_table,
    fsync_dir,
    mkdir_durable,
    read_table,
    table_to_frame,
)

__all__ = ["COVERAGE_COLUMNS", "META_DIR", "Store"]

#: The directory under the store root that holds candlekit's own non-candle files (the task
#: and analysis registries). Its name starts with ``_`` so that pyarrow, pandas, polars,
#: DuckDB, Spark and Dask skip it when they read the root as a parquet dataset.
META_DIR = "_candlekit"

COVERAGE_COLUMNS = ("symbol", "interval", "source", "alignment", "earliest", "latest",
                    "total_candles", "open_candles", "files", "bytes")
_MAX_DERIVED_PERIODS = 64  # beyond this many periods, list the series directory instead
_MAX_ATTEMPTS = 50  # conditional writes of one file lost to other writers before giving up


def _segments(files: Files, path: PurePath, key: str) -> Iterator[tuple[str, str]]:
    """``(value, dirname)`` of each ``key=value`` directory in ``path``."""
    prefix = f"{key}="
    for name in files.subdirs(path):
        if name.startswith(prefix):
            yield name[len(prefix):], name


def default_registry_dir(url: str) -> Path:
    """Where the task and analysis registries of a store at ``url`` (an object store)
    live by default: a local directory, ``$CANDLEKIT_HOME/stores/<name>`` (default
    ``~/.candlekit``), one per store URL."""
    home = Path(os.environ.get("CANDLEKIT_HOME") or Path.home() / ".candlekit").expanduser()
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", url.split("://", 1)[-1]).strip("_")[:80]
    digest = hashlib.sha1(url.encode()).hexdigest()[:8]
    return home.absolute() / "stores" / f"{url.split('://', 1)[0]}-{slug}-{digest}"


class Store:
    """A candle store: one parquet dataset of every source, symbol and interval.

    Parameters
    ----------
    root : str or os.PathLike, optional
        Directory of the store, or an fsspec URL: ``s3://bucket/prefix`` (needs
        ``pip install 'candlekit[s3]'``), ``memory://name``, ``gs://...`` (read-only).
        Defaults to the ``CANDLEKIT_DATA`` environment variable, else ``./data``. Created
        on the first write.
    storage_options : dict, optional
        Passed to the fsspec filesystem of a URL (credentials, ``client_kwargs`` with an
        ``endpoint_url``, ...). Defaults to the JSON in ``CANDLEKIT_STORAGE_OPTIONS`` for a
        URL.
    registry_dir : str or os.PathLike, optional
        A local directory for the store's task and analysis registries (SQLite). Defaults
        to ``<root>/_candlekit`` for a local store, and to a local directory per URL for an
        object store (``$CANDLEKIT_REGISTRY_DIR`` if set, else
        :func:`default_registry_dir`): SQLite needs a local disk.

    Attributes
    ----------
    root : pathlib.Path or str
        The local directory, or the URL of an object store.
    local : bool
        Whether the store is a local directory.
    write_conflicts : int
        Conditional writes this object lost to another writer and retried (object stores).

    Examples
    --------
    >>> store = Store("data")                                   # doctest: +SKIP
    >>> store.write(df)            # df.attrs: symbol, interval, source   # doctest: +SKIP
    WriteStats(inserted=1440, replaced=0, unchanged=0, kept=0, files_written=1)
    >>> store.read("BTC", "1m", "2025-07-01", "2025-07-02")     # doctest: +SKIP
    """

    def __init__(self, root: str | os.PathLike[str] | None = None, *,
                 storage_options: dict[str, Any] | None = None,
                 registry_dir: str | os.PathLike[str] | None = None):
        if root is None:
            root = os.environ.get("CANDLEKIT_DATA") or "data"
        if storage_options is None and is_url(root):
            storage_options = _env_storage_options()
        self._files = open_files(root, storage_options)
        self.local = self._files.local
        self._base = self._files.base
        self.root: Any = self._base if self.local else self._files.url
        self.storage_options = dict(storage_options or {})
        if registry_dir is None and not self.local:
            registry_dir = os.environ.get("CANDLEKIT_REGISTRY_DIR") or None
        if registry_dir is not None:
            self.meta_dir = Path(registry_dir).expanduser().absolute()
        elif self.local:
            self.meta_dir = self._base / META_DIR
        else:
            self.meta_dir = default_registry_dir(self._files.url)
        self.write_conflicts = 0

    def __repr__(self) -> str:
        return f"Store({str(self.root)!r})"

    @property
    def url(self) -> str:
        """The store root as a string any fsspec-aware reader accepts (with
        :attr:`storage_options`): a local path, or the object store's URL."""
        return str(self.root)

    @property
    def filesystem(self) -> Any:
        """The fsspec filesystem of the store (for ``pyarrow.dataset``, DuckDB's
        ``register_filesystem``, ...)."""
        if self.local:
            import fsspec
            return fsspec.filesystem("file")
        return self._files.fs  # type: ignore[attr-defined]

    def meta_path(self, name: str) -> Path:
        """Where candlekit keeps one of this store's own non-candle files.

        Parameters
        ----------
        name : str
            A file name such as ``"tasks.sqlite"`` or ``"analyses.sqlite"``.

        Returns
        -------
        pathlib.Path
            ``<registry_dir>/<name>``: ``<root>/_candlekit/<name>`` for a local store by
            default (see :data:`META_DIR`); the directory is not created here.
        """
        return self.meta_dir / name

    # --- paths -------------------------------------------------------------------------

    def series_path(self, symbol: str, interval: str | Interval, *, source: str
                    ) -> Path | str:
        """Directory of one series (a URL for an object store): point pyarrow, polars or
        DuckDB at it directly."""
        sdir = series_dir(self._base, source, symbol, interval)
        return sdir if self.local else self._files.display(sdir)

    def _sdir(self, source: str, symbol: str, interval: str | Interval) -> Any:
        return series_dir(self._base, source, symbol, interval)

    def _has_data(self, source: str, symbol: str, interval: str) -> bool:
        kind = period_kind(interval)
        if not self.local:  # keys are case-sensitive: one listing of the series answers
            return any(period_from_dirname(name, kind) is not None
                       for name in self._files.parts(self._sdir(source, symbol, interval)))
        src_dir = f"source={encode_name(source, what='source')}"
        sym_dir = f"symbol={encode_name(symbol)}"
        iv_dir = f"interval={interval_dirname(interval)}"
        ls = self._files.listdir
        # exact names from listings, so that a case-insensitive filesystem cannot answer
        # for a symbol spelled differently
        if src_dir not in ls(self._base) or sym_dir not in ls(self._base / src_dir):
            return False
        if iv_dir not in ls(self._base / src_dir / sym_dir):
            return False
        sdir = self._base / src_dir / sym_dir / iv_dir
        return any(period_from_dirname(name, kind) is not None
                   for name in self._files.parts(sdir))

    def period_file(self, symbol: str, interval: str | Interval, ordinal: int, *,
                    source: str) -> Path | str | None:
        """The file of one period of a series (see :mod:`candlekit.store.layout`), or None
        when it does not exist."""
        iv = parse_interval(interval)
        path = self._sdir(source, symbol, iv) / period_dirname(ordinal, period_kind(iv)) / PART_NAME
        if not self._files.exists(path):
            return None
        return path if self.local else self._files.display(path)

    def _prepare_dirs(self, source: str, symbol: str, sdir: Any) -> None:
        src_name = f"source={encode_name(source, what='source')}"
        sym_name = f"symbol={encode_name(symbol)}"
        ls = self._files.listdir
        if not self.local:
            self._files.prepare_series(sdir)
            check_case_collision(self._base, src_name, what="source", siblings=ls(self._base))
            check_case_collision(self._base / src_name, sym_name, what="symbol",
                                 siblings=ls(self._base / src_name))
            return
        self._base.mkdir(parents=True, exist_ok=True)
        check_case_collision(self._base, src_name, what="source")
        check_case_collision(self._base / src_name, sym_name, what="symbol")
        for d in (self._base / src_name, self._base / src_name / sym_name, sdir):
            mkdir_durable(d)

    # --- writing -----------------------------------------------------------------------

    def write(self, df: pd.DataFrame) -> WriteStats:
        """Upsert a candle frame into its series.

        Parameters
        ----------
        df : pandas.DataFrame
            A canonical candle frame whose ``attrs`` name its ``symbol``, ``interval`` and
            ``source`` (``alignment`` defaults to ``"calendar"``). Extra columns are
            dropped.

        Returns
        -------
        WriteStats
            Counts of candles inserted, replaced, unchanged and kept, and files written.

        Raises
        ------
        CandleValidationError
            If ``df`` lacks those attrs or breaks the candle schema; nothing is written.
        StoreError
            If the series is stored under another alignment (1w, 1M), or the symbol or
            source differs only by case from a stored one; or when the machine refuses
            the write (disk full, read-only filesystem, permission denied): the message
            names the path and what to do, and the stored candles are unchanged.
        CorruptFileError
            If a file the write must merge into cannot be read; it is never overwritten.

        Notes
        -----
        Where a candle is already stored at the same open time, a stored closed candle is
        kept over an incoming open one; in every other case the incoming candle wins.
        Each file is replaced atomically, under an exclusive per-series lock (local), or
        by a conditional write that is merged again and retried when another writer
        replaced the file first (S3).
        """
        symbol, interval, source = _require_attrs(df)
        alignment = frame_alignment(df)
        validate(df)
        stats = WriteStats()
        if len(df) == 0:
            return stats
        iv = parse_interval(interval)
        table = frame_to_table(df)
        sdir = self._sdir(source, symbol, iv)
        with translate_os_errors(self._files.display(sdir)):
            return self._write(df, table, sdir, iv, symbol=symbol, source=source,
                               alignment=alignment)

    def _write(self, df: pd.DataFrame, table: pa.Table, sdir: Any, iv: Interval, *,
               symbol: str, source: str, alignment: str) -> WriteStats:
        stats = WriteStats()
        self._prepare_dirs(source, symbol, sdir)
        with self._files.series_lock(sdir):
            stored_alignment = self._series_alignment(sdir, iv)
            if (stored_alignment is not None and stored_alignment != alignment
                    and iv.depends_on_alignment()):
                raise _alignment_error(symbol, iv, source, stored_alignment, alignment)
            meta = {"symbol": symbol, "interval": iv.name, "source": source,
                    "alignment": stored_alignment or alignment}
            self._files.remove_stale_temps(sdir)
            kind = period_kind(iv)
            ms = df.index.asi8
            first, last = period_ordinals(ms[[0, -1]], kind)
            for ordinal in range(int(first), int(last) + 1):
                lo, hi = period_bounds_ms(ordinal, kind)
                i, j = np.searchsorted(ms, [lo, hi])
                if j > i:
                    stats += self._write_period(sdir / period_dirname(ordinal, kind),
                                                table.slice(int(i), int(j - i)), meta, iv)
        return stats

    def _write_period(self, pdir: Any, part: pa.Table, meta: dict[str, Any],
                      iv: Interval) -> WriteStats:
        path = pdir / PART_NAME
        for attempt in range(_MAX_ATTEMPTS):
            stored, expect = None, ABSENT
            try:
                info = self._files.read_info(path, keep_open=True)
            except FileNotFoundError:
                info = None
            if info is not None:
                _check_meta(info, meta)
                have = info.meta.get("alignment")
                if iv.depends_on_alignment() and have not in (None, meta["alignment"]):
                    raise _alignment_error(meta["symbol"], iv, meta["source"], have,
                                           meta["alignment"])
                stored, expect = read_table(info), info.token
            merged, stats = merge_tables(stored, part)
            if not (stats.inserted or stats.replaced):
                return stats
            try:
                with translate_os_errors(self._files.display(path)):
                    self._files.write(path, merged, meta, row_group_ms=row_group_ms(iv),
                                      expect=expect)
            except WriteConflict:  # another writer replaced it first: merge into theirs
                self.write_conflicts += 1
                time.sleep(random.uniform(0, min(0.5, 0.01 * 2 ** min(attempt, 6))))
                continue
            stats.files_written = 1
            return stats
        raise StoreError(
            f"Gave up writing {self._files.display(path)} after {_MAX_ATTEMPTS} attempts: "
            "other writers replaced it every time first. Nothing of this write was lost or "
            "stored twice; run it again when fewer processes write this series.")

    def delete(self, symbol: str, interval: str | Interval, *, source: str) -> int:
        """Delete one series' files; returns how many were removed.

        Raises
        ------
        SeriesNotFoundError
            If the store does not hold that series.
        """
        iv = parse_interval(interval)
        if not self._has_data(source, symbol, iv.name):
            raise self._not_found(symbol, iv.name, source)
        sdir = self._sdir(source, symbol, iv)
        with translate_os_errors(self._files.display(sdir)):
            return self._delete(sdir, iv)

    def _delete(self, sdir: Any, iv: Interval) -> int:
        removed = 0
        # the lock file stays, so waiting writers keep a valid lock
        with self._files.series_lock(sdir):
            self._files.remove_stale_temps(sdir)
            for name in self._files.parts(sdir):
                if period_from_dirname(name, period_kind(iv)) is None:
                    continue
                self._files.remove(sdir / name / PART_NAME)
                removed += 1
            if self.local:
                for name in self._files.listdir(sdir):  # empty period directories
                    if name.startswith("period=") and not self._files.listdir(sdir / name):
                        (sdir / name).rmdir()
                fsync_dir(sdir)
        return removed

    # --- reading -----------------------------------------------------------------------

    def read(self, symbol: str, interval: str | Interval, start: TimeLike | None = None,
             end: TimeLike | None = None, *, source: str | None = None) -> pd.DataFrame:
        """Candles of one series with open time in ``[start, end)``.

        Parameters
        ----------
        symbol : str
            Coin name as stored, e.g. ``"BTC"``, ``"xyz:NVDA"``, ``"@107"``.
        interval : str
            One of the 15 intervals (``"1m"`` minute, ``"1M"`` month).
        start, end : time, optional
            Inclusive start and exclusive end of open times: ISO string, datetime,
            Timestamp or epoch ms (naive means UTC). Omitted means unbounded.
        source : str, optional
            Needed only when several sources hold the series.

        Returns
        -------
        pandas.DataFrame
            The canonical frame (``attrs`` set); empty when nothing is stored in the range.
            Only files and row groups overlapping the range are read.

        Raises
        ------
        SeriesNotFoundError
            If no source (or not ``source``) holds the series; the message lists what the
            store has for ``symbol``.
        StoreError
            If ``source`` is omitted and several sources hold the series.
        CorruptFileError
            If a file in the range cannot be read.
        InvalidTimeError
            If ``end`` is not after ``start``.
        """
        iv = parse_interval(interval)
        s = to_ms(start) if start is not None else None
        e = to_ms(end) if end is not None else None
        if s is not None and e is not None and e <= s:
            raise InvalidTimeError(
                f"end ({to_timestamp(e)}) must be after start ({to_timestamp(s)}): swap them "
                "or widen the range.", (start, end))
        source = self._resolve_source(symbol, iv.name, source)
        sdir = self._sdir(source, symbol, iv)
        kind = period_kind(iv)
        tables: list[pa.Table] = []
        meta: dict[str, Any] | None = None
        for ordinal in self._periods(sdir, kind, s, e):
            path = sdir / period_dirname(ordinal, kind) / PART_NAME
            lo, hi = period_bounds_ms(ordinal, kind)
            covered = min(hi, e if e is not None else hi) - max(lo, s if s is not None else lo)
            try:
                info, part = self._files.read_rows(path, s, e, whole=2 * covered >= hi - lo)
            except FileNotFoundError:  # no candles in that period
                continue
            _check_meta(info, {"symbol": symbol, "interval": iv.name, "source": source})
            meta = info.meta
            if part.num_rows:
                tables.append(part)
        alignment = ((meta or {}).get("alignment") or self._series_alignment(sdir, iv)
                     or "calendar")
        attrs = {"symbol": symbol, "interval": iv.name, "alignment": alignment,
                 "source": source}
        if not tables:
            return empty_frame(**attrs)
        table = tables[0] if len(tables) == 1 else pa.concat_tables(tables)
        return table_to_frame(table, attrs)

    def _periods(self, sdir: Any, kind: str, s: int | None, e: int | None) -> list[int]:
        """Period ordinals whose files may hold open times in ``[s, e)``."""
        if s is not None and e is not None:
            first, last = (int(x) for x in period_ordinals(np.array([s, e - 1]), kind))
            if last - first < _MAX_DERIVED_PERIODS:
                return list(range(first, last + 1))
        ordinals = sorted(o for o in (period_from_dirname(n, kind)
                                      for n in self._files.listdir(sdir)) if o is not None)
        out = []
        for o in ordinals:
            lo, hi = period_bounds_ms(o, kind)
            if (s is None or hi > s) and (e is None or lo < e):
                out.append(o)
        return out

    def _resolve_source(self, symbol: str, interval: str, source: str | None) -> str:
        if source is not None:
            if not self._has_data(source, symbol, interval):
                raise self._not_found(symbol, interval, source)
            return source
        holders = [src for src in self.sources() if self._has_data(src, symbol, interval)]
        if len(holders) == 1:
            return holders[0]
        if not holders:
            raise self._not_found(symbol, interval, None)
        raise StoreError(
            f"{symbol} {interval} is stored under several sources: {', '.join(holders)}. "
            f"Pick one with source=, e.g. store.read({symbol!r}, {interval!r}, "
            f"source={holders[0]!r}).")

    def _not_found(self, symbol: str, interval: str, source: str | None
                   ) -> SeriesNotFoundError:
        have = [k for k in self.series(symbol=symbol)]
        where = f" from {source!r}" if source is not None else ""
        if have:
            listing = "; ".join(f"{k.interval} ({k.source})" for k in have)
            hint = f"The store has {symbol}: {listing}."
        else:
            syms = self.symbols()
            hint = (f"The store has no {symbol!r} at all"
                    + (f" (symbols: {', '.join(syms[:20])}{' ...' if len(syms) > 20 else ''})"
                       if syms else " (it is empty)") + ".")
        return SeriesNotFoundError(
            f"No {symbol} {interval} candles{where} in the store at {self.root}. {hint} "
            "Backfill the series first, or read one that exists.",
            (source, symbol, interval))

    # --- listing -----------------------------------------------------------------------

    def sources(self) -> list[str]:
        """Every source name in the store, sorted."""
        return sorted(decode_name(v) for v, _ in _segments(self._files, self._base, "source"))

    def series(self, *, source: str | None = None, symbol: str | None = None,
               interval: str | None = None) -> list[SeriesKey]:
        """Every stored ``(source, symbol, interval)``, optionally filtered, sorted.

        Lists directories only; a series counts once it holds at least one file.
        """
        wanted_iv = parse_interval(interval).name if interval is not None else None
        if not self.local:  # one (paginated) listing of every key, not a walk
            keys = {k for k in self._object_series()
                    if (source is None or k.source == source)
                    and (symbol is None or k.symbol == symbol)
                    and (wanted_iv is None or k.interval == wanted_iv)}
            return sorted(keys, key=lambda k: (k.source, k.symbol, INTERVALS.index(k.interval)))
        out = []
        files, base = self._files, self._base
        for src, src_dir in _segments(files, base, "source"):
            src = decode_name(src)
            if source is not None and src != source:
                continue
            for sym, sym_dir in _segments(files, base / src_dir, "symbol"):
                sym = decode_name(sym)
                if symbol is not None and sym != symbol:
                    continue
                for ivd, _ in _segments(files, base / src_dir / sym_dir, "interval"):
                    try:
                        iv = interval_from_dirname(ivd)
                    except ValueError:
                        continue
                    if (wanted_iv is None or iv == wanted_iv) and self._has_data(src, sym, iv):
                        out.append(SeriesKey(src, sym, iv))
        return sorted(out, key=lambda k: (k.source, k.symbol, INTERVALS.index(k.interval)))

    def _object_series(self) -> Iterator[SeriesKey]:
        """Every series with a period file, from one listing of an object store."""
        for rel in self._files.find_parts(self._base):
            parts = rel.split("/")
            if len(parts) != 5 or not all(p.startswith(k + "=") for p, k in zip(
                    parts, ("source", "symbol", "interval", "period"), strict=False)):
                continue
            try:
                iv = interval_from_dirname(parts[2][len("interval="):])
            except ValueError:
                continue
            if period_from_dirname(parts[3], period_kind(iv)) is None:
                continue
            yield SeriesKey(decode_name(parts[0][len("source="):]),
                            decode_name(parts[1][len("symbol="):]), iv)

    def to_dask(self, interval: str, *, symbols: Any = None, start: TimeLike | None = None,
                end: TimeLike | None = None, source: str | None = None) -> Any:
        """A Dask DataFrame of many series, one partition per file: see
        :func:`candlekit.cluster.to_dask` (needs ``pip install 'candlekit[dask]'``)."""
        from ..cluster.frames import to_dask
        return to_dask(self, interval, symbols=symbols, start=start, end=end, source=source)

    def symbols(self, *, source: str | None = None) -> list[str]:
        """Every symbol with stored candles (from ``source`` only, if given), sorted."""
        return sorted({k.symbol for k in self.series(source=source)})

    def coverage(self, *, symbol: str | None = None, interval: str | None = None,
                 source: str | None = None,
                 errors: Literal["warn", "raise"] = "warn") -> pd.DataFrame:
        """What the store holds, per series, from parquet footers only (no rows are read).

        Parameters
        ----------
        symbol, interval, source : str, optional
            Filters.
        errors : {"warn", "raise"}, default "warn"
            A corrupted file is skipped with a warning naming it, or raises
            :class:`CorruptFileError`.

        Returns
        -------
        pandas.DataFrame
            One row per series: ``symbol, interval, source, alignment``, ``earliest`` and
            ``latest`` open times (UTC), ``total_candles``, ``open_candles`` (not yet
            closed), ``files`` and ``bytes``.
        """
        if errors not in ("warn", "raise"):
            raise ValueError(f"errors must be 'warn' or 'raise', not {errors!r}.")
        rows = []
        keys = self.series(source=source, symbol=symbol, interval=interval)

        def infos_of(key: SeriesKey) -> list[FileInfo]:
            return list(self._infos(key, errors))

        if self.local:
            per_key: Any = map(infos_of, keys)
        else:  # footers over the network: many requests in flight at once
            from concurrent.futures import ThreadPoolExecutor
            with ThreadPoolExecutor(max_workers=16) as pool:
                per_key = list(pool.map(infos_of, keys))
        for key, infos in zip(keys, per_key, strict=True):
            if not infos:
                continue
            rows.append({
                "symbol": key.symbol, "interval": key.interval, "source": key.source,
                "alignment": infos[0].meta.get("alignment"),
                "earliest": min(i.earliest for i in infos if i.earliest is not None),
                "latest": max(i.latest for i in infos if i.latest is not None),
                "total_candles": sum(i.rows for i in infos),
                "open_candles": sum(i.open_rows for i in infos),
                "files": len(infos), "bytes": sum(i.bytes for i in infos),
            })
        return _coverage_frame(rows)

    def file_problems(self, symbol: str, interval: str | Interval, *, source: str
                      ) -> list[tuple[Path | str, str]]:
        """``(path, reason)`` of every file of one series whose footer cannot be read
        (path as :meth:`series_path` gives it)."""
        iv = parse_interval(interval)
        sdir = self._sdir(source, symbol, iv)
        out: list[tuple[Path | str, str]] = []
        for name in self._files.parts(sdir):
            if period_from_dirname(name, period_kind(iv)) is None:
                continue
            path = sdir / name / PART_NAME
            try:
                self._files.read_info(path)
            except FileNotFoundError:  # deleted since the listing
                continue
            except CorruptFileError as exc:
                out.append((path if self.local else self._files.display(path), exc.reason))
        return out

    def _series_alignment(self, sdir: Any, iv: Interval) -> str | None:
        """The alignment recorded in the series' files (the first readable one), or None."""
        kind = period_kind(iv)
        first_error = None
        for name in self._files.parts(sdir):
            if period_from_dirname(name, kind) is None:
                continue
            try:
                return self._files.read_info(sdir / name / PART_NAME).meta.get("alignment")
            except FileNotFoundError:
                continue
            except CorruptFileError as exc:
                first_error = first_error or exc
        if first_error is not None:
            raise first_error
        return None

    def _infos(self, key: SeriesKey, errors: str) -> Iterator[FileInfo]:
        sdir = self._sdir(key.source, key.symbol, key.interval)
        kind = period_kind(key.interval)
        for name in self._files.parts(sdir):
            if period_from_dirname(name, kind) is None:
                continue
            try:
                info = self._files.read_info(sdir / name / PART_NAME)
            except FileNotFoundError:  # deleted since the listing
                continue
            except CorruptFileError as exc:
                if errors == "raise":
                    raise
                warnings.warn(f"coverage() skipped a file: {exc}", RuntimeWarning, stacklevel=3)
                continue
            if info.rows:
                yield info


# --- helpers ---------------------------------------------------------------------------


def _require_attrs(df: pd.DataFrame) -> tuple[str, str, str]:
    missing = [k for k in ("symbol", "interval", "source") if not df.attrs.get(k)]
    if missing:
        raise CandleValidationError(
            f"The frame lacks df.attrs {missing}: the store files candles by source, symbol "
            "and interval. Set them, e.g. df.attrs.update(symbol='BTC', interval='1h', "
            "source='hyperliquid'), or build the frame with make_frame(..., symbol=, "
            "interval=, source=).")
    a = df.attrs
    return a["symbol"], parse_interval(a["interval"]).name, a["source"]


def _check_meta(info: FileInfo, meta: dict[str, Any]) -> None:
    for k in ("symbol", "interval", "source"):
        if info.meta.get(k) != meta[k]:
            raise CorruptFileError(
                info.path, f"its metadata says {k}={info.meta.get(k)!r} but its directory "
                f"says {meta[k]!r} (a file moved by hand?)")


def _alignment_error(symbol: str, iv: Interval, source: str, stored: str, incoming: str
                     ) -> StoreError:
    return StoreError(
        f"{symbol} {iv.name} ({source}) is stored with {stored!r} alignment but the frame "
        f"has {incoming!r}: its {iv.name} buckets start at different times. Resample to "
        f"{stored!r} alignment first (candlekit.resample(..., alignment=...)), or store it "
        "under another source name.")


def _env_storage_options() -> dict[str, Any] | None:
    """``storage_options`` from the JSON in ``CANDLEKIT_STORAGE_OPTIONS``, if set."""
    raw = os.environ.get("CANDLEKIT_STORAGE_OPTIONS")
    if not raw:
        return None
    import json
    try:
        opts = json.loads(raw)
    except ValueError as exc:
        raise StoreError(f"CANDLEKIT_STORAGE_OPTIONS is not valid JSON ({exc}): set it to an "
                         'object such as {"anon": false}, or unset it.') from None
    if not isinstance(opts, dict):
        raise StoreError("CANDLEKIT_STORAGE_OPTIONS must be a JSON object such as "
                         '{"anon": false}, not ' + f"{raw!r}.")
    return opts


def _coverage_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=list(COVERAGE_COLUMNS))
    for c in ("earliest", "latest"):
        df[c] = pd.to_datetime(np.asarray(df[c], dtype=np.int64), unit="ms", utc=True
                               ).as_unit("ms")
    for c in ("total_candles", "open_candles", "files", "bytes"):
        df[c] = df[c].astype(np.int64)
    return df
