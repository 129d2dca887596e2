"""Process tuning for a worker that has loaded the app (gunicorn.conf.py post_worker_init; the benchmarks)."""

from __future__ import annotations

import gc

# A request allocates a few thousand short-lived objects that reference counting frees at its end; with the
# default first-generation threshold (700) every patient-view request also paid for a collection that scans
# the live request (about 3% of its CPU, measured with gc.callbacks). At 10,000, collections run only when
# objects really accumulate (reference cycles), so memory stays bounded (RSS flat in bench/RESULTS.md) and
# requests rarely pay for one.
GC_THRESHOLDS = (10_000, 10, 10)


def settle_worker() -> None:
    """Move the app, its knowledge base and the model classes (loaded now, alive as long as the worker) out
    of the garbage collector's sight so full collections stay short, and collect young objects less often."""
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
