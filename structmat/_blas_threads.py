"""Run OpenBLAS's multithreaded calls on threads that sleep while idle.

After a multithreaded call, OpenBLAS's own worker threads keep polling for new work for about
a tenth of a second (``OPENBLAS_THREAD_TIMEOUT``, read once when NumPy loads OpenBLAS) before
they go to sleep.  A Monarch product started in that window shares the cores with them: at
n = 4096, batch 256 (float32, 2 cores) ``M @ X`` took 4.2-4.5 ms right after ``D @ X``
against 2.0-2.1 ms settled.  OpenBLAS 0.3.27 and later let a program run those threads'
jobs itself (``openblas_set_threads_callback_function``); :func:`share_blas_threads` installs
such a function, which hands the jobs to a few threads of structmat's that wait on a lock
between calls, so nothing polls once a call has returned (2.4-2.8 ms in the same measurement).

The jobs of one OpenBLAS call wait for each other (a level-3 call shares packed panels
between them), so every job gets a thread of its own at once; the threads are kept for the
next call and new ones are started only when more jobs than idle threads are asked for.
"""

from __future__ import annotations

import _thread
import atexit
import ctypes
import os
import signal
import threading

#: names of the setter in the OpenBLAS builds that have it: plain OpenBLAS and SciPy's wheel
#: build (its 32-bit-integer library), NumPy's wheel build (64-bit integers)
_SETTERS = (
    "openblas_set_threads_callback_function",
    "scipy_openblas_set_threads_callback_function64_",
    "scipy_openblas_set_threads_callback_function",
)
_DOJOB = ctypes.CFUNCTYPE(None, ctypes.c_int, ctypes.c_void_p, ctypes.c_int)
_CALLBACK = ctypes.CFUNCTYPE(
    None,
    ctypes.c_int,
    ctypes.c_void_p,
    ctypes.c_int,
    ctypes.c_size_t,
    ctypes.c_void_p,
    ctypes.c_int,
)

_lock = threading.Lock()
#: idle job threads, the process they belong to, the libraries with the callback installed
_state: dict = {"idle": [], "pid": os.getpid(), "installed": {}, "calls": 0, "hooks": False}


class _JobThread:
    """A thread that runs one job at a time: blocked on ``go`` until it is handed one, and
    setting ``done`` when the job has returned (an event, so that a wait interrupted by
    Ctrl-C can simply wait again)."""

    def __init__(self):
        self.go = threading.Lock()
        self.go.acquire()
        self.done = threading.Event()
        self.job: tuple | None = None
        self.thread = threading.Thread(target=self._loop, name="structmat-blas", daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while True:
            self.go.acquire()
            job, self.job = self.job, None
            try:
                if job is not None:
                    job[0](*job[1])
            finally:
                self.done.set()


def _take(count: int) -> list:
    """``count`` idle job threads, started anew where too few are idle."""
    with _lock:
        if _state["pid"] != os.getpid():  # a forked child has none of its parent's threads
            _state["idle"], _state["pid"] = [], os.getpid()
        idle = _state["idle"]
        got = [idle.pop() for _ in range(min(count, len(idle)))]
        _state["calls"] += 1
    while len(got) < count:
        got.append(_JobThread())
    return got


def _run_jobs(sync, dojob, numjobs, elsize, jobdata, dojob_data) -> None:
    """The callback OpenBLAS calls in place of its own threads: run
    ``dojob(i, jobdata + i * elsize, dojob_data)`` for every job ``i``, each on its own thread
    (job 0 on the calling one), and return once all have returned.

    It must not return early: OpenBLAS frees the jobs' memory when it does, and an exception
    cannot leave a callback.  On the main thread, Ctrl-C is therefore held back while the jobs
    run (a SIGINT handler that only records it) and handed to the previous handler
    afterwards, from a helper thread once the callback has returned."""
    held = _hold_interrupts()
    try:
        fn = _DOJOB(dojob)
        workers = _take(max(0, numjobs - 1))
        for i, w in enumerate(workers, 1):
            w.done.clear()
            w.job = (fn, (i, jobdata + i * elsize, dojob_data))
            w.go.release()
        if numjobs > 0:
            fn(0, jobdata, dojob_data)
        for w in workers:
            w.done.wait()
        with _lock:
            if _state["pid"] == os.getpid():
                _state["idle"].extend(workers)
    finally:
        _release_interrupts(held)


def _hold_interrupts():
    """On the main thread: replace the SIGINT handler by one that records the signal; the
    previous handler and the record (``None`` elsewhere)."""
    if threading.current_thread() is not threading.main_thread():
        return None
    if signal.getsignal(signal.SIGINT) is None:  # a handler set outside Python: left alone
        return None
    got: list = []
    try:
        previous = signal.signal(signal.SIGINT, lambda signum, frame: got.append(signum))
    except (ValueError, TypeError):  # no Python-level handler to swap (embedded interpreter)
        return None
    return previous, got


def _release_interrupts(held) -> None:
    if held is None:
        return
    previous, got = held
    signal.signal(signal.SIGINT, previous)
    if got:
        # raised in the main thread once it runs Python code again, outside this callback
        threading.Timer(0.001, _thread.interrupt_main).start()


_callback = _CALLBACK(_run_jobs)


def _after_fork_in_child() -> None:
    """A forked child has none of its parent's threads, and a lock one of them held."""
    global _lock
    _lock = threading.Lock()
    _state["idle"], _state["pid"] = [], os.getpid()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _setter(path: str):
    """The callback setter of the OpenBLAS library at ``path``, or ``None``."""
    try:
        # the library NumPy (or SciPy) loaded, not a second copy of it
        lib = ctypes.CDLL(path, mode=getattr(os, "RTLD_NOLOAD", 0) | os.RTLD_LAZY)
    except OSError:
        return None
    for name in _SETTERS:
        fn = getattr(lib, name, None)
        if fn is not None:
            fn.argtypes = [_CALLBACK]
            fn.restype = None
            return fn
    return None


def _openblas_paths() -> list[str]:
    from threadpoolctl import ThreadpoolController

    ctl = ThreadpoolController()
    return [c.filepath for c in ctl.lib_controllers if c.internal_api == "openblas"]


def _uninstall_all() -> None:
    with _lock:
        installed = dict(_state["installed"])
        _state["installed"].clear()
    for setter in installed.values():
        setter(_CALLBACK())


def share_blas_threads(enable: bool = True) -> bool:
    """Run the multithreaded calls of the OpenBLAS libraries loaded in this process on
    threads that sleep while idle, or (``enable=False``) hand them back to OpenBLAS's own.

    OpenBLAS's worker threads keep polling for work for about 0.1 s after each multithreaded
    call (a large ``A @ B`` in NumPy or SciPy), and take the cores from whatever runs next.
    With this setting on, OpenBLAS hands each such call's jobs to structmat, which runs them
    on threads that block on a lock between calls; the results are the same (OpenBLAS splits
    the work the same way) and a Monarch product right after a dense GEMM no longer competes
    with polling threads.  The setting is process-wide (it also serves BLAS calls of other
    libraries) and lasts until it is turned off or the interpreter exits.

    Libraries loaded after the call (SciPy's, imported later) are covered by calling it
    again.  OpenBLAS builds older than 0.3.27, and other BLAS libraries, have no such hook
    and are left as they are.

    Parameters
    ----------
    enable : bool, default True
        Install the hook (True) or remove it (False).

    Returns
    -------
    bool
        Whether at least one library now runs its threads through structmat.

    Examples
    --------
    >>> import numpy as np
    >>> import structmat
    >>> was = structmat.share_blas_threads()
    >>> a = np.ones((512, 512))
    >>> bool((a @ a == 512.0).all())
    True
    >>> structmat.share_blas_threads(False)
    False
    """
    if not isinstance(enable, bool):
        raise TypeError(f"enable must be True or False; got {enable!r}")
    if not enable:
        _uninstall_all()
        return False
    paths = _openblas_paths()
    with _lock:
        if not _state["hooks"]:
            atexit.register(_uninstall_all)  # no call into Python once the interpreter is gone
            _state["hooks"] = True
        for path in paths:
            if path in _state["installed"]:
                continue
            setter = _setter(path)
            if setter is not None:
                setter(_callback)
                _state["installed"][path] = setter
        return bool(_state["installed"])


def blas_threads_shared() -> bool:
    """Whether :func:`share_blas_threads` is in effect for at least one library.

    Examples
    --------
    >>> import structmat
    >>> structmat.blas_threads_shared()
    False
    """
    with _lock:
        return bool(_state["installed"])
