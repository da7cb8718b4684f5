"""Pause Python's cyclic garbage collector during bulk work (标图入库 of 10⁵ parcels).

A bulk import creates millions of small container objects (attribute rows, drafts, geometries,
parameter tuples) that live until the batch is written. Each time enough of them have been
allocated, the cyclic collector walks every tracked object of the older generations — work
that grows with the batch and finds nothing to free, since these objects form no reference
cycles (reference counting frees them). Measured on the 200,000-parcel import benchmark:
≈ 3–4 s of ≈ 23 s (docs/performance.md). The collector is process-wide, so the pause is
counted: it resumes when the last concurrent bulk job leaves, and only if it was running.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_holders = 0
_resume = False


@contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """Within the block the cyclic collector does not run (reference counting still frees
    memory); afterwards it runs again if it was enabled before the first holder entered."""
    global _holders, _resume
    with _lock:
        if _holders == 0:
            _resume = gc.isenabled()
            gc.disable()
        _holders += 1
    try:
        yield
    finally:
        with _lock:
            _holders -= 1
            if _holders == 0 and _resume:
                gc.enable()
