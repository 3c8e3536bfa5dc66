"""The candle store: hive-partitioned parquet, safe to share with other tools.

:class:`Store` is the entry point; its root is a local directory or an fsspec URL
(``s3://bucket/prefix``). :mod:`.layout` documents the directory scheme, :mod:`.parquet`
the file format and atomic writes, :mod:`.merge` the upsert rule, :mod:`.lock` the
per-series writer lock of a local store and :mod:`.files` what each backend (local disk,
S3 with conditional writes, ``memory://``, read-only others) guarantees.
"""

from .layout import SeriesKey
from .merge import WriteStats
from .store import COVERAGE_COLUMNS, META_DIR, Store

__all__ = ["COVERAGE_COLUMNS", "META_DIR", "SeriesKey", "Store", "WriteStats"]
