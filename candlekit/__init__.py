"""candlekit: a Jupyter-first toolkit for crypto candle (OHLCV) data, centred on Hyperliquid.

The public surface:

- the canonical candle frame: :func:`make_frame`, :func:`conform`, :func:`empty_frame`,
  :class:`CandleSchema`, :func:`validate`
- intervals under both alignments: :data:`INTERVALS`, :func:`parse_interval`,
  :func:`floor_time`, :func:`next_bucket`, :func:`close_time`, :func:`bucket_range`,
  :func:`count_buckets`, :func:`tiles`
- transforms: :func:`resample`, :func:`find_gaps`; store-wide, in process or on a Dask
  cluster: :func:`resample_store` (:mod:`candlekit.cluster`)
- data in and out: :class:`Store`, :func:`read_freqtrade`, :func:`to_wire`,
  :func:`from_wire`, :func:`to_rest`, :func:`from_rest`
- a seeded synthetic market: :func:`synthetic_candles`, :class:`SyntheticMarket`; the
  local API emulator serving it is :mod:`candlekit.emulator`
- sources: :class:`Hyperliquid`, :class:`Hydromancer`, :func:`get_source`,
  :func:`register_source`; files: :func:`import_freqtrade`, :func:`read_candles`,
  :func:`import_candles`; trades: :func:`candles_from_trades`
- backfill tasks: :func:`backfill`, :func:`resume`, :func:`tasks`, :class:`Task`,
  :class:`TaskRegistry`
- reports: :func:`coverage_table`, :func:`gap_table`, :func:`quality_findings`,
  :func:`store_findings`, :func:`plot_candles`, :func:`plot_coverage_timeline`,
  :class:`Explorer`, :func:`render_report`, :func:`is_synthetic`
- the server: :func:`serve` (:mod:`candlekit.server`, the ``server`` extra)
- analysis: :func:`analyze` (facts, narrative and a call at an ``as_of``),
  :func:`track_record` (every past call, graded; of one frame, or of every stored series,
  in process or on a Dask cluster: :class:`TrackRecords`), :func:`crosscheck` (stored
  coarse candles against resampled finer ones), :class:`Analysis`, :class:`Call`,
  :class:`TrackRecord`;
  recorded analyses: :func:`run_analysis`, :func:`analyses`, :func:`get_analysis`,
  :func:`delete_analysis`, :func:`grade_analyses`; a language model to narrate: :class:`LLM`
- errors: :class:`CandlekitError` and its subclasses
"""

from .analysis import (
    LLM,
    Analysis,
    Call,
    TrackRecord,
    analyses,
    analyze,
    crosscheck,
    delete_analysis,
    get_analysis,
    grade_analyses,
    run_analysis,
    track_record,
)
from .backfill import Task, TaskRegistry, TaskStatus, backfill, resume, tasks
from .charts import plot_candles, plot_coverage_timeline
from .cluster import TrackRecords, resample_store
from .coverage import coverage_table, gap_table
from .errors import (
    AnalysisError,
    AnalysisNotFoundError,
    CandlekitError,
    CandleValidationError,
    CorruptFileError,
    EmulatorConfigError,
    FormatError,
    InvalidAlignmentError,
    InvalidIntervalError,
    InvalidTimeError,
    LLMConfigError,
    MissingDependencyError,
    RateLimitError,
    ResampleError,
    SeriesNotFoundError,
    SourceError,
    StoreError,
    StoreNotFoundError,
    TaskError,
    UnknownSymbolError,
    UpstreamError,
)
from .explorer import Explorer
from .frame import COLUMNS, conform, empty_frame, make_frame
from .freqtrade import read_freqtrade
from .gaps import find_gaps
from .importing import import_candles, import_freqtrade, read_candles
from .intervals import (
    ALIGNMENTS,
    INTERVALS,
    Interval,
    bucket_range,
    close_time,
    count_buckets,
    floor_time,
    next_bucket,
    parse_interval,
    tiles,
)
from .provenance import is_synthetic
from .quality import quality_findings, store_findings
from .report import render_report
from .resample import resample
from .schema import CandleSchema, validate
from .sources import Hydromancer, Hyperliquid, Page, Source, get_source, register_source
from .store import SeriesKey, Store, WriteStats
from .synthetic import SyntheticMarket, synthetic_candles
from .trades import candles_from_trades
from .wire import from_rest, from_wire, to_rest, to_wire

__version__ = "0.1.0"


def serve(*args, **kwargs):
    """Serve a store over HTTP: :func:`candlekit.server.serve` (needs the server extra)."""
    from .server import serve as _serve

    return _serve(*args, **kwargs)


__all__ = [
    "ALIGNMENTS",
    "COLUMNS",
    "INTERVALS",
    "LLM",
    "Analysis",
    "AnalysisError",
    "AnalysisNotFoundError",
    "Call",
    "CandleSchema",
    "CandleValidationError",
    "CandlekitError",
    "CorruptFileError",
    "EmulatorConfigError",
    "Explorer",
    "FormatError",
    "Hydromancer",
    "Hyperliquid",
    "Interval",
    "InvalidAlignmentError",
    "InvalidIntervalError",
    "InvalidTimeError",
    "LLMConfigError",
    "MissingDependencyError",
    "Page",
    "RateLimitError",
    "ResampleError",
    "SeriesKey",
    "SeriesNotFoundError",
    "Source",
    "SourceError",
    "Store",
    "StoreError",
    "StoreNotFoundError",
    "SyntheticMarket",
    "Task",
    "TaskError",
    "TaskRegistry",
    "TaskStatus",
    "TrackRecord",
    "TrackRecords",
    "UnknownSymbolError",
    "UpstreamError",
    "WriteStats",
    "analyses",
    "analyze",
    "backfill",
    "bucket_range",
    "candles_from_trades",
    "close_time",
    "conform",
    "count_buckets",
    "coverage_table",
    "crosscheck",
    "delete_analysis",
    "empty_frame",
    "find_gaps",
    "floor_time",
    "from_rest",
    "from_wire",
    "gap_table",
    "get_analysis",
    "get_source",
    "grade_analyses",
    "import_candles",
    "import_freqtrade",
    "is_synthetic",
    "make_frame",
    "next_bucket",
    "parse_interval",
    "plot_candles",
    "plot_coverage_timeline",
    "quality_findings",
    "read_candles",
    "read_freqtrade",
    "register_source",
    "render_report",
    "resample",
    "resample_store",
    "resume",
    "run_analysis",
    "serve",
    "store_findings",
    "synthetic_candles",
    "tasks",
    "tiles",
    "to_rest",
    "to_wire",
    "track_record",
    "validate",
]
