"""Tests for candlekit.store.parquet: schema, conversion, footers and atomic writes."""

from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from candlekit.errors import CorruptFileError
from candlekit.frame import make_frame
from candlekit.store import parquet as P
from candlekit.store.layout import is_temp_name, row_group_ms

SECOND = 1000
DAY = 86_400_000
T0 = 1_735_689_600_000  # 2025-01-01
META = {"symbol": "BTC", "interval": "1s", "alignment": "calendar", "source": "test"}


def sparse_1s(days, per_day=5, *, closed=True):
    """A few 1s candles on each of ``days`` consecutive days (sparse: small but long)."""
    t = np.concatenate([T0 + d * DAY + np.arange(per_day) * SECOND for d in range(days)])
    p = 100 + np.arange(len(t), dtype=float)
    q = np.where(np.arange(len(t)) % 3 == 0, np.nan, p * 2)
    n = np.where(np.arange(len(t)) % 4 == 0, np.nan, np.arange(len(t)))
    return make_frame(t, p, p + 1, p - 1, p, np.ones(len(t)), quote_volume=q, trades=n,
                      closed=closed, symbol="BTC", interval="1s", source="test")


def test_frame_table_round_trip_keeps_nulls_and_dtypes():
    """frame -> table -> frame is the identity, unknowns stay unknown."""
    df = sparse_1s(3)
    df["constituents"] = 1  # extra columns are dropped
    table = P.frame_to_table(df)
    assert table.schema.equals(P.SCHEMA)
    back = P.table_to_frame(table, dict(df.attrs))
    pd.testing.assert_frame_equal(back, df.drop(columns="constituents"))
    assert back["quote_volume"].isna().sum() == df["quote_volume"].isna().sum() > 0
    assert back["trades"].isna().sum() == df["trades"].isna().sum() > 0


def test_table_to_frame_joins_chunks():
    """Tables read from several row groups convert to one frame."""
    df = sparse_1s(4)
    table = pa.concat_tables([P.frame_to_table(df.iloc[:7]), P.frame_to_table(df.iloc[7:])])
    pd.testing.assert_frame_equal(P.table_to_frame(table, dict(df.attrs)), df)


def test_write_atomic_row_groups_statistics_and_metadata(tmp_path):
    """1s files get one row group per day, time statistics, and the candlekit metadata."""
    df = sparse_1s(5, closed=np.arange(25) < 23)
    path = tmp_path / "part-0.parquet"
    P.write_atomic(path, P.frame_to_table(df), META, row_group_ms=row_group_ms("1s"))
    md = pq.read_metadata(path)
    assert md.num_row_groups == 5
    meta = json.loads(md.metadata[b"candlekit"])
    assert meta == {**META, "schema_version": P.SCHEMA_VERSION, "open_candles": 2}
    info = P.read_info(path)
    assert info.rows == 25 and info.open_rows == 2 and info.bytes == path.stat().st_size
    assert info.row_group_min.tolist() == [T0 + d * DAY for d in range(5)]
    assert info.row_group_max.tolist() == [T0 + d * DAY + 4 * SECOND for d in range(5)]
    assert (info.earliest, info.latest) == (T0, T0 + 4 * DAY + 4 * SECOND)
    assert not [f for f in os.listdir(tmp_path) if f != "part-0.parquet"]


def test_read_table_reads_only_overlapping_row_groups(tmp_path, monkeypatch):
    """A range read asks parquet for the row groups whose statistics overlap it."""
    df = sparse_1s(6)
    path = tmp_path / "part-0.parquet"
    P.write_atomic(path, P.frame_to_table(df), META, row_group_ms=DAY)
    asked = []
    real = pq.ParquetFile.read_row_groups

    def spy(self, groups, *args, **kwargs):
        asked.append(list(groups))
        return real(self, groups, *args, **kwargs)

    monkeypatch.setattr(pq.ParquetFile, "read_row_groups", spy)
    info = P.read_info(path, keep_open=True)
    got = P.read_table(info, T0 + 2 * DAY + 2 * SECOND, T0 + 3 * DAY + 1 * SECOND)
    assert asked == [[2, 3]]
    ms = P.table_to_frame(got, {}).index.asi8
    assert ms.tolist() == [T0 + 2 * DAY + 2 * SECOND, T0 + 2 * DAY + 3 * SECOND,
                           T0 + 2 * DAY + 4 * SECOND, T0 + 3 * DAY]
    assert P.read_table(info, T0 + 10 * DAY, None).num_rows == 0
    assert asked == [[2, 3]]  # nothing overlapped: no read at all


def test_failed_write_keeps_the_old_file_and_leaves_no_temp(tmp_path, monkeypatch):
    """An exception while writing leaves the previous file intact and removes the temp."""
    path = tmp_path / "part-0.parquet"
    old = P.frame_to_table(sparse_1s(2))
    P.write_atomic(path, old, META, row_group_ms=DAY)
    before = path.read_bytes()

    def boom(writer, table, cuts):
        raise OSError("disk full")

    monkeypatch.setattr(P, "_write_groups", boom)
    with pytest.raises(OSError, match="disk full"):
        P.write_atomic(path, P.frame_to_table(sparse_1s(3)), META, row_group_ms=DAY)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["part-0.parquet"]


def _truncate(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _garbage(path):
    path.write_bytes(os.urandom(2048))


def _empty(path):
    path.write_bytes(b"")


def _foreign(path):
    pq.write_table(pa.table({"x": [1, 2]}), path)


@pytest.mark.parametrize("damage", [_truncate, _garbage, _empty, _foreign])
def test_damaged_files_raise_corrupt_file_error_naming_them(tmp_path, damage):
    """Truncated, garbage, empty or foreign files raise CorruptFileError with the path."""
    path = tmp_path / "part-0.parquet"
    P.write_atomic(path, P.frame_to_table(sparse_1s(2)), META, row_group_ms=DAY)
    damage(path)
    with pytest.raises(CorruptFileError) as err:
        P.read_info(path)
    assert err.value.path == path and str(path) in str(err.value)


def test_missing_file_is_not_corrupt(tmp_path):
    """A missing file raises FileNotFoundError, not CorruptFileError."""
    with pytest.raises(FileNotFoundError):
        P.read_info(tmp_path / "part-0.parquet")


def test_temp_file_names_are_recognised(tmp_path, monkeypatch):
    """The temporary file is created next to the target under a reader-skipped name."""
    seen = []
    real = P._write_groups

    def spy(writer, table, cuts):
        seen.extend(os.listdir(tmp_path))
        real(writer, table, cuts)

    monkeypatch.setattr(P, "_write_groups", spy)
    P.write_atomic(tmp_path / "part-0.parquet", P.frame_to_table(sparse_1s(1)), META,
                   row_group_ms=None)
    assert len(seen) == 1 and is_temp_name(seen[0])
    assert pq.read_metadata(tmp_path / "part-0.parquet").num_row_groups == 1
