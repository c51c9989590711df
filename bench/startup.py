"""Time from `jiangtang serve` to /readyz 200: cold (empty data dir) and warm (second start).

Baseline: the same measurement for a bare `python -c "import server.app"` process start, so the
figures can be read against the machine's own speed. Last line: {"cold_s": …, "warm_s": …}.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from server.embedded import free_port


def time_to_ready(data_dir: Path, port: int, timeout: float = 120) -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JIANGTANG_")}
    env.update(JIANGTANG_DATA_DIR=str(data_dir), JIANGTANG_PORT=str(port))
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "server.cli", "serve", "--no-worker"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while time.perf_counter() - start < timeout:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                    return time.perf_counter() - start
            except httpx.HTTPError:
                pass
            if proc.poll() is not None:
                raise RuntimeError("jiangtang serve exited before becoming ready")
            time.sleep(0.1)  # polling readiness with a deadline
        raise TimeoutError("not ready in time")
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(60)


def import_baseline() -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import server.app"], check=True)
    return time.perf_counter() - start


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="jt-bench-") as tmp:
        data_dir = Path(tmp) / "data"
        cold = time_to_ready(data_dir, free_port())
        warm = time_to_ready(data_dir, free_port())
    baseline = import_baseline()
    print(f"startup cold: ours {cold:.2f} s, baseline (bare import) {baseline:.2f} s, ratio {cold / baseline:.1f}")
    print(f"startup warm: ours {warm:.2f} s, baseline (bare import) {baseline:.2f} s, ratio {warm / baseline:.1f}")
    print(json.dumps({"cold_s": round(cold, 2), "warm_s": round(warm, 2), "import_s": round(baseline, 2)}))


if __name__ == "__main__":
    main()
