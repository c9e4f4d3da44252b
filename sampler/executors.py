"""Where independent jobs run: one small executor interface for this process, the local cores
or a Dask cluster.

Planning parts of a city, simulation replications and what-if staff levels are independent
jobs. They all go through `Executor` (``submit(fn, *args) -> future with .result()``), the
shape of `concurrent.futures` executors and of Dask's ``distributed.Client``, so the same code
path runs serially in tests, on a local process pool, or on a cluster:

- `SerialExecutor` runs each job at once in this process;
- `ProcessExecutor` is a process pool over the local cores;
- `DaskExecutor` connects to a ``distributed`` scheduler (``tcp://host:8786``) or wraps a
  client the caller made (for example on a ``LocalCluster`` in tests).

Results never depend on the executor: callers give every job its own seed up front.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from typing import Any, Protocol

from sampler.errors import COMMAND_LINE, InputError, InputIssue

__all__ = [
    "DaskExecutor",
    "Executor",
    "FutureLike",
    "ProcessExecutor",
    "SerialExecutor",
    "open_executor",
    "opened_executor",
]


class FutureLike(Protocol):
    """What `Executor.submit` returns."""

    def result(self) -> Any: ...


class Executor(Protocol):
    """Runs a picklable function on some worker."""

    def submit(self, fn: Callable[..., Any], /, *args: Any) -> FutureLike: ...


class _Done:
    def __init__(self, value: Any):
        self._value = value

    def result(self) -> Any:
        return self._value


class SerialExecutor:
    """Runs each job at once in this process (tests, one worker)."""

    workers = 1

    def __enter__(self) -> SerialExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def submit(self, fn: Callable[..., Any], /, *args: Any) -> FutureLike:
        return _Done(fn(*args))


class ProcessExecutor:
    """A process pool over the local cores; use as a context manager."""

    def __init__(self, workers: int | None = None):
        self.workers = workers or os.cpu_count() or 1
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> ProcessExecutor:
        self._pool = ProcessPoolExecutor(max_workers=self.workers)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None

    def submit(self, fn: Callable[..., Any], /, *args: Any) -> FutureLike:
        if self._pool is None:
            raise RuntimeError("use ProcessExecutor as a context manager")
        return self._pool.submit(fn, *args)


class DaskExecutor:
    """Jobs on a Dask ``distributed`` cluster; use as a context manager.

    Give either the scheduler ``address`` (``tcp://host:8786``; the client is opened on enter
    and closed on exit) or a ``client`` the caller owns (left open). Every job is submitted
    with ``pure=False`` so Dask never merges two submissions of the same function and
    arguments into one task.
    """

    def __init__(self, address: str | None = None, client: Any = None, timeout: float = 30.0):
        if (address is None) == (client is None):
            raise ValueError("give a scheduler address or a client, not both")
        self.address = address
        self.timeout = timeout
        self._client = client
        self._owns = client is None

    @property
    def workers(self) -> int:
        """Worker threads the cluster offers (at least 1)."""
        if self._client is None:
            return 1
        return max(sum(self._client.nthreads().values()), 1)

    def __enter__(self) -> DaskExecutor:
        if self._client is None:
            from distributed import Client

            self._client = Client(self.address, timeout=self.timeout)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._owns and self._client is not None:
            self._client.close()
            self._client = None

    def submit(self, fn: Callable[..., Any], /, *args: Any) -> FutureLike:
        if self._client is None:
            raise RuntimeError("use DaskExecutor as a context manager")
        return self._client.submit(fn, *args, pure=False)


def open_executor(workers: int | None = None, dask: str | None = None) -> SerialExecutor | ProcessExecutor | DaskExecutor:
    """The executor a command line asks for: a Dask scheduler address wins, then ``workers``
    (1 = in this process), else all local cores. Use the result as a context manager."""
    if dask:
        return DaskExecutor(dask, timeout=10.0)
    if workers == 1:
        return SerialExecutor()
    return ProcessExecutor(workers)


@contextmanager
def opened_executor(workers: int | None = None, dask: str | None = None,
                    timeout: float = 10.0) -> Iterator[Executor]:
    """The executor a command line asks for (see `open_executor`), entered; a Dask scheduler that
    does not answer within ``timeout`` seconds is an InputError naming the address."""
    if not dask:
        with open_executor(workers) as local:
            yield local
        return
    if importlib.util.find_spec("distributed") is None:
        raise InputError([InputIssue(
            "<command line>", None, "--dask", dask,
            "--dask needs Dask's `distributed` package (the 'cluster' extra), which is not installed: "
            "`pip install --require-hashes -r requirements/dev.lock` in this checkout (or "
            "`pip install distributed`), or drop --dask to use this machine")])
    cluster = DaskExecutor(dask, timeout=timeout)
    try:
        cluster.__enter__()
    except Exception as exc:  # distributed raises OSError, TimeoutError or ValueError (bad address)
        raise InputError([InputIssue(
            COMMAND_LINE, None, "--dask", dask,
            f"cannot reach a Dask scheduler there within {timeout:g} s ({type(exc).__name__}): start one with "
            "`dask scheduler` and give its address, e.g. tcp://host:8786, or drop --dask to use this machine")]) from exc
    try:
        yield cluster
    finally:
        cluster.__exit__(None, None, None)
