"""Shared fixtures: one real lab per test run (session scope), torn down at the end.

Every test is marked by its directory (unit/, integration/, e2e/), so `pytest -m unit` runs only pure,
fast tests. The lab lives in `.lab-test/` on its own ports (LAB_PORT_BASE 24400 by default), so a
`make lab` of the same checkout keeps running beside it. Its logs stay in `.lab-test/logs/` when a test
failed; after a green run they are removed with the rest.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from storage_operator.lab.config import LabConfig
from storage_operator.lab.lab import Lab
from storage_operator.lab.state import LabState
from tests.support import LabHandle

REPO_ROOT = Path(__file__).resolve().parents[1]
TEST_PORT_BASE = 24400


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        kind = Path(str(item.fspath)).relative_to(REPO_ROOT / "tests").parts[0]
        if kind in ("unit", "integration", "e2e"):
            item.add_marker(getattr(pytest.mark, kind))


@pytest.fixture(scope="session")
def lab_config() -> LabConfig:
    return LabConfig(
        root=Path(os.environ.get("TEST_LAB_DIR", REPO_ROOT / ".lab-test")).resolve(),
        port_base=int(os.environ.get("TEST_LAB_PORT_BASE", TEST_PORT_BASE)),
    )


@pytest.fixture(scope="session")
def lab(lab_config: LabConfig, request: pytest.FixtureRequest) -> Iterator[LabHandle]:
    """The real lab: control plane, simulated nodes with loop disks, Ceph, NFS-Ganesha."""
    instance = Lab(lab_config, say=lambda line: print(f"[test lab] {line}", flush=True))
    state: LabState = instance.up()
    yield LabHandle(config=lab_config, state=state)
    failed = request.session.testsfailed > 0
    instance.down(keep_logs=failed)
