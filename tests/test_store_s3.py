"""The store in an S3 bucket: moto's S3 server started offline on 127.0.0.1 by the tests.

Covers the same layout and results as a local store, two writer processes of one series
racing on one file (conditional writes: nothing lost, nothing twice), a reader during
those writes, fresh listings across processes, other tools reading the bucket directly,
and the store-wide functions on a 2-worker Dask cluster over the bucket (synthetic data).
"""

from __future__ import annotations

import json
import os
import subprocess
import threading

import pandas as pd
import pytest
from cluster_helpers import build_store, shared_store

import candlekit as ck
from candlekit.errors import SeriesNotFoundError

pytest.importorskip("s3fs")
pytest.importorskip("moto")
pytest.importorskip("distributed")
import s3_helpers


@pytest.fixture(scope="module")
def endpoint():
    with s3_helpers.s3_server() as url:
        s3_helpers.make_bucket(url, "candles")
        yield url


@pytest.fixture
def s3_store(endpoint, request):
    prefix = request.node.name.replace("[", "-").replace("]", "").replace("/", "-")
    return ck.Store(f"s3://candles/{prefix}",
                    storage_options=s3_helpers.storage_options(endpoint))


def _frame(symbol="BTC", interval="1h", start="2024-12-20", end="2025-01-10", seed=3):
    base = "1s" if interval == "1s" else "1m"
    return ck.synthetic_candles(symbol, interval, start, end, seed=seed, base=base)


def test_the_bucket_holds_what_a_local_store_holds(s3_store, tmp_path):
    local = ck.Store(tmp_path / "local")
    frames = [_frame(), _frame("xyz:NVDA", seed=4), _frame("ETH", "1s", "2026-01-31T23:50",
                                                               "2026-02-01T00:10", seed=5)]
    for df in frames:
        assert s3_store.write(df) == local.write(df)
    assert s3_store.series() == local.series()
    for k in local.series():
        pd.testing.assert_frame_equal(s3_store.read(k.symbol, k.interval),
                                      local.read(k.symbol, k.interval))
        got = s3_store.read(k.symbol, k.interval, "2025-01-01", "2025-01-02T05:00")
        want = local.read(k.symbol, k.interval, "2025-01-01", "2025-01-02T05:00")
        pd.testing.assert_frame_equal(got, want)
    a, b = s3_store.coverage(), local.coverage()
    pd.testing.assert_frame_equal(a.drop(columns="bytes"), b.drop(columns="bytes"))
    # the same files under the same keys
    names = sorted(p.split("/team", 1)[-1] for p in s3_store.filesystem.find(
        s3_store.url.split("://", 1)[1]))
    rel = sorted(str(p.relative_to(local.root)) for p in local.root.rglob("part-0.parquet"))
    assert [n.split(s3_store.url.split("://", 1)[1] + "/", 1)[-1] for n in names] == rel
    # upserts: the second write changes nothing, an open candle never replaces a closed one
    assert s3_store.write(frames[0]).files_written == 0
    opened = frames[0].iloc[-3:].copy()
    opened.attrs = dict(frames[0].attrs)
    opened["closed"] = False
    opened["close"] += 1.0
    assert s3_store.write(opened).kept == 3
    assert s3_store.delete("BTC", "1h", source="synthetic") == 2
    assert "BTC" not in s3_store.symbols()
    with pytest.raises(SeriesNotFoundError, match="s3://candles/"):
        s3_store.read("BTC", "1h")


def test_two_writer_processes_and_a_reader_lose_and_duplicate_nothing(endpoint):
    url = "s3://candles/contested"
    df = s3_helpers.contested_frame()
    reader = ck.Store(url, storage_options=s3_helpers.storage_options(endpoint))
    assert reader.series() == []  # listed before any file exists: must not be cached
    n = len(df)
    writers = [subprocess.Popen(s3_helpers.writer_command(endpoint, url, lo, hi, 60, rev),
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                env={**os.environ, **s3_helpers.CREDENTIALS})
               for lo, hi, rev in ((0, 2 * n // 3, False), (n // 3, n, True))]
    for w in writers:  # both ready: start them together
        assert w.stdout.readline().strip() == "ready"
    for w in writers:
        w.stdin.write("go\n")
        w.stdin.flush()
    seen: list[int] = []
    problems: list[str] = []
    stop = threading.Event()

    def read_loop():
        while not stop.is_set():
            try:
                got = reader.read("BTC", "1m")
            except SeriesNotFoundError:
                stop.wait(0.05)
                continue
            idx = got.index
            if not (idx.is_unique and idx.is_monotonic_increasing):
                problems.append(f"bad index in a read of {len(got)} rows")
            want = df.loc[idx]
            want.attrs = dict(got.attrs)
            try:
                pd.testing.assert_frame_equal(got, want)
            except AssertionError as exc:
                problems.append(str(exc)[:200])
            seen.append(len(got))
            stop.wait(0.05)  # leave the one-request-at-a-time server to the writers too

    thread = threading.Thread(target=read_loop)
    thread.start()
    outs = [w.communicate(timeout=300)[0] for w in writers]
    stop.set()
    thread.join(timeout=60)
    assert [w.returncode for w in writers] == [0, 0], outs
    conflicts = sum(json.loads(o.strip().splitlines()[-1])["conflicts"] for o in outs)
    final = reader.read("BTC", "1m")
    pd.testing.assert_frame_equal(final, df)  # every candle once, none lost
    assert not problems, problems[:3]
    assert seen and seen == sorted(seen)  # a reader never saw candles vanish
    assert conflicts > 0  # the writers did race on the one file, and lost races were retried
    assert reader.series() == [ck.SeriesKey("synthetic", "BTC", "1m")]


def test_other_tools_read_the_bucket_directly(s3_store, endpoint):
    df = _frame()
    s3_store.write(df)
    s3_store.write(_frame("ETH", seed=9))
    path = s3_store.url.split("://", 1)[1]
    opts = s3_helpers.storage_options(endpoint)
    got = pd.read_parquet(s3_store.url, storage_options=opts)
    assert len(got) == 2 * len(df) and set(got["symbol"]) == {"BTC", "ETH"}

    import pyarrow.dataset as pads
    ds = pads.dataset(path, filesystem=s3_store.filesystem, partitioning="hive")
    assert ds.count_rows() == 2 * len(df)

    dd = pytest.importorskip("dask.dataframe")
    assert len(dd.read_parquet(s3_store.url, storage_options=opts)) == 2 * len(df)

    duckdb = pytest.importorskip("duckdb")
    con = duckdb.connect()
    con.register_filesystem(s3_store.filesystem)
    n = con.execute(f"select count(*) from read_parquet('s3://{path}/**/*.parquet', "
                "hive_partitioning = true) where symbol = 'BTC'").fetchone()[0]
    assert n == len(df)

    pl = pytest.importorskip("polars")
    lf = pl.scan_parquet(f"{s3_store.url}/**/*.parquet", hive_partitioning=True,
                         storage_options={"aws_endpoint_url": endpoint,
                                          "aws_access_key_id": "testing",
                                          "aws_secret_access_key": "testing",
                                          "aws_region": "us-east-1",
                                          "aws_allow_http": "true"})
    assert lf.select(pl.len()).collect().item() == 2 * len(df)


def test_the_cli_reads_a_bucket(s3_store, endpoint, monkeypatch, capsys):
    s3_store.write(_frame())
    monkeypatch.setenv("CANDLEKIT_STORAGE_OPTIONS",
                       json.dumps(s3_helpers.storage_options(endpoint)))
    from candlekit.cli import main
    assert main(["coverage", "--data", s3_store.url, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [r["symbol"] for r in (out["series"] if isinstance(out, dict) else out)] == ["BTC"]


def test_registries_stay_local(s3_store, tmp_path, monkeypatch):
    from candlekit.backfill.registry import TaskRegistry
    reg = TaskRegistry(s3_store)
    assert reg.path.is_relative_to(tmp_path)  # $CANDLEKIT_HOME (set by conftest)
    assert reg.path == s3_store.meta_path("tasks.sqlite")
    own = ck.Store(s3_store.url, storage_options=s3_store.storage_options,
                   registry_dir=tmp_path / "team-registry")
    assert TaskRegistry(own).path == tmp_path / "team-registry" / "tasks.sqlite"
    assert not s3_store.filesystem.exists(f"{s3_store.url}/_candlekit/tasks.sqlite")


# --- store-wide work on a cluster over the bucket ------------------------------------------


@pytest.fixture(scope="module")
def bucket_store(endpoint):
    store = ck.Store("s3://candles/cluster",
                     storage_options=s3_helpers.storage_options(endpoint))
    return build_store(store)


@pytest.fixture
def client(dask_client):
    return dask_client


@pytest.mark.parametrize("kw", [{}, {"intervals": ["1w", "1M"],
                                     "window": ("2019-11-01", "2020-03-01")}])
def test_tables_on_a_cluster_over_the_bucket_equal_the_local_ones(bucket_store, client,
                                                                  tmp_path_factory, kw):
    local = shared_store(tmp_path_factory)
    for fn in (ck.coverage_table, ck.gap_table):
        want = fn(local, **kw)
        got = fn(bucket_store, client=client, **kw)
        pd.testing.assert_frame_equal(got, want)


@pytest.mark.parametrize("src,to,alignment", [("1h", "1d", None), ("1d", "1w", "hyperliquid"),
                                              ("1d", "1M", "calendar"), ("1s", "1m", None)])
def test_resample_store_on_a_cluster_over_the_bucket(bucket_store, client, tmp_path_factory,
                                                     src, to, alignment):
    local = shared_store(tmp_path_factory)
    want = ck.resample_store(local, src, to, alignment=alignment, write=False, progress=False)
    got = ck.resample_store(bucket_store, src, to, alignment=alignment, write=False,
                            client=client, progress=False)
    pd.testing.assert_frame_equal(got, want)


def test_to_dask_over_the_bucket_equals_the_local_store(bucket_store, client,
                                                       tmp_path_factory):
    local = shared_store(tmp_path_factory)
    kw = {"symbols": ["BTC", "ETH"], "start": "2024-12-25", "end": "2025-01-05"}
    got = bucket_store.to_dask("1h", **kw).compute()
    want = local.to_dask("1h", **kw).compute()
    pd.testing.assert_frame_equal(got, want)


def test_resample_store_writes_into_the_bucket(s3_store, client, tmp_path):
    local = ck.Store(tmp_path / "local")
    for i, sym in enumerate(["BTC", "ETH", "xyz:NVDA"]):
        df = _frame(sym, seed=40 + i)
        s3_store.write(df)
        local.write(df)
    ck.resample_store(local, "1h", "4h", progress=False)
    summary = ck.resample_store(s3_store, "1h", "4h", client=client, progress=False)
    assert summary["buckets_written"].sum() > 0
    for sym in ["BTC", "ETH", "xyz:NVDA"]:
        pd.testing.assert_frame_equal(s3_store.read(sym, "4h"), local.read(sym, "4h"))


def test_a_backfill_fills_the_bucket_and_keeps_its_registry_local(s3_store, tmp_path):
    """One machine backfills into the shared bucket; its task registry is local SQLite."""
    from candlekit.backfill import backfill
    from candlekit.emulator import Emulator
    from candlekit.sources import Hyperliquid
    with Emulator(mode="hyperliquid", now="2026-11-01T00:00:30Z", budget=None) as emu:
        src = Hyperliquid(emu.url, backoff_factor=0.01, weight_budget=10**9)
        task = backfill(["BTC", "ETH"], ["1h", "1d"], start="2026-09-01", source=src,
                        store=s3_store, progress=False)
        st = task.status()
        assert st.status == "completed"
        assert task.registry.path.is_relative_to(tmp_path)  # local, not in the bucket
        for sym in ("BTC", "ETH"):
            df = s3_store.read(sym, "1h", source="emulator")
            truth = emu.truth(sym, "1h", "2026-09-01", emu.now_ms + 1)
            pd.testing.assert_index_equal(df.index, truth.index)
        again = backfill(["BTC", "ETH"], ["1h", "1d"], start="2026-09-01", source=src,
                         store=s3_store, progress=False).status()
        assert again.status == "completed" and again.candles_fetched <= 4  # open candles
    assert ck.TaskRegistry(s3_store).status(task.id).status == "completed"


def test_the_server_serves_a_bucket(s3_store):
    """``candlekit serve --data s3://...``: the kline API and /info over the bucket."""
    import requests
    pytest.importorskip("fastapi")
    from candlekit.server import serve
    df = _frame()
    s3_store.write(df)
    t0, t1 = int(df.index[0].value // 10**6), int(df.index[48].value // 10**6)
    with serve(s3_store, port=0, background=True, run_worker=False) as srv:
        r = requests.post(srv.url + "/info", timeout=30, json={
            "type": "candleSnapshot",
            "req": {"coin": "BTC", "interval": "1h", "startTime": t0, "endTime": t1}})
        assert r.status_code == 200, r.text
        got = r.json()
        assert [c["t"] for c in got] == [int(t.value // 10**6) for t in df.index[:48]]
        assert got == ck.to_wire(df.iloc[:48], hydromancer=True)


def test_a_file_deleted_under_a_writer_is_created_again(s3_store, monkeypatch):
    """If-Match on a file deleted since it was read answers 404: merged again, created."""
    from candlekit.store.files import S3Files
    df = _frame()
    s3_store.write(df.iloc[:10].pipe(_same_attrs, df))
    real = S3Files.write
    calls = {"n": 0}

    def deleting(self, path, table, meta, *, row_group_ms, expect):
        calls["n"] += 1
        if calls["n"] == 1:
            self.fs.rm_file(str(path))  # another process deletes the file meanwhile
        return real(self, path, table, meta, row_group_ms=row_group_ms, expect=expect)

    monkeypatch.setattr(S3Files, "write", deleting)
    s3_store.write(df.iloc[5:30].pipe(_same_attrs, df))
    assert s3_store.write_conflicts == 1
    got = s3_store.read("BTC", "1h")
    pd.testing.assert_frame_equal(got, df.iloc[5:30].pipe(_same_attrs, got))


def _same_attrs(part, like):
    out = part.copy()
    out.attrs = dict(like.attrs)
    return out


def test_track_records_on_a_cluster_over_the_bucket(bucket_store, client, tmp_path_factory):
    local = shared_store(tmp_path_factory)
    want = ck.track_record(local, interval="1h", progress=False)
    got = ck.track_record(bucket_store, interval="1h", client=client, progress=False)
    pd.testing.assert_frame_equal(got.calls, want.calls)
    pd.testing.assert_frame_equal(got.summary, want.summary)


def test_a_narrow_read_fetches_only_its_row_groups(s3_store, tmp_path, monkeypatch):
    from candlekit.store import files as files_mod
    df = _frame("ETH", "1s", "2026-01-10", "2026-01-13", seed=6)  # 3 of a month's row groups
    s3_store.write(df)
    whole = []
    real = files_mod._get_object

    async def counting(fs, path, tail):
        whole.append(tail is None)
        return await real(fs, path, tail)

    monkeypatch.setattr(files_mod, "_get_object", counting)
    got = s3_store.read("ETH", "1s", "2026-01-11T10:00", "2026-01-11T11:00")
    want = df.loc["2026-01-11T10:00":"2026-01-11T10:59:59"]
    want.attrs = dict(got.attrs)
    pd.testing.assert_frame_equal(got, want)
    assert not any(whole)  # no GET of the whole 3-day file for one hour
    assert len(s3_store.read("ETH", "1s")) == len(df) and any(whole)  # all of it: one GET


def test_a_file_replaced_during_a_ranged_read_is_read_again(s3_store, monkeypatch):
    from candlekit.store import files as files_mod
    df = _frame("ETH", "1s", "2026-01-10", "2026-01-13", seed=6)
    s3_store.write(df.iloc[: len(df) // 2].pipe(_same_attrs, df))
    other = ck.Store(s3_store.url, storage_options=s3_store.storage_options)
    real = files_mod.read_table
    calls = {"n": 0}

    def replacing(info, s, e):
        calls["n"] += 1
        if calls["n"] == 1:  # between the footer and the row groups, another writer
            other.write(df.iloc[len(df) // 2:].pipe(_same_attrs, df))
        return real(info, s, e)

    monkeypatch.setattr(files_mod, "read_table", replacing)
    got = s3_store.read("ETH", "1s", "2026-01-11T10:00", "2026-01-12T14:00")
    want = df.loc["2026-01-11T10:00":"2026-01-12T13:59:59"]
    want.attrs = dict(got.attrs)
    pd.testing.assert_frame_equal(got, want)  # the new version, whole: not a torn mix
    assert calls["n"] == 2
