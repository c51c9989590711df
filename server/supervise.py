"""Keep the worker child of `jiangtang serve` running: restart it (with back-off) if it dies."""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Callable

import structlog

from server.embedded import stop_process_group

log = structlog.get_logger()


class ChildSupervisor:
    def __init__(self, start: Callable[[], subprocess.Popen[bytes]], *, name: str,
                 min_delay_s: float = 1.0, max_delay_s: float = 60.0) -> None:
        self._start = start
        self._name = name
        self._min_delay = min_delay_s
        self._max_delay = max_delay_s
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self.process = start()
        self.restarts = 0
        self._thread = threading.Thread(target=self._watch, name=f"supervise-{name}", daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        delay = self._min_delay
        while not self._stopping.is_set():
            code = self.process.wait()
            if self._stopping.is_set():
                return
            log.warning("child_exited", child=self._name, code=code, restart_in_s=delay)
            if self._stopping.wait(delay):
                return
            with self._lock:
                if self._stopping.is_set():
                    return
                self.process = self._start()
                self.restarts += 1
            delay = min(delay * 2, self._max_delay)

    def stop(self) -> None:
        with self._lock:
            self._stopping.set()
            stop_process_group(self.process)
        self._thread.join(5)
