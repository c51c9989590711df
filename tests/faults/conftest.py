"""Fault tests (worker kills, S3/PostgreSQL outages, full disk, scale-out): select with `-m faults`.

They run by default; every test in this folder gets the marker.
"""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).parent


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "faults: fault-injection and scale-out tests (real subprocesses)")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.faults)
