"""The shared thread pool and the BLAS thread limit of the NumPy kernels."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from structmat import _parallel


def test_run_parallel_runs_every_task_once(monkeypatch):
    seen = []
    lock = threading.Lock()
    nxt = _parallel.task_queue(50)

    def work():
        while (t := nxt()) is not None:
            with lock:
                seen.append(t)

    _parallel.run_parallel(work, 3)
    assert sorted(seen) == list(range(50))


def test_run_parallel_propagates_errors_and_recovers():
    def boom():
        raise RuntimeError("worker failed")

    with pytest.raises(RuntimeError, match="worker failed"):
        _parallel.run_parallel(boom, 2)
    out = []
    _parallel.run_parallel(lambda: out.append(1), 2)  # the pool still works
    assert out == [1, 1]


def test_nested_calls_run_serially_inside_a_worker():
    depth = []

    def inner():
        depth.append(threading.current_thread().name)

    def outer():
        _parallel.run_parallel(inner, 4)

    _parallel.run_parallel(outer, 2)
    # each of the 2 outer calls ran `inner` once per thread it was allowed: a worker runs it
    # serially (once), the calling thread may fan out (4 times)
    assert len(depth) in (2, 5)


@pytest.mark.parametrize("value, ok", [("1", 1), ("3", 3), (" 2 ", 2), ("0", None), ("x", None)])
def test_num_workers_reads_the_environment(monkeypatch, value, ok):
    monkeypatch.setenv("STRUCTMAT_NUM_THREADS", value)
    if ok is None:
        with pytest.raises(ValueError, match="STRUCTMAT_NUM_THREADS"):
            _parallel.num_workers()
    else:
        assert _parallel.num_workers() == ok
    monkeypatch.delenv("STRUCTMAT_NUM_THREADS")
    assert _parallel.num_workers() >= 1


def test_blas_single_threaded_limits_and_restores():
    from threadpoolctl import threadpool_info

    np.ones((4, 4)) @ np.ones((4, 4))  # BLAS loaded
    before = [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]
    with _parallel.blas_single_threaded():
        inside = [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]
        assert all(n == 1 for n in inside)
    after = [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]
    assert after == before


def test_scratch_is_kept_per_thread_and_slot():
    a = _parallel.scratch("t_slot", 100, np.float32)
    assert a.shape == (100,) and a.dtype == np.float32
    b = _parallel.scratch("t_slot", 50, np.float64)  # the same memory again, reinterpreted
    assert np.shares_memory(a, b) and b.shape == (50,)
    c = _parallel.scratch("t_other", 100, np.float32)  # another slot: other memory
    assert not np.shares_memory(a, c)
    d = _parallel.scratch("t_slot", 1000, np.complex128)  # larger: a new buffer, kept
    assert d.shape == (1000,) and not np.shares_memory(a, d)
    assert np.shares_memory(d, _parallel.scratch("t_slot", 10, np.int8))
    big = _parallel.SCRATCH_MAX // 4 + 1  # over the limit: fresh every time
    assert not np.shares_memory(
        _parallel.scratch("t_big", big, np.float32), _parallel.scratch("t_big", big, np.float32)
    )
    other = []
    th = threading.Thread(target=lambda: other.append(_parallel.scratch("t_slot", 100, np.float32)))
    th.start()
    th.join()
    assert not np.shares_memory(other[0], _parallel.scratch("t_slot", 100, np.float32))
