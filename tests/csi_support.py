"""Talking to the lab's CSI plugins as a CO would: gRPC stubs, capabilities, the lab's secrets."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import grpc
import yaml

from csi.proto import csi_pb2, csi_pb2_grpc
from storage_operator.lab import csi as lab_csi
from tests.support import LabHandle

GiB = 1024**3
MiB = 1024**2
Mode = csi_pb2.VolumeCapability.AccessMode
ModeValue = csi_pb2.VolumeCapability.AccessMode.Mode
Driver = Literal["cephfs", "rbd"]


def capability(
    *, block: bool = False, mode: ModeValue = Mode.SINGLE_NODE_WRITER, fs_type: str = ""
) -> csi_pb2.VolumeCapability:
    cap = csi_pb2.VolumeCapability(access_mode=Mode(mode=mode))
    if block:
        cap.block.SetInParent()
    else:
        cap.mount.fs_type = fs_type
    return cap


@dataclass
class Plugin:
    """One lab plugin (mode all): its stubs, parameters, secrets and a scratch directory under the lab."""

    driver: Driver
    home: Path
    channel: grpc.Channel
    identity: csi_pb2_grpc.IdentityStub
    controller: csi_pb2_grpc.ControllerStub
    node: csi_pb2_grpc.NodeStub
    params: dict[str, str]
    secrets: dict[str, str]

    def scratch(self, what: str) -> Path:
        """A fresh path under the lab directory (teardown unmounts anything left there)."""
        path = self.home / "tests" / f"{what}-{uuid.uuid4().hex[:8]}"
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def create(
        self, name: str, *, size: int = GiB, block: bool = False, source: csi_pb2.VolumeContentSource | None = None
    ) -> csi_pb2.Volume:
        req = csi_pb2.CreateVolumeRequest(
            name=name,
            capacity_range=csi_pb2.CapacityRange(required_bytes=size),
            volume_capabilities=[capability(block=block)],
            parameters=self.params,
            secrets=self.secrets,
        )
        if source is not None:
            req.volume_content_source.CopyFrom(source)
        response: csi_pb2.CreateVolumeResponse = self.controller.CreateVolume(req, timeout=120)
        return response.volume

    def delete(self, volume_id: str) -> None:
        self.controller.DeleteVolume(
            csi_pb2.DeleteVolumeRequest(volume_id=volume_id, secrets=self.secrets), timeout=120
        )

    def snapshot(self, name: str, volume_id: str) -> csi_pb2.Snapshot:
        req = csi_pb2.CreateSnapshotRequest(name=name, source_volume_id=volume_id, secrets=self.secrets)
        response: csi_pb2.CreateSnapshotResponse = self.controller.CreateSnapshot(req, timeout=60)
        return response.snapshot

    def delete_snapshot(self, snapshot_id: str) -> None:
        req = csi_pb2.DeleteSnapshotRequest(snapshot_id=snapshot_id, secrets=self.secrets)
        self.controller.DeleteSnapshot(req, timeout=60)

    def stage(
        self,
        volume: csi_pb2.Volume,
        staging: Path,
        *,
        block: bool = False,
        mode: ModeValue = Mode.SINGLE_NODE_WRITER,
        fs_type: str = "",
    ) -> None:
        with contextlib.suppress(OSError):  # the CO makes the directory; a dead FUSE mount there is ours to fix
            staging.mkdir(parents=True, exist_ok=True)
        self.node.NodeStageVolume(
            csi_pb2.NodeStageVolumeRequest(
                volume_id=volume.volume_id,
                staging_target_path=str(staging),
                volume_capability=capability(block=block, mode=mode, fs_type=fs_type),
                volume_context=volume.volume_context,
                secrets=self.secrets,
            ),
            timeout=120,
        )

    def publish(
        self,
        volume: csi_pb2.Volume,
        staging: Path,
        target: Path,
        *,
        block: bool = False,
        readonly: bool = False,
        fs_type: str = "",
    ) -> None:
        self.node.NodePublishVolume(
            csi_pb2.NodePublishVolumeRequest(
                volume_id=volume.volume_id,
                staging_target_path=str(staging),
                target_path=str(target),
                volume_capability=capability(block=block, fs_type=fs_type),
                volume_context=volume.volume_context,
                readonly=readonly,
            ),
            timeout=60,
        )

    def unpublish(self, volume_id: str, target: Path) -> None:
        self.node.NodeUnpublishVolume(
            csi_pb2.NodeUnpublishVolumeRequest(volume_id=volume_id, target_path=str(target)), timeout=60
        )

    def unstage(self, volume_id: str, staging: Path) -> None:
        self.node.NodeUnstageVolume(
            csi_pb2.NodeUnstageVolumeRequest(volume_id=volume_id, staging_target_path=str(staging)), timeout=60
        )

    @contextlib.contextmanager
    def volume(self, name: str, **kwargs: Any) -> Iterator[csi_pb2.Volume]:
        """A volume for the test, deleted afterwards (with its snapshots gone first, by the test)."""
        vol = self.create(name, **kwargs)
        try:
            yield vol
        finally:
            self.delete(vol.volume_id)

    @contextlib.contextmanager
    def mounted(
        self, volume: csi_pb2.Volume, *, block: bool = False, readonly: bool = False, fs_type: str = ""
    ) -> Iterator[Path]:
        """Staged and published at fresh paths; unpublished and unstaged afterwards. Yields the target."""
        staging, target = self.scratch("staging"), self.scratch("target")
        self.stage(volume, staging, block=block, fs_type=fs_type)
        try:
            self.publish(volume, staging, target, block=block, readonly=readonly, fs_type=fs_type)
            try:
                yield target
            finally:
                self.unpublish(volume.volume_id, target)
        finally:
            self.unstage(volume.volume_id, staging)


def lab_secrets(lab: LabHandle, driver: Driver) -> dict[str, str]:
    doc = yaml.safe_load((lab_csi.csi_dir(lab.config, driver) / "sanity-secrets.yaml").read_text())
    return dict(doc["CreateVolumeSecret"])


@contextlib.contextmanager
def plugin(lab: LabHandle, driver: Driver) -> Iterator[Plugin]:
    home = lab_csi.csi_dir(lab.config, driver)
    with grpc.insecure_channel(f"unix://{lab_csi.socket_path(lab.config, driver)}") as channel:
        yield Plugin(
            driver=driver,
            home=home,
            channel=channel,
            identity=csi_pb2_grpc.IdentityStub(channel),
            controller=csi_pb2_grpc.ControllerStub(channel),
            node=csi_pb2_grpc.NodeStub(channel),
            params=dict(yaml.safe_load((home / "sanity-params.yaml").read_text())),
            secrets=lab_secrets(lab, driver),
        )


def code_of(call: Any) -> grpc.StatusCode:
    """The status code a call fails with (the test fails when it succeeds)."""
    try:
        call()
    except grpc.RpcError as exc:
        code: grpc.StatusCode = exc.code()
        return code
    raise AssertionError("the call succeeded; an error was expected")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"
