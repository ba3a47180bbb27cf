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
    nxt = _parallel.task_queue(10)

    def work():
        while (t := nxt()) is not None:
            out.append(t)

    _parallel.run_parallel(work, 2)  # the pool still works
    assert sorted(out) == list(range(10))


def test_nested_calls_run_serially_inside_a_worker():
    import time

    depth = []
    nxt = _parallel.task_queue(2)

    def inner():
        depth.append(threading.current_thread().name)

    def outer():
        while nxt() is not None:
            time.sleep(0.05)  # the pool thread wakes up and takes the second task
            _parallel.run_parallel(inner, 4)

    assert _parallel._reclaim()  # no pool thread still asleep after a cancelled hand-off
    _parallel.run_parallel(outer, 2)
    # each outer task ran `inner` once: inside the pool thread a nested call runs serially,
    # and on the calling thread it finds the pool busy (held by the outer call)
    assert len(depth) == 2
    assert any(name.startswith("structmat-") for name in depth), depth


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


def test_drop_scratch_forgets_every_threads_buffers():
    import gc

    ask, got = threading.Event(), []
    stop = threading.Event()

    def keeper():  # a long-lived thread that asks for its buffer twice
        got.append(_parallel.scratch("t_drop", 100, np.float32))
        ask.wait()
        got.append(_parallel.scratch("t_drop", 100, np.float32))
        stop.wait()

    mine = _parallel.scratch("t_drop", 100, np.float32)
    registered = len(_parallel._all_buffers)
    th = threading.Thread(target=keeper, daemon=True)
    th.start()
    try:
        while not got:
            threading.Event().wait(0.001)
        assert np.shares_memory(mine, _parallel.scratch("t_drop", 100, np.float32))
        assert len(_parallel._all_buffers) == registered + 1
        _parallel.drop_scratch()
        ask.set()
        while len(got) < 2:
            threading.Event().wait(0.001)
        assert not np.shares_memory(got[0], got[1])  # the other thread's buffer was dropped
        assert not np.shares_memory(mine, _parallel.scratch("t_drop", 100, np.float32))
    finally:
        ask.set()
        stop.set()
        th.join()
    del got[:]
    gc.collect()
    # a finished thread's buffers leave the registry with it
    assert len(_parallel._all_buffers) == registered


def test_run_parallel_waits_for_every_thread_before_raising():
    import time

    finished = []
    started = threading.Event()

    def work():
        if threading.current_thread() is threading.main_thread():
            assert started.wait(10)  # the pool thread has taken its hand-off
            raise ValueError("caller failed")
        started.set()
        time.sleep(0.05)  # a worker still busy when the caller fails
        finished.append(1)

    with pytest.raises(ValueError, match="caller failed"):
        _parallel.run_parallel(work, 2)
    assert finished == [1]  # the worker had returned before the error reached us


def test_run_parallel_from_several_threads_at_once():
    # callers that find the pool busy run their work on their own thread: every task of
    # every caller still runs exactly once, and nobody waits forever
    results = {}
    barrier = threading.Barrier(3)

    def caller(key):
        nxt = _parallel.task_queue(200)
        seen = []
        lock = threading.Lock()

        def work():
            while (t := nxt()) is not None:
                with lock:
                    seen.append(t)

        barrier.wait()
        for _ in range(20):
            _parallel.run_parallel(work, 2)
        results[key] = sorted(seen)

    threads = [threading.Thread(target=caller, args=(i,)) for i in range(3)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=60)
    assert not any(th.is_alive() for th in threads)
    assert all(results[i] == list(range(200)) for i in range(3))


def _child_sum(q):
    out = []
    lock = threading.Lock()
    nxt = _parallel.task_queue(10)

    def work():
        while (t := nxt()) is not None:
            with lock:
                out.append(t)

    _parallel.run_parallel(work, 2)
    q.put(sum(out))


def test_run_parallel_after_fork():
    import multiprocessing as mp
    import sys

    if sys.platform == "win32" or "fork" not in mp.get_all_start_methods():
        pytest.skip("no fork on this platform")
    _parallel.run_parallel(lambda: None, 2)  # the parent's pool exists
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=_child_sum, args=(q,))
    p.start()
    try:
        assert q.get(timeout=60) == 45
    finally:
        p.join(timeout=60)
    assert p.exitcode == 0


def test_run_parallel_reports_an_error_raised_on_a_pool_thread_only():
    started = threading.Event()

    def work():
        if threading.current_thread() is not threading.main_thread():
            started.set()
            raise KeyError("pool thread failed")
        assert started.wait(10)

    with pytest.raises(KeyError, match="pool thread failed"):
        _parallel.run_parallel(work, 2)


@pytest.mark.parametrize("threads", [1, 2, 4])
def test_run_phases_orders_the_phases(threads):
    import time

    done = [[False] * 7 for _ in range(3)]
    seen_early = []

    def make(ph):
        def task(i):
            if ph > 0 and not all(done[ph - 1]):
                seen_early.append((ph, i))
            time.sleep(0.002 * ((i * 5 + ph) % 3))  # uneven task lengths
            done[ph][i] = True

        return task

    _parallel.run_phases([(7, make(0)), (7, make(1)), (7, make(2))], threads)
    assert seen_early == [] and all(all(d) for d in done)


def test_run_phases_stops_and_reports_an_error():
    ran = []

    def first(i):
        if i == 2:
            raise ZeroDivisionError("task 2")
        ran.append(i)

    def second(i):
        ran.append(100 + i)

    with pytest.raises(ZeroDivisionError, match="task 2"):
        _parallel.run_phases([(5, first), (5, second)], 2)
    assert not any(t >= 100 for t in ran)  # the next phase never started
    _parallel.run_phases([(0, first), (3, second)], 2)  # an empty phase, and the pool works
    assert sorted(t for t in ran if t >= 100) == [100, 101, 102]


def test_run_parallel_does_not_wait_for_a_thread_that_has_not_started(monkeypatch):
    # with the GIL held past the hand-off (a long switch interval), the pool thread cannot
    # take it before the caller has run out of tasks: the caller does everything, returns
    # without waiting, and the pool thread serves the following calls once it has woken up
    import sys
    import time

    _parallel.run_parallel(lambda: None, 2)  # the pool exists
    assert _parallel._reclaim()
    old = sys.getswitchinterval()
    sys.setswitchinterval(1.0)
    try:
        ran = []
        callers = []
        nxt = _parallel.task_queue(20)

        def work():
            callers.append(threading.current_thread().name)
            while (t := nxt()) is not None:
                ran.append((t, threading.current_thread().name))

        t0 = time.perf_counter()
        _parallel.run_parallel(work, 2)
        elapsed = time.perf_counter() - t0
    finally:
        sys.setswitchinterval(old)
    assert sorted(t for t, _ in ran) == list(range(20))
    assert {name for _, name in ran} == {threading.main_thread().name}
    assert _parallel._reclaim()
    assert callers == [threading.main_thread().name]  # the pool thread never ran `work`
    assert elapsed < 0.5  # not a switch interval spent waiting for the pool thread
    # the pool thread takes part again: tasks that release the GIL give it the chance
    names = set()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not any(n.startswith("structmat-") for n in names):
        nxt2 = _parallel.task_queue(8)

        def work2():
            while nxt2() is not None:
                time.sleep(0.002)
                names.add(threading.current_thread().name)

        _parallel.run_parallel(work2, 2)
    assert any(n.startswith("structmat-") for n in names), names
