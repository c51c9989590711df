from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from server.embedded import spawn_child
from server.supervise import ChildSupervisor


def _wait(condition: Callable[[], bool], timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)  # polling a condition with a deadline
    return False


def test_a_dying_child_is_restarted_with_backoff(tmp_path: Path) -> None:
    starts = tmp_path / "starts"

    def start() -> subprocess.Popen[bytes]:
        return spawn_child([sys.executable, "-c", f"open({str(starts)!r}, 'a').write('x')"],
                           log_path=tmp_path / "child.log")

    supervisor = ChildSupervisor(start, name="test", min_delay_s=0.05, max_delay_s=0.2)
    try:
        assert _wait(lambda: supervisor.restarts >= 2)
    finally:
        supervisor.stop()
    assert starts.read_text().count("x") >= 2  # the first start and at least one restart ran


def test_stop_ends_a_running_child_and_does_not_restart_it(tmp_path: Path) -> None:
    supervisor = ChildSupervisor(
        lambda: spawn_child([sys.executable, "-c", "import time; time.sleep(60)"], log_path=tmp_path / "c.log"),
        name="test", min_delay_s=0.05)
    child = supervisor.process
    supervisor.stop()
    assert child.poll() is not None
    assert supervisor.restarts == 0
