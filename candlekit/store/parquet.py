"""Store files: the arrow schema, frame <-> table conversion, and crash-safe parquet IO.

Files hold plain columns that any parquet reader understands (no pandas metadata):
``time`` timestamp[ms, tz=UTC], ``open high low close volume`` float64, ``quote_volume``
float64 (nullable), ``trades`` int64 (nullable), ``closed`` bool. The key-value metadata
key ``candlekit`` holds JSON with the series' ``symbol``, ``interval``, ``alignment``,
``source``, the ``schema_version`` and the number of ``open_candles``, so that coverage
is computed from footers alone.

:func:`write_atomic` writes a temporary file in the target directory, fsyncs it, renames
it over the target with :func:`os.replace` and fsyncs the directory: a crash leaves the
old file or the new one, never a torn one.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import CorruptFileError
from ..frame import masked_parts
from ..fsutil import os_error
from ..timeutil import to_index
from .layout import temp_name

__all__ = [
    "METADATA_KEY",
    "SCHEMA",
    "SCHEMA_VERSION",
    "FileInfo",
    "corrupt",
    "encode_table",
    "frame_to_table",
    "fsync_dir",
    "info_from_parquet",
    "mkdir_durable",
    "read_info",
    "read_table",
    "table_to_frame",
    "write_atomic",
]

SCHEMA_VERSION = 1
METADATA_KEY = b"candlekit"
_TS = pa.timestamp("ms", tz="UTC")
SCHEMA = pa.schema([
    pa.field("time", _TS, nullable=False),
    pa.field("open", pa.float64(), nullable=False),
    pa.field("high", pa.float64(), nullable=False),
    pa.field("low", pa.float64(), nullable=False),
    pa.field("close", pa.float64(), nullable=False),
    pa.field("volume", pa.float64(), nullable=False),
    pa.field("quote_volume", pa.float64(), nullable=True),
    pa.field("trades", pa.int64(), nullable=True),
    pa.field("closed", pa.bool_(), nullable=False),
])
_FLOATS = ("open", "high", "low", "close", "volume")


@dataclass(frozen=True)
class FileInfo:
    """What a file's footer says, read without loading any rows.

    Attributes
    ----------
    path : pathlib.Path or str
        A local path, or the URL of an object in an object store.
    meta : dict
        The ``candlekit`` key-value metadata (symbol, interval, alignment, source, ...).
    rows, open_rows, bytes : int
    row_group_min, row_group_max : numpy.ndarray of int64
        ``time`` statistics of each row group, epoch ms.
    parquet_file : pyarrow.parquet.ParquetFile or None
        The open file, when read with ``keep_open=True``.
    token : str or None
        The version of the file that was read (an object store's ETag, say), for a
        conditional write that replaces exactly that version; None on a local disk.
    """

    path: Path | str
    meta: dict[str, Any]
    rows: int
    open_rows: int
    bytes: int
    row_group_min: np.ndarray
    row_group_max: np.ndarray
    parquet_file: pq.ParquetFile | None = None
    token: str | None = None

    @property
    def earliest(self) -> int | None:
        """First open time in the file (epoch ms), None when empty."""
        return int(self.row_group_min.min()) if len(self.row_group_min) else None

    @property
    def latest(self) -> int | None:
        """Last open time in the file (epoch ms), None when empty."""
        return int(self.row_group_max.max()) if len(self.row_group_max) else None


# --- conversion ----------------------------------------------------------------------


def frame_to_table(df: pd.DataFrame) -> pa.Table:
    """The canonical columns of a validated frame as an arrow table in :data:`SCHEMA`.

    Extra columns (such as the resampler's ``constituents``) are dropped.
    """
    q, q_null = masked_parts(df["quote_volume"])
    n, n_null = masked_parts(df["trades"])
    arrays = [pa.array(df.index.asi8, type=pa.int64()).view(_TS)]
    arrays += [pa.array(df[c].to_numpy(np.float64), type=pa.float64()) for c in _FLOATS]
    arrays.append(pa.array(np.asarray(q, dtype=np.float64), mask=np.asarray(q_null, bool),
                           type=pa.float64()))
    arrays.append(pa.array(np.asarray(n, dtype=np.int64), mask=np.asarray(n_null, bool),
                           type=pa.int64()))
    arrays.append(pa.array(df["closed"].to_numpy(bool), type=pa.bool_()))
    return pa.Table.from_arrays(arrays, schema=SCHEMA)


def _numpy(col: pa.ChunkedArray, dtype: Any) -> np.ndarray:
    if col.num_chunks == 1:
        return col.chunk(0).to_numpy(zero_copy_only=False).astype(dtype, copy=False)
    return col.to_numpy().astype(dtype, copy=False)


def table_to_frame(table: pa.Table, attrs: dict[str, Any]) -> pd.DataFrame:
    """A canonical candle frame from a table in :data:`SCHEMA`, with ``attrs`` set."""
    t = table.column("time")
    ms = _numpy(pa.chunked_array([c.view(pa.int64()) for c in t.chunks], pa.int64()),
                np.int64)
    data: dict[str, Any] = {c: _numpy(table.column(c), np.float64) for c in _FLOATS}
    q = table.column("quote_volume")
    q_vals = _numpy(q.fill_null(0.0) if q.null_count else q, np.float64)
    q_mask = _numpy(q.is_null(), bool) if q.null_count else np.zeros(len(q), bool)
    data["quote_volume"] = pd.arrays.FloatingArray(q_vals, q_mask)
    n = table.column("trades")
    n_vals = _numpy(n.fill_null(0) if n.null_count else n, np.int64)
    n_mask = _numpy(n.is_null(), bool) if n.null_count else np.zeros(len(n), bool)
    data["trades"] = pd.arrays.IntegerArray(n_vals, n_mask)
    data["closed"] = _numpy(table.column("closed"), bool)
    df = pd.DataFrame(data, index=to_index(ms), copy=False)
    df.attrs.update(attrs)
    return df


# --- reading -------------------------------------------------------------------------


def corrupt(path: Path | str, exc: BaseException) -> CorruptFileError:
    """The :class:`CorruptFileError` for a file that failed to parse with ``exc``."""
    return CorruptFileError(path, f"{type(exc).__name__}: {exc}")


_corrupt = corrupt


def read_info(path: Path, *, keep_open: bool = False) -> FileInfo:
    """Read a store file's footer: candlekit metadata, row counts and ``time`` statistics.

    Parameters
    ----------
    path : pathlib.Path
    keep_open : bool, default False
        Keep the :class:`pyarrow.parquet.ParquetFile` on the result for row-group reads.

    Raises
    ------
    FileNotFoundError
        If there is no file at ``path``.
    StoreError
        If this user may not read it (not a damaged file).
    CorruptFileError
        If the footer cannot be read, the columns are not the store's, or the ``time``
        statistics are missing.
    """
    try:
        pf = pq.ParquetFile(path)
        pf.schema_arrow  # noqa: B018 - decodes the footer's schema here, inside the guard
    except FileNotFoundError:
        raise
    except PermissionError as exc:  # not damage: the file is fine, this user cannot read it
        raise os_error(exc, path, doing="read") from None
    except (OSError, pa.ArrowException, ValueError) as exc:
        raise _corrupt(path, exc) from None
    return info_from_parquet(pf, path=Path(path), size=None, keep_open=keep_open)


def info_from_parquet(pf: pq.ParquetFile, *, path: Path | str, size: int | None,
                      keep_open: bool, token: str | None = None) -> FileInfo:
    """The :class:`FileInfo` of an opened parquet file (checks it is a store file).

    Parameters
    ----------
    pf : pyarrow.parquet.ParquetFile
    path : pathlib.Path or str
        Where it is (named in errors).
    size : int or None
        Its size in bytes (None: ask the local filesystem).
    keep_open : bool
        Keep ``pf`` on the result for row-group reads.
    token : str, optional
        Its version (see :attr:`FileInfo.token`).

    Raises
    ------
    CorruptFileError
        If the columns are not the store's, or the metadata or statistics are missing.
    """
    try:
        md = pf.metadata
        schema = pf.schema_arrow
    except (pa.ArrowException, ValueError) as exc:
        raise _corrupt(path, exc) from None
    if not schema.remove_metadata().equals(SCHEMA.remove_metadata()):
        raise CorruptFileError(path, f"unexpected columns {schema.names} / types, not a "
                                     "candlekit store file")
    raw = (schema.metadata or {}).get(METADATA_KEY)
    try:
        meta = json.loads(raw) if raw is not None else None
    except ValueError as exc:
        raise _corrupt(path, exc) from None
    if not isinstance(meta, dict):
        raise CorruptFileError(path, "no candlekit key-value metadata")
    n_groups = md.num_row_groups
    lo = np.empty(n_groups, dtype=np.int64)
    hi = np.empty(n_groups, dtype=np.int64)
    for i in range(n_groups):
        stats = md.row_group(i).column(0).statistics
        if stats is None or not stats.has_min_max:
            raise CorruptFileError(path, f"row group {i} has no time statistics")
        lo[i], hi[i] = stats.min_raw, stats.max_raw
    return FileInfo(path, meta, md.num_rows, int(meta.get("open_candles", 0)),
                    os.path.getsize(path) if size is None else size, lo, hi,
                    pf if keep_open else None, token)



def read_table(info: FileInfo, start_ms: int | None = None, end_ms: int | None = None
               ) -> pa.Table:
    """Rows of a file with open time in ``[start_ms, end_ms)``, reading only overlapping
    row groups. ``info`` must come from :func:`read_info` with ``keep_open=True``.

    Raises
    ------
    CorruptFileError
        If a row group cannot be decoded.
    """
    lo = np.iinfo(np.int64).min if start_ms is None else start_ms
    hi = np.iinfo(np.int64).max if end_ms is None else end_ms
    groups = np.flatnonzero((info.row_group_max >= lo) & (info.row_group_min < hi))
    if not len(groups):
        return SCHEMA.empty_table()
    pf = info.parquet_file if info.parquet_file is not None else pq.ParquetFile(info.path)
    try:
        table = pf.read_row_groups(groups.tolist(), use_threads=True)
    except (OSError, pa.ArrowException, ValueError) as exc:
        if info.token is not None and not isinstance(exc, (pa.ArrowException, ValueError)):
            raise  # an object store's network error (or a file replaced mid-read), not damage
        raise _corrupt(info.path, exc) from None
    first, last = int(info.row_group_min[groups[0]]), int(info.row_group_max[groups[-1]])
    if first >= lo and last < hi:
        return table.replace_schema_metadata(None)
    ms = _numpy(pa.chunked_array([c.view(pa.int64()) for c in table.column("time").chunks],
                                 pa.int64()), np.int64)
    i, j = np.searchsorted(ms, [lo, hi])
    return table.slice(int(i), int(j - i)).replace_schema_metadata(None)


# --- writing -------------------------------------------------------------------------


def fsync_dir(path: Path) -> None:
    """Make a directory's entries (a rename, a new file) durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _prepare(table: pa.Table, meta: dict[str, Any], row_group_ms: int | None
             ) -> tuple[pa.Table, pa.Schema, np.ndarray]:
    """The table cast to the file schema (``meta`` as JSON metadata) and its row-group cuts."""
    ms = _numpy(pa.chunked_array([c.view(pa.int64()) for c in table.column("time").chunks],
                                 pa.int64()), np.int64)
    meta = {**meta, "schema_version": SCHEMA_VERSION,
            "open_candles": int(len(ms) - np.count_nonzero(_numpy(table.column("closed"), bool)))}
    schema = SCHEMA.with_metadata({METADATA_KEY: json.dumps(meta, sort_keys=True).encode()})
    table = table.cast(schema) if not table.schema.equals(schema) else table
    if row_group_ms is None or not len(ms):
        cuts = np.array([0, len(ms)])
    else:
        first, last = ms[0] // row_group_ms, ms[-1] // row_group_ms
        edges = np.arange(first + 1, last + 1, dtype=np.int64) * row_group_ms
        cuts = np.concatenate([[0], np.searchsorted(ms, edges), [len(ms)]])
        cuts = np.unique(cuts)
    return table, schema, cuts


def _write_parquet(sink: Any, table: pa.Table, meta: dict[str, Any],
                   row_group_ms: int | None) -> None:
    table, schema, cuts = _prepare(table, meta, row_group_ms)
    with pq.ParquetWriter(sink, schema, compression="zstd", compression_level=1,
                          use_dictionary=["closed"], write_statistics=True) as writer:
        _write_groups(writer, table, cuts)


def encode_table(table: pa.Table, meta: dict[str, Any], *, row_group_ms: int | None
                 ) -> bytes:
    """The bytes of a store file holding ``table`` (as :func:`write_atomic` writes it), for
    one atomic object PUT."""
    sink = pa.BufferOutputStream()
    _write_parquet(sink, table, meta, row_group_ms)
    return sink.getvalue().to_pybytes()


def mkdir_durable(path: Path) -> None:
    """Create the directory ``path`` (its parent exists) and make the new entry durable."""
    try:
        path.mkdir()
    except FileExistsError:
        return
    fsync_dir(path.parent)


def write_atomic(path: Path, table: pa.Table, meta: dict[str, Any], *,
                 row_group_ms: int | None) -> int:
    """Write ``table`` to ``path`` so that readers see the old file or the new one, whole.

    Rows go in row groups cut at multiples of ``row_group_ms`` since the epoch (one row
    group when None), with ``time`` min/max statistics and ``meta`` stored as JSON under
    the key-value metadata key ``candlekit``.

    Returns
    -------
    int
        Size of the new file in bytes.
    """
    path = Path(path)
    tmp = path.parent / temp_name(path.name)
    try:
        with open(tmp, "wb") as fh:
            _write_parquet(fh, table, meta, row_group_ms)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)
    return path.stat().st_size


def _write_groups(writer: pq.ParquetWriter, table: pa.Table, cuts: np.ndarray) -> None:
    if len(cuts) < 2 or cuts[-1] == 0:
        writer.write_table(table)
        return
    for a, b in pairwise(cuts.tolist()):
        if b > a:
            part = table.slice(int(a), int(b - a))
            writer.write_table(part, row_group_size=max(int(b - a), 1))
