"""Where a store's files live: the local disk, or an object store reached through fsspec.

:func:`open_files` turns a store root (a path, or an fsspec URL such as
``s3://bucket/prefix``, ``memory://name``, ``gs://bucket``) into one of these, each giving
:class:`~candlekit.Store` the same few operations: fresh listings, a file's footer, a file
read whole together with a *version token*, a write that replaces exactly the version that
was read (or creates the file only if it is still absent), and removal.

How two writers of one series are kept from losing or duplicating candles:

``LocalFiles`` (a local path, ``file://``)
    An exclusive ``fcntl`` lock per series (:mod:`.lock`) around each read-merge-write, and
    an atomic rename per file (:mod:`.parquet`). Tokens are not needed.
``S3Files`` (``s3://``, any S3-compatible server)
    Conditional writes, no lock: a file is created with ``If-None-Match: *`` and replaced
    with ``If-Match: <ETag of the version read>``. A writer that loses the race gets HTTP 412,
    reads the file again, merges again and retries (:meth:`Store.write`), so both writers'
    candles end up stored once each. Each object PUT is atomic, and a read pins the ETag
    (s3fs sends ``If-Match`` on every ranged GET), so a reader never mixes two versions of
    a file. Before the first write, the bucket is probed once: a server that ignores the
    conditions (some older S3 clones) is refused with :class:`~candlekit.errors.StoreError`
    rather than trusted.
``MemoryFiles`` (``memory://``, for tests and notebooks)
    fsspec's memory filesystem lives inside one process, so a process-wide lock makes its
    conditional writes exact (the token is a hash of the content).
Any other fsspec protocol (``gs://``, ``az://``, ``hdfs://``, ...)
    Readable, but writes are refused with a clear error: candlekit does not know how to make
    them conditional there, and an unconditional overwrite could lose another writer's
    candles.

Listings are always fresh: fsspec's listings cache is invalidated before every listing and
every read, so a reader sees files another process has just written.
"""

from __future__ import annotations

import abc
import contextlib
import hashlib
import io
import os
import posixpath
import threading
import uuid
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import CandlekitError, StoreError
from .layout import PART_NAME
from .lock import series_lock
from .parquet import (
    FileInfo,
    encode_table,
    info_from_parquet,
    mkdir_durable,
    read_info,
    read_table,
    write_atomic,
)

__all__ = ["ABSENT", "Files", "LocalFiles", "MemoryFiles", "ObjectFiles", "S3Files",
           "WriteConflict", "is_url", "open_files"]

#: ``expect=ABSENT``: the write must create the file (it must not exist yet).
ABSENT = "absent"
_LOCAL_PROTOCOLS = ("file", "local")


class WriteConflict(Exception):
    """The file is not the version that was read: another writer got there first."""


def is_url(root: str | os.PathLike[str]) -> bool:
    """Whether ``root`` names an fsspec URL (``proto://...``) rather than a local path."""
    return isinstance(root, str) and "://" in root and not root.startswith("file://")


def open_files(root: str | os.PathLike[str], storage_options: dict[str, Any] | None = None
               ) -> Files:
    """The :class:`Files` for a store root: a local path, ``file://``, or an fsspec URL.

    Raises
    ------
    StoreError
        For a URL whose filesystem is not installed (naming the package to install).
    """
    if isinstance(root, str) and root.startswith("file://"):
        root = root[len("file://"):]
    if not is_url(root):
        if storage_options:
            raise StoreError("storage_options only apply to a store URL such as "
                             f"s3://bucket/prefix; {str(root)!r} is a local path. Drop them, "
                             "or pass the URL.")
        return LocalFiles(Path(root).expanduser().absolute())
    url = str(root).rstrip("/")
    protocol = url.split("://", 1)[0].lower()
    try:
        import fsspec
        fs, path = fsspec.core.url_to_fs(url, **(storage_options or {}))
    except ImportError as exc:
        extra = {"s3": "s3fs", "s3a": "s3fs", "gs": "gcsfs", "gcs": "gcsfs",
                 "az": "adlfs", "abfs": "adlfs"}.get(protocol)
        hint = ("pip install 'candlekit[s3]'" if extra == "s3fs"
                else f"pip install {extra}" if extra else "install its fsspec package")
        raise StoreError(f"Cannot open the store {url}: {exc}. Install its filesystem "
                         f"({hint}), or use a local path.") from exc
    except ValueError as exc:
        raise StoreError(f"Cannot open the store {url}: {exc}. Check the URL "
                         "(e.g. s3://bucket/prefix).") from exc
    if protocol == "memory":
        return MemoryFiles(fs, path, url)
    if protocol in ("s3", "s3a"):
        return S3Files(fs, path, url)
    return ObjectFiles(fs, path, url)


class Files(abc.ABC):
    """The operations a :class:`~candlekit.Store` needs from where its files live."""

    #: True for a local directory (paths are :class:`pathlib.Path`).
    local: bool = False
    url: str
    base: Any

    def display(self, path: Any) -> str:
        """How a path is shown in messages (a URL for object stores)."""
        return str(path)

    @abc.abstractmethod
    def listdir(self, path: Any) -> list[str]:
        """Names of the entries directly under ``path`` (files and directories), fresh,
        sorted; empty when ``path`` does not exist."""

    @abc.abstractmethod
    def subdirs(self, path: Any) -> list[str]:
        """Names of the directories directly under ``path``, fresh, sorted."""

    @abc.abstractmethod
    def parts(self, sdir: Any) -> list[str]:
        """Names of the ``period=`` directories under a series directory that hold a
        file, fresh, sorted."""

    @abc.abstractmethod
    def exists(self, path: Any) -> bool:
        """Whether a file is at ``path`` now."""

    @abc.abstractmethod
    def read_info(self, path: Any, *, keep_open: bool = False) -> FileInfo:
        """The file's footer (see :func:`candlekit.store.parquet.read_info`); with
        ``keep_open`` its rows can be read and its version token is set.

        Raises
        ------
        FileNotFoundError
            If there is no file at ``path``.
        """

    def read_rows(self, path: Any, start_ms: int | None, end_ms: int | None, *,
                  whole: bool) -> tuple[FileInfo, pa.Table]:
        """The file's footer and its rows with open time in ``[start_ms, end_ms)``, of one
        version of the file. ``whole`` says the range covers most of the file (an object
        store then fetches it in one GET rather than by ranges).

        Raises
        ------
        FileNotFoundError
            If there is no file at ``path``.
        """
        info = self.read_info(path, keep_open=True)
        return info, read_table(info, start_ms, end_ms)

    @abc.abstractmethod
    def write(self, path: Any, table: pa.Table, meta: dict[str, Any], *,
              row_group_ms: int | None, expect: str | None) -> None:
        """Write ``table`` at ``path`` atomically, if the file is still the version
        ``expect`` (a token from :meth:`read_info`, or :data:`ABSENT`).

        Raises
        ------
        WriteConflict
            If another writer changed the file since (never for :class:`LocalFiles`, whose
            callers hold the series lock).
        """

    @abc.abstractmethod
    def remove(self, path: Any) -> None:
        """Remove the file at ``path`` (and, locally, its directory once empty)."""

    def series_lock(self, sdir: Any) -> contextlib.AbstractContextManager[None]:
        """The writer lock of a series (a no-op where writes are conditional)."""
        return contextlib.nullcontext()

    def prepare_series(self, sdir: Any) -> None:
        """Make a series directory ready for writing (local directories; a no-op
        elsewhere). Raises :class:`~candlekit.errors.StoreError` where writes are not
        possible."""

    def remove_stale_temps(self, sdir: Any) -> None:
        """Delete temporary files left by crashed writers (local only)."""


# --- the local disk ------------------------------------------------------------------------


class LocalFiles(Files):
    """A store directory on the local disk (:mod:`.lock` + atomic rename)."""

    local = True

    def __init__(self, root: Path):
        self.base = root
        self.url = str(root)

    def listdir(self, path: Path) -> list[str]:
        try:
            return sorted(os.listdir(path))
        except (FileNotFoundError, NotADirectoryError):
            return []

    def subdirs(self, path: Path) -> list[str]:
        return [n for n in self.listdir(path) if (path / n).is_dir()]

    def parts(self, sdir: Path) -> list[str]:
        return [n for n in self.listdir(sdir)
                if n.startswith("period=") and (sdir / n / PART_NAME).exists()]

    def exists(self, path: Path) -> bool:
        return Path(path).exists()

    def read_info(self, path: Path, *, keep_open: bool = False) -> FileInfo:
        return read_info(path, keep_open=keep_open)

    def write(self, path: Path, table: pa.Table, meta: dict[str, Any], *,
              row_group_ms: int | None, expect: str | None) -> None:
        mkdir_durable(path.parent)  # the directory entry must be durable too
        write_atomic(path, table, meta, row_group_ms=row_group_ms)

    def remove(self, path: Path) -> None:
        path = Path(path)
        path.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            if not os.listdir(path.parent):
                path.parent.rmdir()

    def series_lock(self, sdir: Path) -> contextlib.AbstractContextManager[None]:
        return series_lock(sdir)

    def remove_stale_temps(self, sdir: Path) -> None:
        from .layout import is_temp_name
        for name in self.listdir(sdir):
            if name.startswith("period="):
                for f in self.listdir(sdir / name):
                    if is_temp_name(f):
                        (sdir / name / f).unlink(missing_ok=True)


# --- object stores through fsspec -------------------------------------------------------------


class ObjectFiles(Files):
    """A store under an fsspec URL: readable; writable only in the subclasses, which know
    how to make a write conditional."""

    def __init__(self, fs: Any, path: str, url: str):
        self.fs = fs
        self.base = PurePosixPath(path.rstrip("/") or "/")
        self.url = url
        self.protocol = url.split("://", 1)[0].lower()

    def __reduce__(self) -> tuple[Callable[..., Files], tuple[Any, ...]]:
        return (_reopen, (type(self), self.fs, str(self.base), self.url))

    def display(self, path: Any) -> str:
        rel = posixpath.relpath(str(path), str(self.base)) if str(path) != str(self.base) else ""
        return self.url + ("/" + rel if rel and rel != "." else "")

    def _entries(self, path: Any) -> list[dict[str, Any]]:
        p = str(path)
        self.fs.invalidate_cache(p)
        try:
            return list(self.fs.ls(p, detail=True))
        except (FileNotFoundError, NotADirectoryError):
            return []

    def listdir(self, path: Any) -> list[str]:
        return sorted({posixpath.basename(e["name"].rstrip("/")) for e in self._entries(path)})

    def subdirs(self, path: Any) -> list[str]:
        return sorted({posixpath.basename(e["name"].rstrip("/")) for e in self._entries(path)
                       if e.get("type") == "directory"})

    def find_parts(self, base: Any) -> list[str]:
        """Paths, relative to ``base``, of every store file (``.../part-0.parquet``) under
        it, fresh: one listing instead of a walk."""
        p = str(base).rstrip("/")
        self.fs.invalidate_cache(p)
        try:
            found = self.fs.find(p)
        except FileNotFoundError:
            return []
        return sorted(posixpath.relpath(name, p) for name in found
                      if name.endswith("/" + PART_NAME))

    def parts(self, sdir: Any) -> list[str]:
        p = str(sdir)
        self.fs.invalidate_cache(p)
        try:
            found = self.fs.find(p)
        except FileNotFoundError:
            return []
        out = set()
        for name in found:
            rel = posixpath.relpath(name, p).split("/")
            if len(rel) == 2 and rel[0].startswith("period=") and rel[1] == PART_NAME:
                out.add(rel[0])
        return sorted(out)

    def exists(self, path: Any) -> bool:
        self.fs.invalidate_cache(str(path))
        try:
            return self.fs.info(str(path)).get("type") == "file"
        except FileNotFoundError:
            return False

    def _open(self, path: Any) -> Any:
        """A file object for reading ``path`` (fresh metadata)."""
        self.fs.invalidate_cache(str(path))
        return self.fs.open(str(path), "rb")

    def _token(self, fh: Any, data: bytes | None) -> str | None:
        return _opened_version(fh)

    def _retrying(self, path: Any, read: Callable[[], Any]) -> Any:
        """``read()``, again while the file is found replaced between two ranged GETs;
        other network errors become a :class:`~candlekit.errors.StoreError`."""
        for attempt in range(5):
            try:
                return read()
            except (FileNotFoundError, CandlekitError):
                raise
            except OSError as exc:
                if not _changed_while_reading(exc) or attempt == 4:
                    raise _object_error(exc, self.display(path), doing="read") from exc
        raise AssertionError("unreachable")

    def read_info(self, path: Any, *, keep_open: bool = False) -> FileInfo:
        return self._retrying(path, lambda: self._read_info(path, keep_open))

    def read_rows(self, path: Any, start_ms: int | None, end_ms: int | None, *,
                  whole: bool) -> tuple[FileInfo, pa.Table]:
        if whole:
            return super().read_rows(path, start_ms, end_ms, whole=True)

        def ranged() -> tuple[FileInfo, pa.Table]:  # only the overlapping row groups
            with self._open(path) as fh:
                pf = _parquet_file(fh, self.display(path))
                info = info_from_parquet(pf, path=self.display(path), size=int(fh.size),
                                         keep_open=True, token=_opened_version(fh))
                return info, read_table(info, start_ms, end_ms)

        return self._retrying(path, ranged)

    def _read_info(self, path: Any, keep_open: bool) -> FileInfo:
        with self._open(path) as fh:
            if keep_open:  # the whole file in one read: one version, and its token
                data = fh.read()
                token = self._token(fh, data)
                pf = _parquet_file(data, self.display(path))
                return info_from_parquet(pf, path=self.display(path), size=len(data),
                                         keep_open=True, token=token)
            pf = _parquet_file(fh, self.display(path))
            return info_from_parquet(pf, path=self.display(path), size=int(fh.size),
                                     keep_open=False, token=None)

    def write(self, path: Any, table: pa.Table, meta: dict[str, Any], *,
              row_group_ms: int | None, expect: str | None) -> None:
        raise self._unwritable()

    def prepare_series(self, sdir: Any) -> None:
        raise self._unwritable()

    def remove(self, path: Any) -> None:
        raise self._unwritable()

    def _unwritable(self) -> StoreError:
        return StoreError(
            f"The store {self.url} can be read but not written: on {self.protocol}:// "
            "candlekit has no conditional write (compare-and-swap) to keep two writers from "
            "losing each other's candles, and an unconditional overwrite could. Write to an "
            "s3:// bucket (conditional writes) or a local directory, then copy the files "
            "there with your storage's own tools.")


class S3Files(ObjectFiles):
    """An S3 bucket (or S3-compatible server) through s3fs, with conditional writes."""

    def __init__(self, fs: Any, path: str, url: str):
        super().__init__(fs, path, url)
        self._checked = False

    def _read_info(self, path: Any, keep_open: bool) -> FileInfo:
        # one GET, for the whole file (rows) or its tail (footer only): one version, and
        # its ETag, without the HEAD request fsspec's file objects make first
        where = self.display(path)
        tail = None if keep_open else _FOOTER_BYTES
        data, etag, size = _sync(self.fs, _get_object, self.fs, str(path), tail)
        if keep_open:
            return info_from_parquet(_parquet_file(data, where), path=where, size=size,
                                     keep_open=True, token=etag)
        footer = int.from_bytes(data[-8:-4], "little") + 8 if len(data) >= 8 else 0
        if footer > len(data) and len(data) < size:  # a footer longer than the tail read
            return super()._read_info(path, keep_open)
        pf = _parquet_file(_TailFile(data, size), where)
        return info_from_parquet(pf, path=where, size=size, keep_open=False, token=etag)

    def prepare_series(self, sdir: Any) -> None:
        if not self._checked:
            self._probe()
            self._checked = True

    def _probe(self) -> None:
        """Refuse a server that ignores ``If-None-Match`` / ``If-Match`` on PUT."""
        key = str(self.base / "_candlekit" / "probe" / f"{uuid.uuid4().hex}")
        try:
            self._put(key, b"1", expect=ABSENT)
            ignored = []
            for expect, what in ((ABSENT, "If-None-Match: *"), ('"0"', "If-Match")):
                try:
                    self._put(key, b"2", expect=expect)
                    ignored.append(what)
                except WriteConflict:
                    pass
        except OSError as exc:
            raise _object_error(exc, self.url, doing="write") from exc
        finally:
            with contextlib.suppress(Exception):
                self.fs.rm_file(key)
        if ignored:
            raise StoreError(
                f"The S3 server behind {self.url} ignores conditional writes "
                f"({', '.join(ignored)} on PUT succeeded where it must fail), so two writers "
                "of one series could lose each other's candles. candlekit will not write "
                "there. Use AWS S3, MinIO, or another server with conditional writes, or a "
                "local directory.")

    def _put(self, key: str, data: bytes, *, expect: str | None) -> None:
        match = ({"IfNoneMatch": "*"} if expect == ABSENT
                 else {"IfMatch": expect} if expect is not None else {})
        try:
            self.fs.call_s3("put_object", Bucket=_bucket(key), Key=_key(key), Body=data,
                            **match)
        except (OSError, ValueError) as exc:
            # a replaced file answers 412; a deleted one answers 404 to If-Match
            gone = expect not in (None, ABSENT) and (
                isinstance(exc, FileNotFoundError) or _error_code(exc)[0] == "NoSuchKey")
            if _is_conflict(exc) or gone:
                raise WriteConflict(key) from exc
            raise
        finally:
            self.fs.invalidate_cache(key)

    def write(self, path: Any, table: pa.Table, meta: dict[str, Any], *,
              row_group_ms: int | None, expect: str | None) -> None:
        data = encode_table(table, meta, row_group_ms=row_group_ms)
        try:
            self._put(str(path), data, expect=expect if expect is not None else ABSENT)
        except WriteConflict:
            raise
        except OSError as exc:
            raise _object_error(exc, self.display(path), doing="write") from exc

    def remove(self, path: Any) -> None:
        try:
            self.fs.rm_file(str(path))
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise _object_error(exc, self.display(path), doing="write") from exc
        finally:
            self.fs.invalidate_cache(str(path))


_MEMORY_LOCK = threading.RLock()


class MemoryFiles(ObjectFiles):
    """fsspec's in-process ``memory://`` filesystem, with exact conditional writes."""

    def _token(self, fh: Any, data: bytes | None) -> str | None:
        return hashlib.blake2b(data or b"", digest_size=16).hexdigest()

    def _current(self, path: str) -> str | None:
        try:
            return self._token(None, self.fs.cat_file(path))
        except FileNotFoundError:
            return None

    def prepare_series(self, sdir: Any) -> None:
        pass

    def write(self, path: Any, table: pa.Table, meta: dict[str, Any], *,
              row_group_ms: int | None, expect: str | None) -> None:
        data = encode_table(table, meta, row_group_ms=row_group_ms)
        p = str(path)
        with _MEMORY_LOCK:
            current = self._current(p)
            if (current is not None) if expect in (None, ABSENT) else current != expect:
                raise WriteConflict(p)
            self.fs.pipe_file(p, data)

    def remove(self, path: Any) -> None:
        with _MEMORY_LOCK, contextlib.suppress(FileNotFoundError):
            self.fs.rm_file(str(path))


# --- helpers -------------------------------------------------------------------------------

_FOOTER_BYTES = 64 * 1024  # one ranged GET holds the footer of any store file of usual size


def _sync(fs: Any, fn: Callable[..., Any], *args: Any) -> Any:
    from fsspec.asyn import sync
    return sync(fs.loop, fn, *args)


async def _get_object(fs: Any, path: str, tail: int | None) -> tuple[bytes, str | None, int]:
    """``(bytes, ETag, size of the object)``: the whole object, or its last ``tail`` bytes."""
    kw = {"Range": f"bytes=-{tail}"} if tail else {}
    resp = await fs._call_s3("get_object", Bucket=_bucket(path), Key=_key(path), **kw)
    try:
        data = await resp["Body"].read()
    finally:
        resp["Body"].close()
    size = len(data)
    if tail and resp.get("ContentRange"):
        size = int(str(resp["ContentRange"]).rsplit("/", 1)[-1])
    return data, resp.get("ETag"), size


class _TailFile(io.RawIOBase):
    """A read-only file of ``size`` bytes of which only the last ``len(tail)`` are known:
    enough for a parquet footer (a read before the tail is an error, never made up)."""

    def __init__(self, tail: bytes, size: int):
        self._tail, self._size, self._pos = tail, size, 0
        self._start = size - len(tail)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self._pos, 2: self._size}[whence]
        self._pos = base + offset
        return self._pos

    def tell(self) -> int:
        return self._pos

    def read(self, n: int = -1) -> bytes:
        if self._pos < self._start:
            raise OSError("read before the part of the file that was fetched")
        end = self._size if n is None or n < 0 else min(self._size, self._pos + n)
        out = self._tail[self._pos - self._start:end - self._start]
        self._pos += len(out)
        return out

    def readinto(self, b: Any) -> int:
        data = self.read(len(b))
        b[:len(data)] = data
        return len(data)


def _opened_version(fh: Any) -> str:
    """The version an open object-store file reads (s3fs pins its ETag on every ranged
    GET; a memory file is a snapshot)."""
    return str(getattr(fh, "details", {}).get("ETag") or "snapshot")


def _reopen(cls: type[ObjectFiles], fs: Any, path: str, url: str) -> Files:
    return cls(fs, path, url)


def _bucket(key: str) -> str:
    return key.split("/", 1)[0]


def _key(key: str) -> str:
    return key.split("/", 1)[1] if "/" in key else ""


def _error_code(exc: BaseException) -> tuple[str | None, int | None]:
    """The S3 error code and HTTP status behind an s3fs error (its ``__cause__``)."""
    for e in (exc, exc.__cause__, exc.__context__):
        resp = getattr(e, "response", None)
        if isinstance(resp, dict):
            err = resp.get("Error") or {}
            status = (resp.get("ResponseMetadata") or {}).get("HTTPStatusCode")
            return err.get("Code"), status
    return None, None


def _is_conflict(exc: BaseException) -> bool:
    code, status = _error_code(exc)
    return code in ("PreconditionFailed", "ConditionalRequestConflict") or status in (409, 412)


def _changed_while_reading(exc: BaseException) -> bool:
    """A read that found the file replaced between two ranged GETs (retry it)."""
    return type(exc).__name__ == "FileExpired" or _is_conflict(exc)


def _object_error(exc: OSError, where: str, *, doing: str) -> StoreError:
    code, _ = _error_code(exc)
    if isinstance(exc, PermissionError) or code in ("AccessDenied", "InvalidAccessKeyId",
                                                     "SignatureDoesNotMatch"):
        advice = ("access denied. Check the credentials in storage_options (or the "
                  "AWS_* environment variables) and the bucket's policy.")
    elif code == "NoSuchBucket":
        advice = "the bucket does not exist. Create it, or fix the URL."
    else:
        advice = (f"{type(exc).__name__}: {exc}. Check the endpoint and network, then run "
                  "the command again")
        advice += "; candles already stored are intact." if doing == "write" else "."
    err = StoreError(f"Could not {doing} {where}: {advice}")
    err.path = where  # type: ignore[attr-defined]
    return err


def _parquet_file(src: bytes | Any, where: str) -> pq.ParquetFile:
    from .parquet import corrupt
    try:
        return pq.ParquetFile(pa.BufferReader(src) if isinstance(src, bytes) else src)
    except (pa.ArrowInvalid, ValueError) as exc:  # not parquet, or a damaged footer
        raise corrupt(where, exc) from None
