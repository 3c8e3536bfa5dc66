"""Store-wide work on a Dask cluster: the store's period files as units of parallel work.

This package owns everything candlekit runs over many stored series at once, on one
machine or on a ``distributed`` cluster: planning work units (one per series and period
file, :mod:`.units`), running them with a ``tqdm.auto`` bar over completed units, in
process or with ``client.map`` (:mod:`.progress`), warming numba kernels up on the
workers (:mod:`.workers`), resampling every selected series with buckets that straddle
two files finished by merging each unit's edge buckets (:mod:`.resample_store`), the
coverage and gap tables with gaps across file boundaries merged the same way
(:mod:`.tables`), walk-forward track records of many series, one whole series per unit
since a call depends on all history before it (:mod:`.track`), and a Dask DataFrame of
many series for the user's own work (:mod:`.frames`). Units only go through
:class:`candlekit.Store`'s public reads and writes, so results equal the in-process
functions exactly, whatever runs them. Dask is optional: ``pip install
'candlekit[dask]'``; without a client everything runs in process.
"""

from .frames import to_dask
from .resample_store import RESAMPLE_SUMMARY_COLUMNS, resample_frames, resample_store
from .tables import coverage_table, gap_table
from .track import TRACK_SUMMARY_COLUMNS, TrackRecords, track_records
from .units import Unit, plan_units
from .workers import warm_up

__all__ = [
    "RESAMPLE_SUMMARY_COLUMNS",
    "TRACK_SUMMARY_COLUMNS",
    "TrackRecords",
    "Unit",
    "coverage_table",
    "gap_table",
    "plan_units",
    "resample_frames",
    "resample_store",
    "to_dask",
    "track_records",
    "warm_up",
]
