"""Integers written as ASCII digits into a byte buffer, inside numba kernels.

The JSON encoders of the emulator (:mod:`candlekit.emulator.encode`) and of the server
(:mod:`candlekit.server.encode`) build their bodies column by column into one ``uint8``
buffer; both write integers with these two kernels.
"""

from __future__ import annotations

import numba

__all__ = ["write_int", "write_uint"]


@numba.njit(cache=True, nogil=True)
def write_uint(out, pos, v):  # pragma: no cover - compiled
    """Write the non-negative integer ``v`` at ``out[pos:]``; return the new position."""
    n = 1
    x = v
    while x >= 10:
        x //= 10
        n += 1
    for i in range(n):
        out[pos + n - 1 - i] = 48 + v % 10
        v //= 10
    return pos + n


@numba.njit(cache=True, nogil=True)
def write_int(out, pos, v):  # pragma: no cover - compiled
    """Write the integer ``v`` (with a leading ``-`` when negative); return the new position."""
    if v < 0:
        out[pos] = 45
        return write_uint(out, pos + 1, -v)
    return write_uint(out, pos, v)
