"""The local candle store: hive-partitioned parquet, safe to share with other tools.

:class:`Store` is the entry point; :mod:`.layout` documents the directory scheme,
:mod:`.parquet` the file format and atomic writes, :mod:`.merge` the upsert rule and
:mod:`.lock` the per-series writer lock.
"""

from .layout import SeriesKey
from .merge import WriteStats
from .store import COVERAGE_COLUMNS, META_DIR, Store

__all__ = ["COVERAGE_COLUMNS", "META_DIR", "SeriesKey", "Store", "WriteStats"]
