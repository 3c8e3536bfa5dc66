"""The store root is one parquet dataset that other tools read without candlekit.

A store as candlekit leaves it (candles, a task registry, the per-series ``.lock`` files,
a stale temporary file, the repository's ``data/_README.md``) is read by pandas, pyarrow,
polars, DuckDB and Dask, each getting every candle and the hive columns decoded.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

import candlekit as ck
from candlekit.backfill.registry import TaskRegistry

REPO = Path(__file__).resolve().parents[1]
SERIES = [("BTC", "1h"), ("BTC", "1d"), ("xyz:NVDA", "1h"), ("@107", "1d")]


@pytest.fixture(scope="module")
def store_root(tmp_path_factory) -> tuple[Path, pd.DataFrame]:
    root = tmp_path_factory.mktemp("dataset") / "store"
    store = ck.Store(root)
    counts = []
    for sym, iv in SERIES:
        df = ck.synthetic_candles(sym, iv, "2026-09-20", "2026-10-05")
        store.write(df)
        counts.append((sym, iv, len(df)))
    reg = TaskRegistry(store)  # a registry with records, as every backfill leaves one
    task_id = reg.create(["BTC"], ["1h"], start=0, end=None, source="emulator")
    reg.status(task_id)
    # what the repository ships in the default store root (data/), under its own names
    tracked = subprocess.run(["git", "ls-files", "data"], cwd=REPO, capture_output=True,
                             text=True).stdout.split()
    assert tracked, "the repository's data/ should hold its readme"
    for rel in tracked:
        shutil.copy(REPO / rel, root / Path(rel).name)
    # a temporary file left by a writer that was killed mid-write
    sdir = store.series_path("BTC", "1h", source="synthetic")
    (sdir / ".part-0.parquet.123.abcd.tmp").write_bytes(b"half a file")
    expected = pd.DataFrame(counts, columns=["symbol", "interval", "rows"])
    return root, expected


def _check(df: pd.DataFrame, expected: pd.DataFrame) -> None:
    assert {"time", "open", "close", "volume", "source", "symbol", "interval", "period"} <= set(
        df.columns)
    got = (df.astype({"symbol": str, "interval": str}).groupby(["symbol", "interval"])
           .size().rename("rows").reset_index())
    want = expected.sort_values(["symbol", "interval"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(got.sort_values(["symbol", "interval"]).reset_index(drop=True),
                                  want, check_dtype=False)
    assert set(df["source"].astype(str)) == {"synthetic"}


def test_registry_is_not_in_the_dataset(store_root):
    root, _ = store_root
    assert not (root / "tasks.sqlite").exists()
    assert (root / "_candlekit" / "tasks.sqlite").is_file()
    assert not (root / "README.md").exists() and (root / "_README.md").is_file()
    assert sorted(p.name for p in root.iterdir()
                  if not p.name.startswith(("_", "."))) == ["source=synthetic"]


def test_pandas_reads_the_root(store_root):
    root, expected = store_root
    _check(pd.read_parquet(root), expected)


def test_pyarrow_dataset_reads_the_root(store_root):
    import pyarrow.dataset as ds

    root, expected = store_root
    table = ds.dataset(root, partitioning="hive").to_table()
    _check(table.to_pandas(), expected)


def test_polars_reads_the_root(store_root):
    pl = pytest.importorskip("polars")
    root, expected = store_root
    df = pl.scan_parquet(str(root / "**" / "*.parquet"), hive_partitioning=True).collect()
    _check(df.to_pandas(), expected)


def test_duckdb_reads_the_root(store_root):
    duckdb = pytest.importorskip("duckdb")
    root, expected = store_root
    df = duckdb.sql(f"SELECT * FROM read_parquet('{root}/**/*.parquet', "
                    "hive_partitioning=true)").df()
    _check(df, expected)


@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::FutureWarning")
def test_dask_reads_the_root(store_root):
    dd = pytest.importorskip("dask.dataframe")
    root, expected = store_root
    _check(dd.read_parquet(str(root)).compute(), expected)
