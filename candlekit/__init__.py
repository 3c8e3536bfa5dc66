"""candlekit: a Jupyter-first toolkit for crypto candle (OHLCV) data, centred on Hyperliquid.

The public surface:

- the canonical candle frame: :func:`make_frame`, :func:`conform`, :func:`empty_frame`,
  :class:`CandleSchema`, :func:`validate`
- intervals under both alignments: :data:`INTERVALS`, :func:`parse_interval`,
  :func:`floor_time`, :func:`next_bucket`, :func:`close_time`, :func:`bucket_range`,
  :func:`count_buckets`, :func:`tiles`
- transforms: :func:`resample`, :func:`find_gaps`
- data in and out: :class:`Store`, :func:`read_freqtrade`, :func:`to_wire`,
  :func:`from_wire`, :func:`to_rest`, :func:`from_rest`
- a seeded synthetic market: :func:`synthetic_candles`, :class:`SyntheticMarket`
- errors: :class:`CandlekitError` and its subclasses
"""

from .errors import (
    CandlekitError,
    CandleValidationError,
    CorruptFileError,
    FormatError,
    InvalidAlignmentError,
    InvalidIntervalError,
    InvalidTimeError,
    ResampleError,
    SeriesNotFoundError,
    StoreError,
)
from .frame import COLUMNS, conform, empty_frame, make_frame
from .freqtrade import read_freqtrade
from .gaps import find_gaps
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
from .resample import resample
from .schema import CandleSchema, validate
from .store import SeriesKey, Store, WriteStats
from .synthetic import SyntheticMarket, synthetic_candles
from .wire import from_rest, from_wire, to_rest, to_wire

__version__ = "0.1.0"

__all__ = [
    "ALIGNMENTS",
    "COLUMNS",
    "INTERVALS",
    "CandleSchema",
    "CandleValidationError",
    "CandlekitError",
    "CorruptFileError",
    "FormatError",
    "Interval",
    "InvalidAlignmentError",
    "InvalidIntervalError",
    "InvalidTimeError",
    "ResampleError",
    "SeriesKey",
    "SeriesNotFoundError",
    "Store",
    "StoreError",
    "SyntheticMarket",
    "WriteStats",
    "bucket_range",
    "close_time",
    "conform",
    "count_buckets",
    "empty_frame",
    "find_gaps",
    "floor_time",
    "from_rest",
    "from_wire",
    "make_frame",
    "next_bucket",
    "parse_interval",
    "read_freqtrade",
    "resample",
    "synthetic_candles",
    "tiles",
    "to_rest",
    "to_wire",
    "validate",
]
