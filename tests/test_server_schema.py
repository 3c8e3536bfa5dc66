"""schemathesis against the ASGI app: every endpoint of /openapi.json, generated requests,
no 5xx, and every response matching the document (status codes, content types, bodies)."""

from __future__ import annotations

import schemathesis
from _server_helpers import put, synthetic
from hypothesis import HealthCheck, settings
from schemathesis import checks

from candlekit.server import create_app
from candlekit.store import Store


def _app():
    import tempfile

    store = Store(tempfile.mkdtemp(prefix="candlekit-schema-"))
    btc = synthetic("BTC", "1h", "2026-10-01", "2026-10-05")
    btc.iloc[-1, btc.columns.get_loc("closed")] = False
    put(store, btc)
    put(store, synthetic("xyz:NVDA", "1m", "2026-10-01", "2026-10-01T12:00"))
    put(store, synthetic("@107", "1d", "2026-01-01", "2026-10-01"), source="emulator")
    # the worker stays off: generated backfill requests are recorded, never fetched
    return create_app(store, run_worker=False)


schema = schemathesis.openapi.from_asgi("/openapi.json", _app())

CHECKS = [checks.not_a_server_error, checks.status_code_conformance,
          checks.content_type_conformance, checks.response_schema_conformance,
          checks.response_headers_conformance]


@schema.parametrize()
@settings(max_examples=12, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_every_endpoint_conforms(case):
    case.call_and_validate(checks=CHECKS)


def test_the_document_lists_every_route():
    ops = {(op.method.upper(), op.path) for op in (r.ok() for r in schema.get_all_operations())}
    assert ("POST", "/info") in ops and ("GET", "/api/klines/data") in ops
    assert ("DELETE", "/api/klines/backfill-tasks/{task_id}") in ops
    assert len(ops) == 14
