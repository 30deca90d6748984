"""Observed Ceph state for the pure reconcile tests, built from the replies recorded in tests/fixtures/ceph/.

The recorded lab cluster: 3 OSDs of class hdd on one host ("vm"); pools replicapool (replicated size 3,
rule replicated-osd, quota 10 GiB, rbd, owned by a CephBlockPool), ecpool (EC 2+1, profile ecpool-ec,
failure domain osd), and the CephFS "shared" (shared-metadata, shared-default, shared-bulk).
Variants are derived with ``dataclasses.replace`` (every observed type is a frozen dataclass).
Plain functions, not pytest fixtures, so that every test module can import them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from storage_operator.ceph import crush, df, ecprofile, fs, osd, pools, status
from storage_operator.ceph.command import Command
from storage_operator.ceph.fs import FSMap
from storage_operator.ceph.pools import ObservedPool
from storage_operator.ceph.world import ClusterObservation, PoolWorld

NOW = datetime(2026, 11, 27, tzinfo=UTC)
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ceph"
EXAMPLES = Path(__file__).resolve().parents[2] / "manifests" / "examples"

# The owners recorded in the pools' application metadata (pools.OWNER_KEY).
REPLICAPOOL_OWNER = "CephBlockPool.storage-system.ce746244-968d-42ba-af79-664100eb5c1b"
ECPOOL_OWNER = "CephBlockPool.storage-system.fbd5c652-db3e-4f9e-a83d-ba521fc6d0ca"
SHARED_OWNER = "CephFilesystem.storage-system.621e6da9-3ad7-4f83-b3a6-e6d7282adb09"
# An object that has never touched the recorded cluster.
NEW_OWNER = "CephBlockPool.storage-system.00000000-1111-2222-3333-444444444444"
LAB_FSID = "c4d2894c-7da7-4e23-9b34-1fa473841b4f"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def example_spec(file_name: str) -> dict[str, Any]:
    """The ``spec`` of one of manifests/examples/ as the API server would send it (camelCase)."""
    doc = yaml.safe_load((EXAMPLES / file_name).read_text())
    spec: dict[str, Any] = doc["spec"]
    return spec


def recorded_world() -> PoolWorld:
    """What pool planning sees on the recorded cluster (the profile it could read: ecpool-ec)."""
    return PoolWorld(
        pools=pools.parse_pools(fixture("pool-ls-detail.json")),
        rules=crush.parse_rules(fixture("crush-rule-dump.json")),
        profiles={"ecpool-ec": ecprofile.parse_profile(fixture("ec-profile-ecpool.json"))},
        topology=osd.parse_osd_tree(fixture("osd-tree.json")),
        df=df.parse_df(fixture("df-detail.json")),
    )


def recorded_fsmap() -> FSMap:
    """``fs dump``: "shared" (fscid 1) with active MDS d, standby-replay c; standbys a and b."""
    return fs.parse_fs_dump(fixture("fs-dump.json"))


def without_filesystems(fsmap: FSMap) -> FSMap:
    return replace(fsmap, filesystems={})


def without(world: PoolWorld, *names: str) -> PoolWorld:
    """The world as if the named pools had never been made: no pool, no usage, no rule or profile of theirs."""
    gone = set(names)
    return replace(
        world,
        pools={n: p for n, p in world.pools.items() if n not in gone},
        rules={n: r for n, r in world.rules.items() if n not in gone},
        profiles={n: p for n, p in world.profiles.items() if n not in {ecprofile.profile_name(g) for g in gone}},
        df=replace(world.df, pools={n: s for n, s in world.df.pools.items() if n not in gone}),
    )


def empty_world() -> PoolWorld:
    """The same OSDs with nothing made yet: no pools, no profiles, only Ceph's own replicated_rule."""
    world = recorded_world()
    return replace(
        world,
        pools={},
        rules={"replicated_rule": world.rules["replicated_rule"]},
        profiles={},
        df=replace(world.df, pools={}),
    )


def with_pool(world: PoolWorld, pool: ObservedPool) -> PoolWorld:
    """``world`` with ``pool`` added, or replacing the pool of that name."""
    return replace(world, pools={**world.pools, pool.name: pool})


def change_pool(world: PoolWorld, name: str, **changes: Any) -> PoolWorld:
    return with_pool(world, replace(world.pools[name], **changes))


def rename_pool(world: PoolWorld, old: str, new: str) -> PoolWorld:
    """As if the pool had been made under another name (same id, same usage)."""
    pools_by_name = {
        (new if n == old else n): (replace(p, name=new) if n == old else p) for n, p in world.pools.items()
    }
    usage = {(new if n == old else n): s for n, s in world.df.pools.items()}
    return replace(world, pools=pools_by_name, df=replace(world.df, pools=usage))


def untagged(pool: ObservedPool) -> ObservedPool:
    """The pool without an owner tag: found in Ceph, made by someone else (adoption)."""
    apps = {app: {k: v for k, v in meta.items() if k != pools.OWNER_KEY} for app, meta in pool.applications.items()}
    return replace(pool, applications=apps)


def tagged(pool: ObservedPool, owner: str) -> ObservedPool:
    apps = {app: {**meta, pools.OWNER_KEY: owner} for app, meta in pool.applications.items()}
    return replace(pool, applications=apps)


def with_hosts(world: PoolWorld, hosts: Sequence[str]) -> PoolWorld:
    """The same OSDs spread over ``hosts`` (one OSD per host, in order)."""
    osds = tuple(replace(o, host=hosts[i % len(hosts)]) for i, o in enumerate(world.topology.osds))
    return replace(world, topology=replace(world.topology, osds=osds))


def observation(status_file: str = "status-lab.json") -> ClusterObservation:
    """What the CephCluster controller reads: ``status``, ``df detail``, ``version``."""
    return ClusterObservation(
        status=status.parse_status(fixture(status_file)),
        df=df.parse_df(fixture("df-detail.json")),
        version=status.parse_version(fixture("version.json")),
    )


def lab_with_health_of(status_file: str) -> ClusterObservation:
    """The lab cluster, with the health (status and checks) of another recorded ``ceph status``."""
    lab = observation()
    other = status.parse_status(fixture(status_file))
    health = replace(lab.status, health=other.health, checks=other.checks)
    return replace(lab, status=health)


def staged(stages: Sequence[Sequence[Command]]) -> list[list[str]]:
    """Stages as comparable values: a stage's commands run together, so their order in it does not matter."""
    return [sorted(c.to_json() for c in stage) for stage in stages]


def prefixes(commands: Sequence[Command]) -> list[str]:
    return [c.prefix for c in commands]
