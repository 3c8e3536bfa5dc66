"""The server's optional dependencies, with an error naming the extra when one is missing."""

from __future__ import annotations

from ..errors import CandlekitError

__all__ = ["MissingDependencyError", "fastapi", "orjson", "uvicorn"]


class MissingDependencyError(CandlekitError, ImportError):
    """A package of the ``server`` extra is not installed."""


def _need(name: str):
    import importlib

    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise MissingDependencyError(
            f"`candlekit serve` needs {name!r}, from the server extra: pip install "
            "'candlekit[server]' (fastapi, uvicorn, orjson).") from exc


orjson = _need("orjson")
fastapi = _need("fastapi")
uvicorn = _need("uvicorn")
