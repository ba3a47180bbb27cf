"""OpenBLAS's multithreaded calls run on structmat's sleeping threads (``share_blas_threads``).

Every check that calls into BLAS or waits for job threads runs in a fresh interpreter with a
time limit: a callback that lost a job would otherwise hang the whole suite.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

import structmat
from structmat import _blas_threads as bt

hooked = pytest.mark.skipif(
    not any(bt._setter(p) for p in bt._openblas_paths()),
    reason="no OpenBLAS with a threads callback (0.3.27 or later) in this process",
)

_PRELUDE = """
import ctypes, sys, threading, time
import numpy as np
import structmat
from threadpoolctl import threadpool_limits
from structmat import _blas_threads as bt
rng = np.random.default_rng(0)
def pair(dtype, m=700, k=600, n=500):
    a = rng.standard_normal((m, k)).astype(dtype)
    b = rng.standard_normal((k, n)).astype(dtype)
    if np.dtype(dtype).kind == "c":
        a = a + 1j * rng.standard_normal(a.shape)
        b = b + 1j * rng.standard_normal(b.shape)
    return a, b
"""


def _run(code: str, timeout: float = 60) -> list[str]:
    """Run ``code`` (after :data:`_PRELUDE`) in a fresh interpreter; its printed words."""
    src = _PRELUDE + textwrap.dedent(code)
    proc = subprocess.run(
        [sys.executable, "-c", src], capture_output=True, text=True, timeout=timeout
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.split()


@hooked
@pytest.mark.parametrize("dtype", ["float32", "float64", "complex128"])
def test_shared_threads_give_the_same_products(dtype):
    out = _run(
        f"""
        a, b = pair("{dtype}")  # large enough for OpenBLAS to split between threads
        with threadpool_limits(2, user_api="blas"):
            native = a @ b
            calls = bt._state["calls"]
            assert structmat.share_blas_threads() and structmat.blas_threads_shared()
            got = a @ b
            used = bt._state["calls"] - calls
            assert not structmat.share_blas_threads(False)
            again = a @ b
        ref = a.astype(np.clongdouble if a.dtype.kind == "c" else np.longdouble) @ b
        err = float(np.abs(got - ref).max() / np.abs(ref).max())
        # the same bits as OpenBLAS's own threads (the work is split the same way)
        print(used, bt._state["calls"] - calls, np.array_equal(got, native),
              np.array_equal(again, native), err <= 600 * np.finfo(a.dtype).eps)
        """
    )
    assert out == ["1", "1", "True", "True", "True"]  # one call through structmat, then none


@hooked
def test_scipy_blas_and_concurrent_callers():
    out = _run(
        """
        import scipy.linalg.blas as sb
        a, b = pair("float64")
        ref = a @ b
        res = [None] * 4
        def one(i):
            res[i] = a @ b
        with threadpool_limits(2, user_api="blas"):
            assert structmat.share_blas_threads()
            calls = bt._state["calls"]
            got = sb.dgemm(1.0, a, b)
            # SciPy's own OpenBLAS: another build, so compared within rounding (600-term sums)
            close = np.abs(got - ref).max() <= 600 * 2.0**-52 * np.abs(ref).max()
            print(bt._state["calls"] > calls, close)
            ts = [threading.Thread(target=one, args=(i,)) for i in range(4)]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
        print(all(x is not None and np.array_equal(x, ref) for x in res))
        """
    )
    assert out == ["True", "True", "True"]


@hooked
def test_every_job_gets_a_thread_at_once():
    # with four OpenBLAS threads on any machine, a level-3 call has four jobs that wait for
    # each other: run one after another, they would never finish
    out = _run(
        """
        a, b = pair("float64", 1200, 1000, 900)
        with threadpool_limits(4, user_api="blas"):
            ref = a @ b
            assert structmat.share_blas_threads()
            got = a @ b
        print(np.array_equal(got, ref), len(bt._state["idle"]))
        """
    )
    assert out[0] == "True" and int(out[1]) >= 3  # threads of jobs 1-3, kept for the next call


@hooked
@pytest.mark.skipif(sys.platform != "linux", reason="fork start method")
def test_a_forked_child_starts_threads_of_its_own():
    out = _run(
        """
        import multiprocessing as mp
        a, b = pair("float64")
        def child(q):
            with threadpool_limits(2, user_api="blas"):
                q.put(bool(np.array_equal(a @ b, ref)))
        with threadpool_limits(2, user_api="blas"):
            ref = a @ b
            assert structmat.share_blas_threads()
            a @ b  # the parent's job threads exist now
            ctx = mp.get_context("fork")
            q = ctx.Queue()
            p = ctx.Process(target=child, args=(q,))
            p.start()
            ok = q.get(timeout=60)
            p.join(60)
        print(ok, p.exitcode)
        """
    )
    assert out == ["True", "0"]


def test_run_jobs_waits_for_every_job_and_reraises_an_interrupt():
    # OpenBLAS frees the jobs' memory when the callback returns, and an exception cannot leave
    # a callback: Ctrl-C while the jobs run must neither cut them short nor be lost
    out = _run(
        """
        done = np.zeros(5, dtype=np.int64)
        def job(i, data, extra):
            if i == 3:
                import _thread
                _thread.interrupt_main()  # Ctrl-C while the main thread runs job 0 or waits
                time.sleep(0.2)
            done[i] += 1 + extra
        fn = bt._DOJOB(job)
        where = "none"
        try:
            bt._run_jobs(1, ctypes.cast(fn, ctypes.c_void_p).value, 5, 8, 0, 10)
            where = "after"
            for _ in range(2000):  # the interrupt arrives once the callback has returned
                time.sleep(0.001)
        except KeyboardInterrupt:
            where += "-interrupted"
        print(where, done.tolist() == [11] * 5)
        """
    )
    assert out == ["after-interrupted", "True"]


def test_run_jobs_passes_each_job_its_slot():
    out = _run(
        """
        seen = {}
        lock = threading.Lock()
        def job(i, data, extra):
            with lock:
                seen[i] = (data, extra)
        fn = bt._DOJOB(job)
        for n in (1, 4):
            seen.clear()
            bt._run_jobs(1, ctypes.cast(fn, ctypes.c_void_p).value, n, 24, 1000, 7)
            print(seen == {i: (1000 + 24 * i, 7) for i in range(n)})
        """
    )
    assert out == ["True", "True"]


def test_enable_must_be_a_bool():
    with pytest.raises(TypeError, match="enable must be True or False"):
        structmat.share_blas_threads(1)
    assert not structmat.blas_threads_shared()
