"""A small shared thread pool for the NumPy kernels (Monarch multiply, projection).

NumPy releases the GIL inside BLAS calls and inside ufunc loops over more than a few hundred
elements, so batches of small, cache-resident matrix operations scale over a few Python
threads where BLAS's own threading (one synchronisation per tiny call) does not.

``STRUCTMAT_NUM_THREADS`` (an environment variable) caps the number of threads.  It is read by
:func:`num_workers`, the single place every kernel asks (Monarch products of any size, the
projection): a positive decimal integer (ASCII digits, surrounding blanks ignored); unset, empty
or blank means "the number of usable cores"; anything else (``0``, ``-1``, ``abc``, ``²``)
raises ``ValueError`` naming the variable and the value.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
import weakref
from collections.abc import Callable, Sequence

ENV_VAR = "STRUCTMAT_NUM_THREADS"

_state: dict = {}
#: marks the pool's threads (one object for the life of the process, so that a pool rebuilt
#: while its old threads still run keeps them marked)
_local = threading.local()
#: the last value of STRUCTMAT_NUM_THREADS that was parsed, and its result
_env_cache: list = [None, None]


def parse_num_threads(value: str | None) -> int | None:
    """Parse a ``STRUCTMAT_NUM_THREADS`` value: a thread count, or ``None`` when unset.

    Parameters
    ----------
    value : str or None
        The raw value of the environment variable (``None`` when it is not set).

    Returns
    -------
    int or None
        The count (>= 1), or ``None`` for an unset, empty or blank value.

    Raises
    ------
    ValueError
        For anything but a positive decimal integer made of ASCII digits.

    Examples
    --------
    >>> from structmat._parallel import parse_num_threads
    >>> parse_num_threads(" 4 "), parse_num_threads(""), parse_num_threads(None)
    (4, None, None)
    >>> parse_num_threads("0")
    Traceback (most recent call last):
    ...
    ValueError: STRUCTMAT_NUM_THREADS must be a positive integer (1, 2, ...) or unset; got '0'
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    # str.isdigit() accepts '²' and other non-ASCII digits that int() refuses: ASCII only
    if not (text.isascii() and text.isdigit()) or int(text) < 1:
        raise ValueError(
            f"{ENV_VAR} must be a positive integer (1, 2, ...) or unset; got {value!r}"
        )
    return int(text)


def num_workers() -> int:
    """Threads for one kernel: ``STRUCTMAT_NUM_THREADS`` or the number of usable cores.

    The variable is read on each call (a test or a program may change it) and parsed by
    :func:`parse_num_threads` once per distinct value.

    Examples
    --------
    >>> from structmat._parallel import num_workers
    >>> num_workers() >= 1
    True
    """
    raw = os.environ.get(ENV_VAR)
    cache = _env_cache
    if cache[0] != raw or cache[1] is None:
        parsed = parse_num_threads(raw)
        if parsed is None:
            try:
                parsed = max(1, len(os.sched_getaffinity(0)))
            except AttributeError:  # pragma: no cover - platforms without sched_getaffinity
                parsed = max(1, os.cpu_count() or 1)
        cache[:] = [raw, parsed]
    return cache[1]


#: states of a pool thread's hand-off (:class:`_Worker`)
_IDLE, _PENDING, _RUNNING, _CANCELLED = range(4)


class _Worker:
    """One thread of the pool: blocked on ``go`` until :func:`run_parallel` hands it a
    function, and releasing ``done`` once the function has returned (or raised, or the
    hand-off was cancelled before the thread got to it)."""

    def __init__(self, index: int):
        self.go = threading.Lock()
        self.go.acquire()
        self.done = threading.Lock()
        self.done.acquire()
        self.fn: Callable[[], None] | None = None
        self.exc: BaseException | None = None
        #: guards ``state``: the thread claims a hand-off (PENDING -> RUNNING) and the caller
        #: cancels one the thread has not claimed yet (PENDING -> CANCELLED), never both
        self.lock = threading.Lock()
        self.state = _IDLE
        #: a cancelled hand-off whose ``done`` the caller has not taken back yet
        self.owed = False
        self.thread = threading.Thread(target=self._loop, name=f"structmat-{index}", daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        _local.worker = True
        while True:
            self.go.acquire()
            with self.lock:
                fn = self.fn if self.state == _PENDING else None
                self.fn = None
                if fn is not None:
                    self.state = _RUNNING
            try:
                if fn is not None:
                    fn()
            except BaseException as e:  # handed to the caller, which re-raises it
                self.exc = e
            finally:
                self.done.release()

    def available(self) -> bool:
        """Whether the thread can take a hand-off now (the caller holds the pool): a thread
        whose cancelled hand-off it has not woken up for yet cannot."""
        if self.owed:
            if not self.done.acquire(blocking=False):
                return False
            self.owed = False
            self.state = _IDLE
        return True


def run_parallel(work: Callable[[], None], threads: int) -> None:
    """Call ``work()`` on this thread and on up to ``threads - 1`` threads of a shared pool.

    ``work`` takes its tasks from a shared, locked iterator, so a thread slowed down by other
    load takes fewer of them, and one that has not started by the time this thread has run
    out of tasks is not waited for: its hand-off is cancelled (it would find no task left),
    and it serves again once it has woken up.  On a machine where the cores are taken (a
    process, or BLAS threads spinning after a threaded call) a pool thread can wait
    milliseconds for a core; a product of a few hundred microseconds then finishes on the
    calling thread instead of waiting for it.  Called from inside a pool thread it runs
    serially (no nested pools), and so it does while another thread of the program has the
    pool (the cores are busy with that product anyway).  Exceptions raised by any thread
    propagate to the caller, after every thread that started has returned.

    The pool's threads wait on plain locks, with no futures or queues between: a call that
    does nothing took 58-78 microseconds (median, 2-core machine) against 94 with a
    ``concurrent.futures`` pool, which matters for products of a few hundred microseconds.
    What is left is the operating system waking a thread twice.
    """
    if threads <= 1 or getattr(_local, "worker", False):
        work()
        return
    st = _state
    with st.get("lock") or st.setdefault("lock", threading.Lock()):
        # a pool inherited through fork() has no threads behind it: make a new one
        if st.get("pid") != os.getpid():
            st["workers"], st["busy"], st["pid"] = [], threading.Lock(), os.getpid()
        workers = st["workers"]
        while len(workers) < threads - 1:
            workers.append(_Worker(len(workers)))
        pool = list(workers)
        busy = st["busy"]
    if not busy.acquire(blocking=False):
        work()
        return
    try:
        mine: list[_Worker] = []
        for w in pool:
            if len(mine) == threads - 1:
                break
            if w.available():
                mine.append(w)
        for w in mine:
            with w.lock:
                w.exc, w.fn, w.state = None, work, _PENDING
            w.go.release()
        err: BaseException | None = None
        try:
            work()
        except BaseException as e:
            err = e
        for w in mine:
            with w.lock:
                if w.state == _PENDING:  # not started: no task left for it, do not wait
                    w.state, w.fn, w.owed = _CANCELLED, None, True
                    continue
            w.done.acquire()
            w.state = _IDLE
            if err is None:
                err = w.exc
            w.exc = None
        if err is not None:
            raise err
    finally:
        busy.release()


def _reclaim(timeout: float = 10.0) -> bool:
    """Wait until every pool thread whose hand-off was cancelled has woken up and can serve
    again; whether that happened in time.  For tests that need the pool's threads."""
    deadline = time.monotonic() + timeout
    for w in list(_state.get("workers", [])):
        if w.owed:
            left = max(0.0, deadline - time.monotonic())
            if not w.done.acquire(timeout=left):
                return False
            w.owed, w.state = False, _IDLE
    return True


def task_queue(n: int) -> Callable[[], int | None]:
    """A thread-safe ``next_task()`` returning ``0, 1, ..., n - 1`` and then ``None``."""
    it = iter(range(n))
    lock = threading.Lock()

    def next_task():
        with lock:
            return next(it, None)

    return next_task


def run_phases(phases: Sequence[tuple[int, Callable[[int], None]]], threads: int) -> None:
    """Run ``fn(0), ..., fn(count - 1)`` of each ``(count, fn)`` phase in turn, on this thread
    and up to ``threads - 1`` threads of the pool (:func:`run_parallel`).

    The tasks of a phase start only once every task of the phases before it has returned (a
    barrier that does not assume how many threads take part: a caller that finds the pool busy
    runs every task itself).  Tasks are handed out in order, so a thread slowed down by other
    load takes fewer of them.  An exception stops the handing out; it propagates to the caller
    after every thread has returned.

    Examples
    --------
    >>> from structmat._parallel import run_phases
    >>> a, b = [0] * 4, [0] * 4
    >>> def first(i):
    ...     a[i] = i
    >>> def second(i):
    ...     b[i] = a[i] + a[3 - i]   # reads what the first phase wrote
    >>> run_phases([(4, first), (4, second)], 2)
    >>> b
    [3, 3, 3, 3]
    """
    order = [(ph, i) for ph, (count, _) in enumerate(phases) for i in range(count)]
    starts: list[int] = []
    total = 0
    for count, _ in phases:
        starts.append(total)
        total += count
    boundaries = set(starts[1:])
    cond = threading.Condition()
    st = {"next": 0, "done": 0, "failed": False}

    def work():
        while True:
            with cond:
                j = st["next"]
                if st["failed"] or j >= total:
                    return
                st["next"] = j + 1
                ph, i = order[j]
                while st["done"] < starts[ph] and not st["failed"]:
                    cond.wait()
                if st["failed"]:
                    return
            try:
                phases[ph][1](i)
            except BaseException:
                with cond:
                    st["failed"] = True
                    cond.notify_all()
                raise
            with cond:
                st["done"] += 1
                if st["done"] in boundaries:
                    cond.notify_all()

    run_parallel(work, threads)


class _BlasLimit:
    """Process-wide, reference-counted "BLAS runs single-threaded" state.

    The BLAS thread count is a property of the process, not of a thread, so overlapping
    limits from several Python threads must not each save and restore it: the first entrant
    saves every BLAS library's thread count and sets it to 1, later entrants only count
    themselves in, and the last one to leave restores the saved counts.

    The counts are set through :func:`_set_count`, which bypasses threadpoolctl's
    "controlling thread" rule for OpenBLAS (threadpoolctl silently ignores a change asked by
    any Python thread but the first one that set a limit while that thread lives — so a
    restore by whichever thread leaves last could be dropped, leaving BLAS at 1 thread for
    the rest of the process); this class serialises the changes itself.  The last leaver
    reads the counts back; a restore that did not take stays pending and a helper thread
    retries it until it holds (it stops as soon as a new limit is entered, which keeps the
    saved counts as the ones to restore).
    """

    _lock = threading.Lock()
    _depth = 0
    #: [(library controller, original count)] to restore when the last user leaves; kept
    #: until the restore is confirmed
    _saved: list = []
    _retrier = None

    def __enter__(self):
        cls = _BlasLimit
        with cls._lock:
            if cls._depth == 0:
                if not cls._saved:  # no restore pending: save the counts
                    cls._saved = [
                        (lib, lib.num_threads)
                        for lib in _blas_libraries()
                        if isinstance(lib.num_threads, int)
                    ]
                done = []
                try:
                    for lib, _ in cls._saved:
                        _set_count(lib, 1)
                        done.append(lib)
                except BaseException:
                    for lib, n in cls._saved:
                        if lib in done:
                            _set_count(lib, n)
                    raise
            cls._depth += 1
        return self

    def __exit__(self, *exc):
        cls = _BlasLimit
        with cls._lock:
            cls._depth -= 1
            if cls._depth == 0 and not cls._restore_locked():
                cls._start_retrier_locked()
        return False

    @classmethod
    def _restore_locked(cls) -> bool:
        """Set the saved counts (lock held); True, and nothing pending, when all of them took."""
        ok = True
        for lib, n in cls._saved:
            _set_count(lib, n)
            ok = ok and lib.num_threads == n
        if ok:
            cls._saved = []
        return ok

    @classmethod
    def _start_retrier_locked(cls) -> None:
        if cls._retrier is not None and cls._retrier.is_alive():
            return

        def retry():
            delay = 0.001
            give_up = time.monotonic() + 60.0
            while True:
                time.sleep(delay)
                delay = min(2 * delay, 0.05)
                with cls._lock:
                    if cls._depth > 0 or not cls._saved or cls._restore_locked():
                        return
                    if time.monotonic() > give_up:  # a library that never reports the count
                        cls._saved = []
                        return

        cls._retrier = threading.Thread(target=retry, name="structmat-blas-restore", daemon=True)
        cls._retrier.start()


def _set_count(lib, n: int) -> None:
    """Set a BLAS library's thread count from any Python thread.

    threadpoolctl's OpenBLAS controller only obeys its "controlling thread"; its underlying
    setter does not filter (callers here hold :class:`_BlasLimit`'s lock).
    """
    real = getattr(lib, "_real_set_num_threads", None)
    if callable(real):
        real(n)
    else:
        lib.set_num_threads(n)


def wait_blas_restored(timeout: float = 10.0) -> bool:
    """Wait until no BLAS limit is active or pending; return whether that happened in time.

    A restore can be pending for a moment after the last :func:`blas_single_threaded`
    context has left, while other Python threads still run BLAS calls (see
    :class:`_BlasLimit`).

    Examples
    --------
    >>> from structmat._parallel import wait_blas_restored
    >>> wait_blas_restored(0.1)
    True
    """
    deadline = time.monotonic() + timeout
    while True:
        with _BlasLimit._lock:
            if _BlasLimit._depth == 0 and not _BlasLimit._saved:
                return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.002)


def _blas_libraries() -> list:
    """threadpoolctl's controllers of the BLAS libraries loaded in this process.

    Building the controller scans the loaded shared libraries (a few milliseconds), so it is
    kept, and rebuilt only when modules were imported since (an import, e.g. of
    ``scipy.linalg``, can load another BLAS).
    """
    key = len(sys.modules)
    ctl = _state.get("blas")
    if ctl is None or _state.get("blas_key") != key:
        from threadpoolctl import ThreadpoolController

        ctl = _state["blas"] = ThreadpoolController()
        _state["blas_key"] = len(sys.modules)
    return list(ctl.select(user_api="blas").lib_controllers)


#: work arrays larger than this are not kept between calls
SCRATCH_MAX = 16 << 20


class _Buffers:
    """One thread's kept work arrays, by slot (an object, so that a weak set can hold it)."""

    __slots__ = ("slots", "__weakref__")

    def __init__(self):
        self.slots: dict = {}


#: every thread's :class:`_Buffers`, for :func:`drop_scratch`; a thread's entry goes with it
_all_buffers: weakref.WeakSet = weakref.WeakSet()


def scratch(slot: str, n: int, dtype):
    """A 1-D NumPy work array of ``n`` entries of ``dtype``, kept for the calling thread.

    The next call from the same thread with the same ``slot`` gets the same memory back (its
    contents are whatever the last user left), so a kernel called again and again does not
    pay for fresh pages every time: a fresh buffer of a few hundred KiB costs about as much in
    page faults as the arithmetic of a small product.  Each thread keeps at most one buffer per
    slot, of at most :data:`SCRATCH_MAX` bytes; larger requests get a fresh array.  A caller
    must not hand the array out (results are new arrays) nor use one slot twice at once.

    Examples
    --------
    >>> import numpy as np
    >>> from structmat import _parallel
    >>> a = _parallel.scratch("doc", 10, "float32")
    >>> a.shape, str(a.dtype)
    ((10,), 'float32')
    >>> b = _parallel.scratch("doc", 4, "float64")  # the same memory, reinterpreted
    >>> bool(np.shares_memory(a, b))
    True
    """
    import numpy as np

    dt = np.dtype(dtype)
    nbytes = int(n) * dt.itemsize
    if nbytes > SCRATCH_MAX:
        return np.empty(int(n), dtype=dt)
    held = getattr(_local, "scratch", None)
    if held is None:
        held = _local.scratch = _Buffers()
        _all_buffers.add(held)
    bufs = held.slots
    raw = bufs.get(slot)
    if raw is None or raw.size < nbytes:
        raw = np.empty(max(nbytes, 64), dtype=np.uint8)
        bufs[slot] = raw
    return raw[:nbytes].view(dt)


def drop_scratch() -> None:
    """Forget the work arrays :func:`scratch` keeps, for every thread (their memory is freed
    once nothing else holds it), so that the next product allocates them anew as the first
    one in a process does; for measurements of a product's memory, called while no product
    runs.

    Examples
    --------
    >>> import numpy as np
    >>> from structmat import _parallel
    >>> a = _parallel.scratch("doc", 10, "float32")
    >>> _parallel.drop_scratch()
    >>> b = _parallel.scratch("doc", 10, "float32")
    >>> bool(np.shares_memory(a, b))
    False
    """
    for held in list(_all_buffers):
        held.slots.clear()


def blas_single_threaded() -> contextlib.AbstractContextManager:
    """A context in which the BLAS libraries loaded in this process run single-threaded.

    For kernels that already spread small BLAS calls over :func:`run_parallel`'s threads:
    OpenBLAS would otherwise start its own threads inside each call (it does for complex
    64 x 64 products), and the two levels of threads then fight over the cores (measured 3-5x
    slower).  Uses ``threadpoolctl``.

    Safe to enter from several Python threads at once and to nest: the limit is process-wide
    and reference-counted; the first context to enter saves the libraries' thread counts and
    the last one to leave restores exactly those counts.

    Examples
    --------
    >>> from structmat._parallel import blas_single_threaded
    >>> with blas_single_threaded():
    ...     with blas_single_threaded():   # nesting is fine
    ...         pass
    """
    return _BlasLimit()
