"""The worker process's runtime, set once by worker.main before any task runs."""

from __future__ import annotations

from server.runtime import Runtime

_runtime: Runtime | None = None


def set_runtime(runtime: Runtime | None) -> None:
    global _runtime
    _runtime = runtime


def runtime() -> Runtime:
    if _runtime is None:
        raise RuntimeError("worker runtime not initialised")
    return _runtime
