"""The agent's one write: making an OSD's BlueStore on a device of its node, when a CephOSD asks.

It watches the CephOSDs of its node (a field selector on spec.node). One in phase Preparing, with the
id, uuid and fsid the operator allocated, is checked against the device as it is now
(``preparation.decide``); then ``ceph-osd --mkfs`` writes BlueStore on it, offline (no mon is asked,
no key is needed: the OSD pod adds its key from a Secret at every start). The phase becomes Prepared,
or Failed with exactly what was found or written. Nothing is retried onto a device that changed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from storage_operator.agent.eligibility import Policy
from storage_operator.agent.facts import DeviceFacts
from storage_operator.agent.preparation import Decision, decide, decide_wipe, find_device
from storage_operator.agent.scanner import Scanner, Scope, probe
from storage_operator.api.meta import GROUP, VERSION
from storage_operator.api.v1alpha1.cephosd import CephOSDSpec, CephOSDStatus
from storage_operator.errors import StorageError
from storage_operator.kube.light import LightClient

log = logging.getLogger("storage_operator.agent")
MKFS_TIMEOUT = 600
WATCH_SECONDS = 240
PATH = f"/apis/{GROUP}/{VERSION}/cephosds"
BACKTRACE = re.compile(r"^(\d+: |in thread |ceph version |\*\*\* |NOTE: |-?\d+>? )")
# A Ceph log line: time stamp, thread, level, text. Level -1 is an error; the others are noise here.
LOG_LINE = re.compile(r"^20\d\d-\d\d-\d\dT\S+ \S+ +(-?\d+) (.*)$")


def mkfs_argv(osd_id: int, osd_uuid: str, conf: Path, data: Path) -> list[str]:
    """Offline (no mon asked, no key: the OSD's pod adds its key at every start); nothing written
    outside ``data``'s directory but the device (run_dir: the agent's root file system is read-only)."""
    return [
        "ceph-osd",
        "--no-mon-config",
        "-c",
        str(conf),
        "--mkfs",
        "-i",
        str(osd_id),
        "--osd-uuid",
        osd_uuid,
        "--osd-data",
        str(data),
        "--osd-objectstore",
        "bluestore",
        "--run-dir",
        str(data.parent),
        # The fsck after mkfs sizes a tracker of shared blobs (there are none yet) at 128 MiB by default:
        # three OSDs prepared at once would not fit the agent's memory limit.
        "--bluestore_fsck_shared_blob_tracker_size",
        "0.001",
        "--log-to-file=false",
        "--log-to-stderr=false",
        "--err-to-stderr=true",
    ]


def make_bluestore(device: str, osd_id: int, osd_uuid: str, fsid: str) -> None:
    """``ceph-osd --mkfs`` onto ``device`` through a scratch data directory (its files are rebuilt from
    the device's label whenever the OSD starts, so none of them is kept)."""
    if shutil.which("ceph-osd") is None:
        raise StorageError(
            "ceph-osd is not in the agent's image: managed clusters need the agent to run the project's "
            "image built with --target ceph"
        )
    work = Path(tempfile.mkdtemp(prefix=f"osd-{osd_id}-"))
    try:
        conf = work / "ceph.conf"
        conf.write_text(f"[global]\nfsid = {fsid}\n")
        data = work / "data"
        data.mkdir()
        (data / "block").symlink_to(device)
        done = subprocess.run(
            mkfs_argv(osd_id, osd_uuid, conf, data), capture_output=True, text=True, timeout=MKFS_TIMEOUT, check=False
        )
        if done.returncode != 0:
            raise StorageError(f"ceph-osd --mkfs on {device} exited {done.returncode}: {why_failed(done.stderr)}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


WIPE_BYTES = 64 * 1024**2  # BlueStore's label, BlueFS superblock and the start of RocksDB's log


def wipe_device(device: str) -> None:
    """Remove every signature and zero the start of the device (then discard the rest where supported)."""
    for argv in (["wipefs", "--all", "--quiet", device],):
        done = subprocess.run(argv, capture_output=True, text=True, timeout=MKFS_TIMEOUT, check=False)
        if done.returncode != 0:
            raise StorageError(f"{argv[0]} on {device} exited {done.returncode}: {done.stderr.strip()[:300]}")
    fd = os.open(device, os.O_WRONLY | os.O_CLOEXEC)
    try:
        zeros = bytes(1024**2)
        for _ in range(WIPE_BYTES // len(zeros)):
            os.write(fd, zeros)
        os.fsync(fd)
    finally:
        os.close(fd)
    # Best effort: a thin or sparse device gives its space back (a loop device punches holes in its file).
    subprocess.run(["blkdiscard", device], capture_output=True, timeout=MKFS_TIMEOUT, check=False)


def why_failed(stderr: str) -> str:
    """The lines of a failed Ceph tool that say why, without the stack trace it prints after them."""
    meaningful = []
    for raw in stderr.splitlines():
        line = raw.strip()
        logged = LOG_LINE.match(line)
        if logged is not None:
            if logged.group(1) == "-1" and "Caught signal" not in line:
                meaningful.append(logged.group(2).strip())
        elif line and not BACKTRACE.match(line) and "Caught signal" not in line:
            meaningful.append(line)
    return " / ".join(meaningful[:3])[:600] or "no message"


class Preparer:
    def __init__(
        self,
        api: LightClient,
        node: str,
        scope: Scope,
        mountinfo: Path,
        policy: Policy,
        *,
        mkfs: Callable[[str, int, str, str], None] = make_bluestore,
        wipe: Callable[[str], None] = wipe_device,
    ) -> None:
        self.api, self.node, self.scope, self.mountinfo = api, node, scope, mountinfo
        self.policy, self.mkfs, self.wipe = policy, mkfs, wipe
        self.busy: set[str] = set()
        self.tasks: set[asyncio.Task[None]] = set()
        self.prepared = 0

    async def run(self, stop: asyncio.Event) -> None:
        selector = f"fieldSelector=spec.node%3D{self.node}"
        while not stop.is_set():
            try:
                listed = await self.api.get(f"{PATH}?{selector}")
                for item in listed.get("items", []):
                    self.consider(item)
                version = str(listed["metadata"]["resourceVersion"])
                async for event in self.api.watch(
                    f"{PATH}?{selector}", resource_version=version, timeout_seconds=WATCH_SECONDS
                ):
                    if stop.is_set():
                        return
                    if event.get("type") in ("ADDED", "MODIFIED"):
                        self.consider(event["object"])
                    elif event.get("type") == "ERROR":
                        break  # too old a version: list again
            except (StorageError, OSError, KeyError) as exc:
                log.warning("watching the CephOSDs of %s: %s; again in 2 s", self.node, exc)
                await _sleep(stop, 2.0)

    def consider(self, item: dict[str, Any]) -> None:
        """Start the work a CephOSD waits for: its preparation, or its device's wipe after its removal
        (each on its own: three disks take one mkfs's time)."""
        meta = item.get("metadata") or {}
        status = CephOSDStatus.model_validate({k: v for k, v in (item.get("status") or {}).items() if k != "kopf"})
        if status.phase not in ("Preparing", "Wiping"):
            return
        key = f"{meta.get('namespace')}/{meta.get('name')}"
        if key in self.busy:
            return
        self.busy.add(key)
        task = asyncio.create_task(self._guarded(key, item, status), name=f"prepare {key}")
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _guarded(self, key: str, item: dict[str, Any], status: CephOSDStatus) -> None:
        try:
            await self._prepare(item, CephOSDSpec.model_validate(item["spec"]), status)
        except Exception:  # one preparation's bug must not end the watch of all the others
            log.exception("CephOSD %s: preparation failed unexpectedly", key)
        finally:
            self.busy.discard(key)

    async def _prepare(self, item: dict[str, Any], spec: CephOSDSpec, status: CephOSDStatus) -> None:
        meta = item["metadata"]
        # A scanner of its own: every device probed afresh, no cache shared with a concurrent preparation.
        scanner = Scanner(scope=self.scope, mountinfo=self.mountinfo)
        devices, swaps = await asyncio.to_thread(scanner.scan, None)
        device = find_device(devices, spec)
        if status.phase == "Wiping":
            decision = decide_wipe(spec, status, device)
            if decision.action == "wipe" and device is not None:
                decision = await self._wipe(device, status)
            done = "Wiped"
        elif meta.get("deletionTimestamp"):
            decision = Decision("refuse", f"deleted before its preparation: nothing was written to {spec.device.path}")
            done = "Prepared"
        else:
            decision = decide(spec, status, device, self.policy, active_swaps=swaps)
            if decision.action == "mkfs" and device is not None:
                decision = await self._mkfs(device, status)
            done = "Prepared"
        log.info("CephOSD %s: %s", meta["name"], decision.message)
        if decision.action == "wait":
            return
        phase = done if decision.action in ("mkfs", "wipe", "done") else "Failed"
        path = f"/apis/{GROUP}/{VERSION}/namespaces/{meta['namespace']}/cephosds/{meta['name']}/status"
        try:
            await self.api.merge_patch(path, {"status": {"phase": phase, "message": decision.message}})
        except StorageError as exc:
            log.warning("CephOSD %s: could not report %s: %s", meta["name"], phase, exc)

    async def _wipe(self, device: DeviceFacts, status: CephOSDStatus) -> Decision:
        try:
            await asyncio.to_thread(self.wipe, device.path)
        except (StorageError, OSError) as exc:
            return Decision("refuse", f"wiping {device.path} failed: {exc}")
        after = await asyncio.to_thread(probe, device.path)
        if after.signatures:
            found = ", ".join(s.type for s in after.signatures)
            return Decision("refuse", f"{device.path} still shows {found} after the wipe")
        return Decision("wipe", f"{device.path} wiped (osd.{status.osd_id}'s BlueStore removed): available again")

    async def _mkfs(self, device: DeviceFacts, status: CephOSDStatus) -> Decision:
        osd_id, osd_uuid, fsid = status.osd_id, status.osd_uuid, status.fsid
        if osd_id is None or osd_uuid is None or fsid is None:
            return Decision("wait", "the operator has not allocated the OSD's id yet")
        try:
            await asyncio.to_thread(self.mkfs, device.path, osd_id, osd_uuid, fsid)
        except StorageError as exc:
            after = await asyncio.to_thread(probe, device.path)
            what = ", ".join(s.type for s in after.signatures) or "no signature"
            return Decision("refuse", f"{exc}; the device now shows: {what}")
        after = await asyncio.to_thread(probe, device.path)
        if after.ceph is None or after.ceph.osd_uuid != osd_uuid or not after.ceph.ready:
            return Decision(
                "refuse",
                f"ceph-osd --mkfs on {device.path} ended but the device shows no finished label of osd.{osd_id}",
            )
        self.prepared += 1
        return Decision("mkfs", f"BlueStore of osd.{osd_id} made on {device.path}")


async def _sleep(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
