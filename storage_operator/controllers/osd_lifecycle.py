"""One CephOSD of a managed cluster through its phases:

Pending -> (the operator allocates the id: ``osd new`` with a fresh uuid and cephx key) -> Preparing
-> (the node's agent checks the device again and makes BlueStore) -> Prepared -> (the operator runs the
OSD's Deployment on that node) -> Running while the OSD map says up; Down when it is not.

The uuid is written into the status before ``osd new`` and the key into its Secret before that: a
retry after a crash asks for the same uuid with the same key, and Ceph answers with the same id.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from storage_operator.api.v1alpha1.cephosd import CephOSDSpec, CephOSDStatus
from storage_operator.ceph.auth import generate_key
from storage_operator.ceph.daemons import OsdState, build_osd_new, parse_osd_new
from storage_operator.ceph.session import ClusterSession
from storage_operator.controllers.rollout import Daemons
from storage_operator.controllers.runtime import Body, Runtime
from storage_operator.kube import objects, workloads
from storage_operator.reconcile.managed import Owner, build_daemon_deployment, build_secret, osd_key_secret, osd_pod

KIND = "CephOSD"


@dataclass(frozen=True)
class Managed:
    """What a managed cluster's OSDs need from it: a session, its fsid, its image, the OSD map."""

    owner: Owner
    session: ClusterSession
    fsid: str
    image: str
    osd_map: dict[int, OsdState]
    daemons: Daemons


async def advance(rt: Runtime, ctx: Managed, item: Body, spec: CephOSDSpec, status: CephOSDStatus) -> CephOSDStatus:
    """The next status of one CephOSD (writes what the step needs on the way)."""
    status = status.model_copy(deep=True)
    if status.osd_id is None:
        if status.phase == "Pending":
            await _allocate(rt, ctx, item, spec, status)
        return status
    if status.phase in ("Prepared", "Running", "Down"):
        await _run(rt, ctx, spec, status)
    return status


async def _allocate(rt: Runtime, ctx: Managed, item: Body, spec: CephOSDSpec, status: CephOSDStatus) -> None:
    meta = item["metadata"]
    if status.osd_uuid is None:
        status.osd_uuid = str(uuid.uuid4())
        status.message = "allocating an OSD id"
        # Kept before Ceph hears of it: a crash from here on retries with this uuid, never a new one.
        await rt.kube(objects.patch_status, rt.api, KIND, meta["name"], meta["namespace"], {"osdUUID": status.osd_uuid})
    secret = osd_key_secret(ctx.owner.name, status.osd_uuid)
    await rt.kube(workloads.create_secret_once, rt.api, build_secret(ctx.owner, secret, {"key": generate_key()}))
    key = (await rt.kube(objects.read_secret, rt.api, ctx.owner.namespace, secret))["key"]
    status.osd_id = parse_osd_new(await ctx.session.call(build_osd_new(status.osd_uuid, key)))
    status.fsid = ctx.fsid
    status.phase = "Preparing"
    status.message = f"osd.{status.osd_id} allocated; the agent on {spec.node} prepares {spec.device.path}"


async def _run(rt: Runtime, ctx: Managed, spec: CephOSDSpec, status: CephOSDStatus) -> None:
    osd_id, osd_uuid = status.osd_id, status.osd_uuid
    if osd_id is None or osd_uuid is None:
        return
    device = spec.device.stable_path or spec.device.path
    pod = osd_pod(ctx.owner, osd_id, osd_uuid, spec.node, device)
    await ctx.daemons.apply(rt, build_daemon_deployment(ctx.owner, ctx.image, pod))
    state = ctx.osd_map.get(osd_id)
    status.up = bool(state and state.up)
    status.in_ = bool(state and state.in_)
    if status.up:
        status.phase = "Running"
        status.message = f"osd.{osd_id} up{' and in' if status.in_ else ', out'} on {spec.node} ({device})"
    elif status.phase == "Running":
        status.phase = "Down"
        status.message = f"osd.{osd_id} is down: its pod on {spec.node} is not running or cannot reach the mons"
    elif status.phase == "Prepared":
        status.message = f"osd.{osd_id} prepared on {device}; its daemon is starting on {spec.node}"
