"""Where a batch's tasks run: inline (``-j 1``), a local process pool, or a Dask cluster.
Each runner's ``run(fn, items)`` yields ``(item, ok, result or exception)`` as tasks end."""
from __future__ import annotations

import os
from collections import deque
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Iterator

from ..archive import release
from ..errors import UsageError

DASK_CONNECT_TIMEOUT = "20s"


def make_runner(jobs: int | None, scheduler: str | None):
    if scheduler:
        return DaskRunner(scheduler)
    from ..capture.parallel import available_cpus
    jobs = available_cpus() if jobs is None else jobs
    if jobs < 1:
        raise UsageError("--jobs must be at least 1")
    return InlineRunner() if jobs == 1 else PoolRunner(jobs)


class InlineRunner:
    """``--jobs 1``: everything in this process, in order."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        release()

    def run(self, fn, items) -> Iterator[tuple]:
        for item in items:
            try:
                yield item, True, fn(item)
            except Exception as e:
                yield item, False, e


class WorkerDied(Exception):
    pass


class PoolRunner:
    """A local process pool, kept for the whole batch.  Results come back as they
    complete, with at most two tasks per worker in flight.  If a worker dies (killed
    for memory, a crash), the tasks it may have held are rerun one at a time in a new
    pool, so only the culprit is lost."""

    def __init__(self, jobs: int):
        self.jobs = jobs
        self.pool: ProcessPoolExecutor | None = None

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self._close(kill=exc_type is not None)

    def _close(self, kill: bool = False) -> None:
        """Shut the pool down; ``kill``: stop the workers now (interrupted, terminated,
        or the dataset cannot be written), not after their current capture."""
        if self.pool is not None:
            if kill:
                for process in list((self.pool._processes or {}).values()):
                    process.kill()
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None

    def _submit(self, fn, item):
        if self.pool is None:
            from ..lifeline import start_worker

            self.pool = ProcessPoolExecutor(self.jobs, mp_context=_worker_context(), initializer=start_worker,
                                            initargs=(os.getpid(),))
        return self.pool.submit(fn, item)

    def run(self, fn, items) -> Iterator[tuple]:
        queue, suspects = deque(items), deque[object]()
        while queue or suspects:
            if suspects:
                item = suspects.popleft()
                try:
                    yield item, True, self._submit(fn, item).result()
                except BrokenProcessPool:
                    self._close()
                    yield item, False, WorkerDied("the worker process died while checking this capture")
                except Exception as e:
                    yield item, False, e
                continue
            inflight: dict[Future, object] = {}
            while queue or inflight:
                while queue and len(inflight) < 2 * self.jobs:
                    item = queue.popleft()
                    inflight[self._submit(fn, item)] = item
                done, _ = wait(inflight, return_when=FIRST_COMPLETED)
                broken = False
                for future in done:
                    item = inflight.pop(future)
                    try:
                        yield item, True, future.result()
                    except BrokenProcessPool:
                        broken = True
                        suspects.append(item)
                    except Exception as e:
                        yield item, False, e
                if broken:
                    suspects.extend(inflight.values())
                    self._close()
                    break


def _worker_context():
    """Workers started by a forkserver that has the package loaded (a fork of this
    process would copy its threads and memory); where there is none (Windows), spawned."""
    import multiprocessing

    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["badspi_pcap.forkserver_preload", "badspi_pcap.batch"])
    return context


class DaskRunner:
    """The same tasks on a Dask distributed cluster (``pip install badspi_pcap[dask]``).
    Workers must reach the inputs and the dataset: a shared filesystem, or URLs in object
    storage (``storage.py``)."""

    def __init__(self, address: str):
        try:
            from distributed import Client
        except ImportError:
            raise UsageError("--scheduler needs Dask: pip install 'badspi_pcap[dask]'") from None
        self.address = address
        self._client_class = Client
        self.client: Any = None    # a distributed.Client once entered

    def __enter__(self):
        try:
            self.client = self._client_class(self.address, timeout=DASK_CONNECT_TIMEOUT)
        except (OSError, TimeoutError) as e:
            raise UsageError(f"cannot reach the Dask scheduler at {self.address}: {e}") from None
        return self

    def __exit__(self, *exc):
        if self.client is not None:
            self.client.close()

    def run(self, fn, items) -> Iterator[tuple]:
        from distributed import as_completed

        items = list(items)
        if not items:
            return
        futures = self.client.map(fn, items, pure=False)
        index = {f.key: i for i, f in enumerate(futures)}
        try:
            for future in as_completed(futures):
                item = items[index[future.key]]
                try:
                    yield item, True, future.result()
                except Exception as e:
                    yield item, False, e
                future.release()
        finally:
            self.client.cancel(futures)
