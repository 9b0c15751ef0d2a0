"""CPU-bound batch work on every core: an ordered, bounded map over forked worker processes.

Used by the campaign scrub (services/scrub.py), whose per-row Python work (normalising, hashing, deciding) tops
out near 70,000 rows/s in one process. The workers are forked, so they inherit the app, its engine and keys;
`initializer` runs once in each (e.g. to open its own database connection). At most `window` batches per process
are in flight, so memory stays bounded whatever the input's size, and results come back in input order.
"""
import multiprocessing
import os
from collections import deque
from concurrent.futures import ProcessPoolExecutor


def default_processes(config):
    """SCRUB_PROCESSES if set, else one per core; 1 (in-process) in embedded mode, whose worker is a thread of
    the web process (forking a threaded web server is best avoided)."""
    configured = config.get("SCRUB_PROCESSES")
    if configured:
        return max(1, int(configured))
    return (os.cpu_count() or 1) if config.get("REDIS_URL") else 1


def ordered_map(func, items, processes, initializer=None, window=2):
    """Yield (item, func(*args_of(item))) for each (item, args) of `items`, in order, over `processes` workers."""
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(processes, mp_context=context, initializer=initializer) as pool:
        pending = deque()
        for item, args in items:
            pending.append((item, pool.submit(func, *args)))
            if len(pending) >= window * processes:
                item, future = pending.popleft()
                yield item, future.result()
        while pending:
            item, future = pending.popleft()
            yield item, future.result()
