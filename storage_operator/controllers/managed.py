"""A managed CephCluster: the operator makes the cluster's identity (fsid, mon and admin keys, kept in
a ConfigMap and Secrets), places and runs the mons, waits for their quorum, then runs the mgr and
the OSDs that the CephOSDs describe. Every step is idempotent: a pass starts from what exists.

Keys are made once and never replaced: the mons' store holds them after the first start.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from storage_operator.api.v1alpha1.cephcluster import CLEANUP_CONFIRMATION, CephClusterSpec
from storage_operator.api.v1alpha1.diskinventory import DiskInventoryStatus
from storage_operator.ceph.auth import KeyringEntry, generate_key, read_setting, render_keyring
from storage_operator.ceph.connection import ConnectionSpec
from storage_operator.ceph.daemons import (
    DAEMON_CAPS,
    build_auth_rm,
    build_config_set,
    build_get_or_create,
    build_module_disable,
    build_module_enable,
    build_mon_remove,
    parse_key,
)
from storage_operator.ceph.session import ClusterSession
from storage_operator.controllers.errors import deletion_waits
from storage_operator.controllers.rollout import Daemons
from storage_operator.controllers.runtime import Body, Runtime
from storage_operator.errors import CephUnavailable, NotReady
from storage_operator.kube import objects, workloads
from storage_operator.reconcile.events import Event
from storage_operator.reconcile.managed import (
    DAEMON_ID_LABEL,
    DAEMON_LABEL,
    MON_IDS,
    MonPlace,
    Owner,
    admin_secret,
    build_cleanup_pod,
    build_config_map,
    build_daemon_deployment,
    build_secret,
    cleanup_pod_name,
    cluster_data_dir,
    config_map_name,
    daemon_name,
    daemon_secret,
    mds_pod,
    merged_config,
    mgr_pod,
    mon_keyring_secret,
    mon_pod,
    mons_to_replace,
    parse_mons,
    parse_retired,
    place_mons,
    render_ceph_conf,
)
from storage_operator.reconcile.osds import CLUSTER_LABEL, cluster_label, select_osds

log = logging.getLogger("storage_operator")
ADMIN = "admin"
ADMIN_CAPS = {"mon": "allow *", "mgr": "allow *", "osd": "allow *", "mds": "allow *"}


@dataclass(frozen=True)
class Identity:
    fsid: str
    admin_key: str
    mons: tuple[MonPlace, ...]
    initial: tuple[MonPlace, ...]  # the mons of the first monmap
    retired: dict[str, str]  # mons removed for good: id -> node


def mon_deployments(owner: Owner, spec: CephClusterSpec, identity: Identity) -> list[dict[str, Any]]:
    return [
        build_daemon_deployment(
            owner,
            spec.ceph_version.image,
            mon_pod(owner, mon, identity.initial, identity.fsid, spec.data_dir_host_path),
        )
        for mon in identity.mons
    ]


def owner_of(body: Body) -> Owner:
    meta = body["metadata"]
    return Owner(str(meta["name"]), str(meta["namespace"]), str(meta["uid"]))


def check_namespace(rt: Runtime, body: Body) -> None:
    namespace = str(body["metadata"]["namespace"])
    if namespace != rt.config.namespace:
        raise CephUnavailable(
            "WrongNamespace",
            f"a managed CephCluster lives in the operator's namespace {rt.config.namespace}, where its keys "
            f"and daemons are kept; this one is in {namespace}",
        )


async def ensure_identity(
    rt: Runtime, body: Body, spec: CephClusterSpec, events: list[Event], daemons: Daemons
) -> Identity:
    """fsid and keys (made once), mon placement, ceph.conf, and the mon Deployments."""
    owner = owner_of(body)
    check_namespace(rt, body)
    current = await rt.kube(workloads.read_config_map, rt.api, owner.namespace, config_map_name(owner.name))
    fsid = (current or {}).get("fsid") or str(uuid.uuid4())
    existing = parse_mons((current or {}).get("mons.json"))
    initial = parse_mons((current or {}).get("initial-mons.json")) or existing
    retired = parse_retired((current or {}).get("retired-mons.json"))
    mon_key, admin_key = generate_key(), generate_key()
    keyring = render_keyring(
        [
            KeyringEntry("mon.", mon_key, {"mon": "allow *"}),
            KeyringEntry(f"client.{ADMIN}", admin_key, ADMIN_CAPS),
        ]
    )
    made = await rt.kube(
        workloads.create_secret_once,
        rt.api,
        build_secret(owner, mon_keyring_secret(owner.name), {"keyring": keyring, "fsid": fsid}),
    )
    if not made:
        stored = await rt.kube(objects.read_secret, rt.api, owner.namespace, mon_keyring_secret(owner.name))
        admin_key = _admin_key_of(stored.get("keyring", ""))
        # The identity lives with the keys: a lost ConfigMap must not mint a new cluster.
        fsid = stored.get("fsid") or fsid
    await rt.kube(
        workloads.create_secret_once,
        rt.api,
        build_secret(owner, admin_secret(owner.name), {"userID": ADMIN, "userKey": admin_key}),
    )
    if made:
        events.append(Event.normal("Bootstrapped", f"new cluster fsid {fsid}: mon and admin keys made into Secrets"))
    # Nodes (every inventory and every Node listed) only when a mon is to be added: placed mons never move.
    nodes = await _mon_nodes(rt, spec, owner.name) if len(existing) < spec.mon.count else {}
    placement = place_mons(
        spec.mon.count,
        nodes,
        existing,
        allow_multiple_per_node=spec.mon.allow_multiple_per_node,
        retired=list(retired),
        avoid=list(retired.values()),
    )
    if not placement.mons:
        raise NotReady(f"no node to put a mon on: {placement.problem}", delay=10)
    if placement.problem:
        events.append(Event.warning("MonPlacement", placement.problem))
    conf = render_ceph_conf(fsid, placement.mons, merged_config(spec))
    initial = initial or placement.mons
    gone = {m.mon_id: m.node for m in existing if m not in placement.mons}  # the count was lowered
    retired = retired | gone
    config_map = build_config_map(owner, fsid, placement.mons, conf, initial=initial, retired=retired)
    await rt.kube(workloads.apply, rt.api, config_map)
    # The first monmap lists the mons of the first placement; a mon added later joins the quorum.
    identity = Identity(fsid, admin_key, placement.mons, initial, retired)
    daemons.mon_count = len(placement.mons)
    for deployment in mon_deployments(owner, spec, identity):
        await daemons.apply(rt, deployment)
    return identity


def _admin_key_of(keyring: str) -> str:
    section = keyring.split(f"[client.{ADMIN}]", 1)
    key = read_setting(section[1], "key") if len(section) == 2 else None
    if not key:
        raise CephUnavailable("SecretInvalid", "the mon keyring Secret holds no client.admin key")
    return key


async def _mon_nodes(rt: Runtime, spec: CephClusterSpec, cluster: str) -> dict[str, str]:
    """Nodes that may hold a mon: those the storage selection names (or all with an inventory), with an
    address. Mons sit where the cluster's disks are: those nodes run the agent and are meant for Ceph."""
    inventories = {
        str(item["metadata"]["name"]): DiskInventoryStatus.model_validate(item.get("status") or {})
        for item in await rt.kube(objects.list_objects, rt.api, "DiskInventory")
    }
    selection = select_osds(cluster, spec.storage, inventories)
    names = {d.node for d in selection.desired} or (
        set(inventories) if spec.storage.use_all_nodes else {n.name for n in spec.storage.nodes}
    )
    addresses = await rt.kube(workloads.node_addresses, rt.api)
    return {n: addresses[n] for n in sorted(names) if n in addresses}


def connection_of(identity: Identity, rt: Runtime) -> ConnectionSpec:
    return ConnectionSpec(
        mon_hosts=tuple(m.addrvec for m in identity.mons),
        user_id=ADMIN,
        key=identity.admin_key,
        expected_fsid=identity.fsid,
        connect_timeout=rt.config.ceph_connect_timeout,
        op_timeout=rt.config.ceph_op_timeout,
    )


async def ensure_mgr(rt: Runtime, body: Body, spec: CephClusterSpec, identity: Identity, daemons: Daemons) -> None:
    """The mgr's key (from the mons), its Deployment on the first mon's node, and its modules."""
    owner = owner_of(body)
    session = daemons.session
    if session is None:
        return
    commands = []
    for index in range(spec.mgr.count):
        mgr_id = "ab"[index]
        key = parse_key(await session.call(build_get_or_create(f"mgr.{mgr_id}", DAEMON_CAPS["mgr"])), f"mgr.{mgr_id}")
        secret = build_secret(owner, daemon_secret(owner.name, "mgr", mgr_id), {"key": key})
        await rt.kube(workloads.apply, rt.api, secret)
        host = identity.mons[index % len(identity.mons)]  # mgrs on the mons' nodes, one each while there are
        deployment = build_daemon_deployment(owner, spec.ceph_version.image, mgr_pod(owner, mgr_id, host.node))
        await daemons.apply(rt, deployment)
        if spec.monitoring.enabled:
            # Each mgr's metrics on its own node's address, never on every address of the host.
            commands.append(build_config_set(f"mgr.{mgr_id}", "mgr/prometheus/server_addr", host.ip))
    if spec.monitoring.enabled:
        commands += [
            build_config_set("mgr", "mgr/prometheus/server_port", str(spec.monitoring.port)),
            build_module_enable("prometheus"),
        ]
    for module in spec.mgr.modules:
        if module.name != "prometheus" or not spec.monitoring.enabled:
            commands.append(build_module_enable(module.name) if module.enabled else build_module_disable(module.name))
    await session.call_all(commands)


async def tear_down(rt: Runtime, body: Body, spec: CephClusterSpec) -> None:
    """A deleted managed cluster (no pool or file system left): its OSDs removed (their devices wiped
    only with the cleanup confirmation), then its mons and mgrs stopped, and with the confirmation
    their stores removed from the nodes. Raises (kopf comes back) until each step is done."""
    owner = owner_of(body)
    if owner.namespace != rt.config.namespace:
        return  # refused from the start (WrongNamespace): nothing of it was ever made
    confirmed = spec.cleanup_policy.confirmation == CLEANUP_CONFIRMATION
    mine = [
        item
        for item in await rt.kube(objects.list_objects, rt.api, "CephOSD", owner.namespace)
        if (item["metadata"].get("labels") or {}).get(CLUSTER_LABEL) == cluster_label(owner.name)
    ]
    for item in mine:
        if not item["metadata"].get("deletionTimestamp"):
            await rt.kube(objects.delete_object, rt.api, "CephOSD", item["metadata"]["name"], owner.namespace)
    if mine:
        raise deletion_waits(
            f"removing {len(mine)} CephOSD(s) first: {', '.join(i['metadata']['name'] for i in mine[:5])}"
        )
    selector = f"{CLUSTER_LABEL}={cluster_label(owner.name)}"
    deployments = await rt.kube(workloads.list_deployments, rt.api, owner.namespace, selector)
    for deployment in deployments:
        await rt.kube(workloads.delete_deployment, rt.api, owner.namespace, deployment["metadata"]["name"])
    if await rt.kube(workloads.list_pods, rt.api, owner.namespace, f"{selector},{DAEMON_LABEL} in (mon,mgr,mds,osd)"):
        raise deletion_waits("stopping the cluster's daemons")
    stores = cluster_data_dir(owner, spec.data_dir_host_path)
    current = await rt.kube(workloads.read_config_map, rt.api, owner.namespace, config_map_name(owner.name))
    nodes = sorted({str(d["node"]) for d in json.loads((current or {}).get("mons.json") or "{}").values()})
    if not confirmed:
        await rt.post(
            body,
            Event.normal(
                "Deleted",
                f"daemons stopped; the mon stores under {stores} on {', '.join(nodes) or 'no node'} and the OSD "
                f"devices keep their data (cleanupPolicy does not say {CLEANUP_CONFIRMATION!r})",
            ),
        )
        return
    phases = {}
    for node in nodes:
        pod = build_cleanup_pod(owner, node, spec.data_dir_host_path, spec.ceph_version.image)
        phases[node] = await rt.kube(workloads.pod_phase, rt.api, pod)
    waiting = [n for n, p in phases.items() if p not in ("Succeeded", "Failed")]
    if waiting:
        raise deletion_waits(f"removing the mon stores under {stores} on {', '.join(waiting)}")
    for node, phase in phases.items():
        await rt.kube(workloads.delete_pod, rt.api, owner.namespace, cleanup_pod_name(owner, node))
        if phase == "Failed":
            await rt.post(body, Event.warning("CleanupFailed", f"could not remove {stores} on {node}: left there"))
    await rt.post(
        body, Event.normal("Deleted", f"daemons stopped, OSD devices wiped, {stores} removed on {', '.join(nodes)}")
    )


def mds_count(active: int, standby_replay: bool, spares: int) -> int:
    """An MDS per active rank, one standby-replay per rank when asked, and the spare standbys."""
    return active * (2 if standby_replay else 1) + spares


async def ensure_mds(rt: Runtime, cluster: Body, session: ClusterSession, filesystem: str, wanted: int) -> None:
    """A managed cluster's MDS daemons for one file system: ``wanted`` of them, spread over the mons'
    nodes; extra ones (the count went down) are stopped and their keys removed. External: nothing."""
    spec = CephClusterSpec.model_validate(cluster.get("spec") or {})
    if spec.external.enable:
        return
    owner = owner_of(cluster)
    current = await rt.kube(workloads.read_config_map, rt.api, owner.namespace, config_map_name(owner.name))
    mons = json.loads((current or {}).get("mons.json") or "{}")
    nodes = sorted({str(d["node"]) for d in mons.values()})
    if not nodes:
        return
    daemons = await Daemons.load(rt, owner.namespace, owner.name)
    daemons.session = session
    ids = [mds_id(filesystem, i) for i in range(wanted)]
    for i, daemon_id in enumerate(ids):
        entity = f"mds.{daemon_id}"
        key = parse_key(await session.call(build_get_or_create(entity, DAEMON_CAPS["mds"])), entity)
        await rt.kube(
            workloads.apply, rt.api, build_secret(owner, daemon_secret(owner.name, "mds", daemon_id), {"key": key})
        )
        pod = mds_pod(owner, daemon_id, filesystem, nodes[i % len(nodes)])
        await daemons.apply(rt, build_daemon_deployment(owner, spec.ceph_version.image, pod))
    for name, deployment in daemons.existing.items():
        labels = deployment["metadata"].get("labels") or {}
        daemon_id = str(labels.get(DAEMON_ID_LABEL, ""))
        if labels.get(DAEMON_LABEL) == "mds" and filesystem_of(deployment) == filesystem and daemon_id not in ids:
            await rt.kube(workloads.delete_deployment, rt.api, owner.namespace, name)
            await session.call(build_auth_rm(f"mds.{daemon_id}"))
            await rt.kube(workloads.delete_secret, rt.api, owner.namespace, daemon_secret(owner.name, "mds", daemon_id))


def mds_id(filesystem: str, index: int) -> str:
    """MDS names may not start with a digit; a file system's MDSs are <fs>-a, <fs>-b, ..."""
    return f"{filesystem}-{MON_IDS[index % len(MON_IDS)]}{index // len(MON_IDS) or ''}"


def filesystem_of(deployment: Body) -> str | None:
    for container in deployment.get("spec", {}).get("template", {}).get("spec", {}).get("containers") or []:
        for env in container.get("env") or []:
            if env.get("name") == "CEPH_FILESYSTEM":
                return str(env.get("value"))
    return None


async def retire_mons(rt: Runtime, body: Body, identity: Identity, daemons: Daemons, events: list[Event]) -> None:
    """Mons that ``mon.count`` no longer wants (the highest ids): out of the monmap, then stopped."""
    session = daemons.session
    if session is None:
        return
    owner = owner_of(body)
    wanted = {m.mon_id for m in identity.mons}
    for name, deployment in daemons.existing.items():
        labels = deployment["metadata"].get("labels") or {}
        mon_id = str(labels.get(DAEMON_ID_LABEL, ""))
        if labels.get(DAEMON_LABEL) != "mon" or mon_id in wanted:
            continue
        await session.call(build_mon_remove(mon_id))
        await rt.kube(workloads.delete_deployment, rt.api, owner.namespace, name)
        events.append(Event.normal("MonRemoved", f"mon.{mon_id} removed from the monmap and stopped (mon.count)"))


async def replace_lost_mons(
    rt: Runtime, body: Body, spec: CephClusterSpec, identity: Identity, *, quorum: Sequence[str], daemons: Daemons
) -> list[Event]:
    """A mon out of the quorum for mon.failoverSeconds is removed from the monmap, stopped and retired;
    the next pass places a new one (a fresh id, on another node when there is one)."""
    session = daemons.session
    owner = owner_of(body)
    if session is None:
        return []
    events: list[Event] = []
    now = time.monotonic()
    since: dict[str, float] = {}
    for mon in identity.mons:
        key = f"{owner.namespace}/{owner.name}/{mon.mon_id}"
        if mon.mon_id in quorum:
            rt.mon_out_since.pop(key, None)
            continue
        if key not in rt.mon_out_since:
            rt.mon_out_since[key] = now
            events.append(
                Event.warning(
                    "MonOutOfQuorum",
                    f"mon.{mon.mon_id} on {mon.node} is out of the quorum; it is replaced if it is not back within "
                    f"{spec.mon.failover_seconds} s",
                )
            )
        since[mon.mon_id] = rt.mon_out_since[key]
    for mon_id in mons_to_replace(identity.mons, quorum, since, now, float(spec.mon.failover_seconds)):
        lost = next(m for m in identity.mons if m.mon_id == mon_id)
        await session.call(build_mon_remove(mon_id))
        await rt.kube(workloads.delete_deployment, rt.api, owner.namespace, daemon_name(owner.name, "mon", mon_id))
        mons = [m for m in identity.mons if m.mon_id != mon_id]
        retired = {**identity.retired, mon_id: lost.node}
        conf = render_ceph_conf(identity.fsid, mons, merged_config(spec))
        config_map = build_config_map(owner, identity.fsid, mons, conf, initial=identity.initial, retired=retired)
        await rt.kube(workloads.apply, rt.api, config_map)
        rt.mon_out_since.pop(f"{owner.namespace}/{owner.name}/{mon_id}", None)
        events.append(
            Event.warning(
                "MonReplaced",
                f"mon.{mon_id} on {lost.node} was out of the quorum for {spec.mon.failover_seconds} s: removed "
                "from the monmap and stopped; a new mon takes its place",
            )
        )
    return events
