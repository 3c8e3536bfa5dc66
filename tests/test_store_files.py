"""candlekit.store.files: the store on fsspec URLs (``memory://`` here, no server), the
conditional-write retry, backends that cannot guarantee two writers, registry placement."""

from __future__ import annotations

import pickle
import uuid

import pandas as pd
import pytest

import candlekit as ck
from candlekit.errors import StoreError
from candlekit.store import files as files_mod
from candlekit.store.files import ABSENT, MemoryFiles, S3Files, WriteConflict, open_files


@pytest.fixture
def mem():
    url = f"memory://ck-{uuid.uuid4().hex[:8]}"
    yield ck.Store(url)
    import fsspec
    fs = fsspec.filesystem("memory")
    if fs.exists(url.split("://", 1)[1]):
        fs.rm(url.split("://", 1)[1], recursive=True)


def _frame(symbol="BTC", start="2024-12-30", end="2025-01-03", seed=1):
    return ck.synthetic_candles(symbol, "1h", start, end, seed=seed)


def test_a_memory_store_behaves_as_a_local_one(mem, tmp_path):
    local = ck.Store(tmp_path / "s")
    for df in (_frame(), _frame("xyz:NVDA", seed=2)):
        assert mem.write(df) == local.write(df)
    assert not mem.local and mem.url.startswith("memory://")
    assert mem.series() == local.series()
    pd.testing.assert_frame_equal(mem.read("xyz:NVDA", "1h", "2024-12-31T20:00", "2025-01-01T04:00"),
                                  local.read("xyz:NVDA", "1h", "2024-12-31T20:00",
                                             "2025-01-01T04:00"))
    pd.testing.assert_frame_equal(mem.coverage().drop(columns="bytes"),
                                  local.coverage().drop(columns="bytes"))
    assert mem.series_path("xyz:NVDA", "1h", source="synthetic") == (
        f"{mem.url}/source=synthetic/symbol=xyz%3ANVDA/interval=1h")
    assert mem.period_file("BTC", "1h", 55, source="synthetic").endswith(
        "period=2025-01-01/part-0.parquet")
    assert mem.period_file("BTC", "1h", 40, source="synthetic") is None
    assert mem.delete("BTC", "1h", source="synthetic") == 2
    assert mem.symbols() == ["xyz:NVDA"]


def test_a_lost_race_is_merged_again_and_retried(mem, monkeypatch):
    """Another writer replaces the file between this writer's read and its write."""
    first, second = _frame(end="2025-01-01"), _frame(start="2024-12-31T12:00", seed=1)
    other = ck.Store(mem.url)
    mem.write(_attrs(first.iloc[:5], first))
    real = MemoryFiles.write
    calls = {"n": 0}

    def racing(self, path, table, meta, *, row_group_ms, expect):
        calls["n"] += 1
        if calls["n"] == 1:  # the other writer gets there first
            other.write(_attrs(first.iloc[5:], first))
        return real(self, path, table, meta, row_group_ms=row_group_ms, expect=expect)

    monkeypatch.setattr(MemoryFiles, "write", racing)
    stats = mem.write(second)
    assert mem.write_conflicts >= 1 and stats.files_written >= 1
    want = pd.concat([first, second[~second.index.isin(first.index)]]).sort_index()
    got = mem.read("BTC", "1h")
    pd.testing.assert_frame_equal(got, _attrs(want, got))


def _attrs(df, like):
    out = df.copy()
    out.attrs = dict(like.attrs)
    return out


def test_memory_writes_are_conditional(mem):
    files = mem._files
    path = files.base / "x" / "part-0.parquet"
    table = ck.store.parquet.frame_to_table(_frame())
    files.write(path, table, {"a": 1}, row_group_ms=None, expect=ABSENT)
    with pytest.raises(WriteConflict):
        files.write(path, table, {"a": 1}, row_group_ms=None, expect=ABSENT)
    info = files.read_info(path, keep_open=True)
    with pytest.raises(WriteConflict):
        files.write(path, table, {"a": 2}, row_group_ms=None, expect="not-the-version")
    files.write(path, table, {"a": 2}, row_group_ms=None, expect=info.token)
    assert files.read_info(path).meta["a"] == 2


def test_a_store_url_pickles_for_the_workers(mem):
    mem.write(_frame())
    back = pickle.loads(pickle.dumps(mem))
    pd.testing.assert_frame_equal(back.read("BTC", "1h"), mem.read("BTC", "1h"))
    assert back.url == mem.url and back.meta_dir == mem.meta_dir


def test_other_protocols_are_read_only_with_a_clear_error(mem):
    mem.write(_frame())
    cached = ck.Store(f"simplecache::{mem.url}")
    assert cached.symbols() == ["BTC"]
    assert len(cached.read("BTC", "1h")) == len(_frame())
    with pytest.raises(StoreError, match="can be read but not written.*conditional write"):
        cached.write(_frame(seed=5))
    with pytest.raises(StoreError, match="can be read but not written"):
        cached.delete("BTC", "1h", source="synthetic")
    assert len(mem.read("BTC", "1h")) == len(_frame())  # nothing lost


class _IgnoringS3:
    """An S3 'server' that ignores If-Match / If-None-Match (as some clones do)."""

    def __init__(self):
        self.objects: dict[str, bytes] = {}

    def call_s3(self, method, **kw):
        assert method == "put_object"
        self.objects[kw["Key"]] = kw["Body"]

    def invalidate_cache(self, path=None):
        pass

    def rm_file(self, path):
        self.objects.pop(path.split("/", 1)[1], None)


def test_an_s3_server_that_ignores_conditions_is_refused():
    fake = _IgnoringS3()
    files = S3Files(fake, "bucket/prefix", "s3://bucket/prefix")
    with pytest.raises(StoreError, match="ignores conditional writes.*will not write"):
        files.prepare_series(files.base / "source=x")
    assert fake.objects == {}  # the probe cleaned up after itself


def test_conflict_detection_reads_the_s3_error_code():
    class Boom(OSError):
        pass
    exc = Boom("precondition")
    exc.__cause__ = type("E", (Exception,), {"response": {
        "Error": {"Code": "PreconditionFailed"},
        "ResponseMetadata": {"HTTPStatusCode": 412}}})()
    assert files_mod._is_conflict(exc)
    assert not files_mod._is_conflict(OSError("other"))


def test_registries_of_an_object_store_are_local(tmp_path, monkeypatch, mem):
    from candlekit.backfill.registry import TaskRegistry
    assert mem.meta_dir.is_relative_to(tmp_path)  # $CANDLEKIT_HOME, set by conftest
    assert TaskRegistry(mem).path == mem.meta_path("tasks.sqlite")
    assert ck.Store(mem.url).meta_dir == mem.meta_dir  # one directory per URL
    assert ck.Store("memory://other").meta_dir != mem.meta_dir
    own = ck.Store(mem.url, registry_dir=tmp_path / "reg")
    assert own.meta_path("analyses.sqlite") == tmp_path / "reg" / "analyses.sqlite"
    local = ck.Store(tmp_path / "s")
    assert TaskRegistry(local).path == tmp_path / "s" / "_candlekit" / "tasks.sqlite"
    monkeypatch.setenv("CANDLEKIT_REGISTRY_DIR", str(tmp_path / "team"))
    assert ck.Store(mem.url).meta_dir == tmp_path / "team"  # URL stores only
    assert ck.Store(tmp_path / "s").meta_dir == tmp_path / "s" / "_candlekit"
    assert ck.Store(mem.url, registry_dir=tmp_path / "reg").meta_dir == tmp_path / "reg"


def test_bad_options_say_what_to_do(tmp_path, monkeypatch):
    with pytest.raises(StoreError, match="only apply to a store URL"):
        ck.Store(tmp_path, storage_options={"anon": True})
    monkeypatch.setenv("CANDLEKIT_STORAGE_OPTIONS", "{not json")
    with pytest.raises(StoreError, match="CANDLEKIT_STORAGE_OPTIONS is not valid JSON"):
        ck.Store("memory://x")
    monkeypatch.setenv("CANDLEKIT_STORAGE_OPTIONS", "[1]")
    with pytest.raises(StoreError, match="must be a JSON object"):
        ck.Store("memory://x")
    monkeypatch.delenv("CANDLEKIT_STORAGE_OPTIONS")
    with pytest.raises(StoreError, match="Cannot open the store nosuchproto://x"):
        ck.Store("nosuchproto://x")
    assert open_files(f"file://{tmp_path}").local


def test_a_memory_store_is_refused_on_a_cluster(mem, dask_client):
    mem.write(_frame())
    for run in (lambda: ck.gap_table(mem, client=dask_client),
                lambda: ck.coverage_table(mem, window="3d", client=dask_client),
                lambda: ck.resample_store(mem, "1h", "4h", client=dask_client, progress=False),
                lambda: ck.track_record(mem, interval="1h", client=dask_client)):
        with pytest.raises(ck.FormatError, match="lives in this process's memory"):
            run()
    summary = ck.resample_store(mem, "1h", "4h", progress=False)  # in this process: fine
    assert summary["buckets_written"].sum() == len(mem.read("BTC", "4h")) > 0


def test_a_listing_of_an_object_store_skips_what_is_not_a_series_file(mem):
    mem.write(_frame())
    fs, base = mem.filesystem, mem.url.split("://", 1)[1]
    for stray in ("notes.txt", "_candlekit/probe/abc", "source=synthetic/README.md",
                  "source=synthetic/symbol=BTC/interval=1h/period=2025-13-01/part-0.parquet",
                  "source=synthetic/symbol=BTC/interval=7x/period=2025-01-01/part-0.parquet",
                  "source=synthetic/symbol=ETH/interval=1h/period=2025-01-01/other.parquet"):
        fs.pipe_file(f"{base}/{stray}", b"x")
    assert mem.series() == [ck.SeriesKey("synthetic", "BTC", "1h")]
    assert mem.symbols() == ["BTC"]
    assert len(mem.read("BTC", "1h")) == len(_frame())
