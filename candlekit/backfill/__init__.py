"""Resumable downloads of candle history into the store.

:func:`backfill` records a task in ``<store root>/_candlekit/tasks.sqlite`` and runs it; every page
is written to the store as it arrives, so an interrupted task resumes (:func:`resume`)
from what is stored. :func:`tasks` lists the tasks; :class:`TaskRegistry` manages them.

Modules: :mod:`~candlekit.backfill.plan` (what to fetch, pure),
:mod:`~candlekit.backfill.availability` (records of what the upstream does not serve),
:mod:`~candlekit.backfill.registry` (the SQLite registry),
:mod:`~candlekit.backfill.runner` (executing a task), :mod:`~candlekit.backfill.api`
(the functions below) and :mod:`~candlekit.backfill.cli` (``candlekit backfill`` and
``candlekit tasks``).
"""

from .api import Task, backfill, resume, tasks
from .registry import TaskRegistry, TaskStatus

__all__ = ["Task", "TaskRegistry", "TaskStatus", "backfill", "resume", "tasks"]
