"""JSON answers and the HTTP status of every candlekit error.

Errors of the kline REST API are ``{"error": code, "message": what to do}``; the
middleware's answers (401, 413), which any path can get, also carry ``code`` and ``msg``
so that the official Hyperliquid SDK turns them into its ``ClientError``.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from ..errors import (
    CandlekitError,
    CorruptFileError,
    InvalidAlignmentError,
    InvalidIntervalError,
    InvalidTimeError,
    SeriesNotFoundError,
    SourceConfigError,
    StoreError,
    TaskError,
    UnknownSymbolError,
)
from ..provenance import is_synthetic
from .encode import dumps

__all__ = ["error_body", "error_response", "json_response", "status_of"]

_CODES: tuple[tuple[type, int, str], ...] = (
    (InvalidIntervalError, 400, "invalid_interval"),
    (InvalidAlignmentError, 400, "invalid_alignment"),
    (InvalidTimeError, 400, "invalid_time"),
    (SourceConfigError, 400, "invalid_source"),
    (SeriesNotFoundError, 404, "not_found"),
    (UnknownSymbolError, 404, "unknown_symbol"),
    (TaskError, 404, "task_not_found"),
    (CorruptFileError, 500, "corrupt_file"),
    (StoreError, 409, "store_conflict"),
)


def status_of(exc: BaseException) -> tuple[int, str]:
    """HTTP status and error code of a candlekit error."""
    for cls, status, code in _CODES:
        if isinstance(exc, cls):
            return status, code
    if isinstance(exc, (ValueError, TypeError)):
        return 400, "bad_request"
    if isinstance(exc, LookupError):
        return 404, "not_found"
    return 500, "internal_error"


def json_response(content: bytes | Any, status: int = 200, *, source: str | None = None,
                  headers: dict[str, str] | None = None) -> Response:
    """A JSON answer from bytes (already serialised) or plain data.

    ``source``: the store label the candles came from, sent as ``X-Candlekit-Source``;
    synthetic data also gets ``X-Candlekit-Synthetic: true``.
    """
    body = content if isinstance(content, bytes) else dumps(content)
    hdrs = dict(headers or {})
    if source is not None:
        hdrs["X-Candlekit-Source"] = source
        if is_synthetic(source):
            hdrs["X-Candlekit-Synthetic"] = "true"
    return Response(body, status_code=status, media_type="application/json", headers=hdrs)


def error_body(code: str, message: str, *, status: int | None = None) -> dict[str, Any]:
    """``{"error": code, "message": message}``, with ``code``/``msg`` when ``status`` given."""
    body: dict[str, Any] = {"error": code, "message": message}
    if status is not None:
        body.update(code=status, msg=message)
    return body


def error_response(exc: BaseException | None = None, *, status: int | None = None,
                   code: str | None = None, message: str | None = None,
                   headers: dict[str, str] | None = None) -> Response:
    """The JSON error answer of an exception (or of an explicit status, code and message)."""
    if exc is not None:
        st, cd = status_of(exc)
        status = status or st
        code = code or cd
        message = message or (str(exc) if isinstance(exc, CandlekitError) else
                              f"{type(exc).__name__}: {exc}")
    return json_response(error_body(code or "error", message or ""), status or 500,
                         headers=headers)
