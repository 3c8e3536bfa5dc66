"""The upsert rule: how incoming candles combine with stored ones.

For each open time present in both:

* a stored **closed** candle is kept when the incoming one is **open** (a candle that is
  still forming never overwrites a final one);
* otherwise the incoming candle replaces the stored one: closed replaces open, a newer
  closed replaces an older closed (corrections), a newer open replaces an older open.

Times present on one side only are kept. The result is sorted by time with no duplicates.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["WriteStats", "merge_tables"]


@dataclass
class WriteStats:
    """What a :meth:`candlekit.Store.write` did.

    Attributes
    ----------
    inserted : int
        Candles at open times the store did not hold.
    replaced : int
        Stored candles overwritten by different incoming ones.
    unchanged : int
        Incoming candles identical to the stored ones.
    kept : int
        Incoming open candles ignored because the stored candle is closed.
    files_written : int
        Parquet files created or rewritten (files whose rows did not change are not).
    """

    inserted: int = 0
    replaced: int = 0
    unchanged: int = 0
    kept: int = 0
    files_written: int = 0

    def __iadd__(self, other: WriteStats) -> WriteStats:  # noqa: PYI034 - a final dataclass
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))
        return self

    def as_dict(self) -> dict[str, int]:
        """The counts as a plain dict."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


def _ms(table: pa.Table) -> np.ndarray:
    col = table.column("time")
    chunks = [c.view(pa.int64()) for c in col.chunks]
    return pa.chunked_array(chunks, pa.int64()).to_numpy()


def _rows_equal(a: pa.Table, b: pa.Table) -> np.ndarray:
    """Row-wise equality of two tables with the same schema and length (nulls equal nulls)."""
    eq = np.ones(a.num_rows, dtype=bool)
    for name in a.column_names:
        x, y = a.column(name), b.column(name)
        same = pc.fill_null(pc.equal(x, y), False)
        if x.null_count or y.null_count:
            same = pc.or_(same, pc.and_(x.is_null(), y.is_null()))
        eq &= same.to_numpy(zero_copy_only=False)
    return eq


def merge_tables(stored: pa.Table | None, incoming: pa.Table) -> tuple[pa.Table, WriteStats]:
    """Upsert ``incoming`` into ``stored`` (both sorted by unique ``time``).

    Parameters
    ----------
    stored : pyarrow.Table or None
        The rows already in a file, or None when there is no file yet.
    incoming : pyarrow.Table
        The rows to write, with the same schema.

    Returns
    -------
    (pyarrow.Table, WriteStats)
        The merged rows, sorted by time, and the counts (``files_written`` is 0: the
        caller writes).
    """
    t_new = _ms(incoming)
    if stored is None or stored.num_rows == 0:
        return incoming, WriteStats(inserted=len(t_new))
    t_old = _ms(stored)
    pos = np.searchsorted(t_old, t_new)
    pos_c = np.minimum(pos, len(t_old) - 1)
    match = t_old[pos_c] == t_new
    old_idx = pos_c[match]
    old_closed = stored.column("closed").to_numpy()[old_idx]
    new_closed = incoming.column("closed").to_numpy()[match]
    keep_old = old_closed & ~new_closed
    replace_old = old_idx[~keep_old]
    same = _rows_equal(stored.take(replace_old), incoming.filter(pa.array(match)).filter(
        pa.array(~keep_old)))
    stats = WriteStats(inserted=int(len(t_new) - match.sum()), kept=int(keep_old.sum()),
                       unchanged=int(same.sum()), replaced=int((~same).sum()))
    if stats.inserted == 0 and stats.replaced == 0:
        return stored, stats
    use_new = np.ones(len(t_new), dtype=bool)
    use_new[np.flatnonzero(match)[keep_old]] = False
    drop_old = np.zeros(len(t_old), dtype=bool)
    drop_old[replace_old] = True
    if not drop_old.any() and t_old[-1] < t_new[0]:  # a pure append
        return pa.concat_tables([stored, incoming]), stats
    merged = pa.concat_tables([stored.filter(pa.array(~drop_old)),
                               incoming.filter(pa.array(use_new))])
    order = np.argsort(_ms(merged), kind="stable")
    return merged.take(order), stats
