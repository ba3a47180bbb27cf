"""A small shared thread pool for the NumPy kernels (Monarch multiply, projection).

NumPy releases the GIL inside BLAS calls and inside ufunc loops over more than a few hundred
elements, so batches of small, cache-resident matrix operations scale over a few Python
threads where BLAS's own threading (one synchronisation per tiny call) does not.
``STRUCTMAT_NUM_THREADS`` (an environment variable) caps the number of threads.
"""

from __future__ import annotations

import contextlib
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, ContextManager

_state: dict = {}
#: marks the pool's threads (one object for the life of the process, so that a pool rebuilt
#: while its old threads still run keeps them marked)
_local = threading.local()


def num_workers() -> int:
    """Threads for one kernel: ``STRUCTMAT_NUM_THREADS`` or the number of usable cores."""
    env = os.environ.get("STRUCTMAT_NUM_THREADS", "").strip()
    if env:
        if not env.isdigit() or int(env) < 1:
            raise ValueError(f"STRUCTMAT_NUM_THREADS must be a positive integer; got {env!r}")
        return int(env)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - platforms without sched_getaffinity
        return max(1, os.cpu_count() or 1)


def run_parallel(work: Callable[[], None], threads: int) -> None:
    """Call ``work()`` on this thread and on ``threads - 1`` threads of a shared pool.

    ``work`` takes its tasks from a shared, locked iterator, so a thread slowed down by other
    load takes fewer of them.  Called from inside a pool thread it runs serially (no nested
    pools).  Exceptions raised by any thread propagate to the caller.
    """
    st = _state
    if threads <= 1 or getattr(_local, "worker", False):
        work()
        return
    with st.get("lock") or st.setdefault("lock", threading.Lock()):
        # a pool inherited through fork() has no threads behind it: make a new one
        if st.get("pid") != os.getpid() or st["size"] < threads - 1:

            def mark():
                _local.worker = True

            old = st.get("pool")
            if old is not None and st.get("pid") == os.getpid():
                old.shutdown(wait=False)
            st["pool"] = ThreadPoolExecutor(threads - 1, thread_name_prefix="structmat",
                                            initializer=mark)
            st["pid"], st["size"] = os.getpid(), threads - 1
        pool = st["pool"]
    futures = [pool.submit(work) for _ in range(threads - 1)]
    try:
        work()
    finally:
        for f in futures:
            f.result()


def task_queue(n: int) -> Callable[[], int | None]:
    """A thread-safe ``next_task()`` returning ``0, 1, ..., n - 1`` and then ``None``."""
    it = iter(range(n))
    lock = threading.Lock()

    def next_task():
        with lock:
            return next(it, None)

    return next_task


def blas_single_threaded() -> ContextManager:
    """A context in which the BLAS libraries loaded in this process run single-threaded.

    For kernels that already spread small BLAS calls over :func:`run_parallel`'s threads:
    OpenBLAS would otherwise start its own threads inside each call (it does for complex
    64 x 64 products), and the two levels of threads then fight over the cores (measured 3-5x
    slower).  Uses ``threadpoolctl``; the controller is built once, when first needed.
    """
    ctl = _state.get("blas")
    if ctl is None:
        from threadpoolctl import ThreadpoolController

        ctl = _state["blas"] = ThreadpoolController()
    if not ctl.select(user_api="blas").lib_controllers:
        return contextlib.nullcontext()
    return ctl.limit(limits=1, user_api="blas")
