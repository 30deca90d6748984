"""NFS-Ganesha is real: a directory made through nfs-rs (no kernel mount) appears in the export."""

from __future__ import annotations

import uuid

from storage_operator.lab.nfs import VOLUMES_DIR
from tests.support import LabHandle


def test_mkdir_over_nfs_appears_in_the_backing_directory(lab: LabHandle) -> None:
    name = f"{VOLUMES_DIR}/smoke-{uuid.uuid4().hex[:8]}"
    backing = lab.config.paths.nfs_export / name
    assert not backing.exists()
    with lab.nfs() as nfs:
        nfs.mkdir(name, 0o750)
        assert nfs.exists(name)
        assert backing.is_dir()
        assert backing.stat().st_mode & 0o777 == 0o750
        nfs.rmdir(name)
        assert not nfs.exists(name)
    assert not backing.exists()


def test_export_reports_capacity(lab: LabHandle) -> None:
    with lab.nfs() as nfs:
        cap = nfs.capacity()
    assert cap.total_bytes > 0
    assert 0 < cap.available_bytes <= cap.total_bytes
