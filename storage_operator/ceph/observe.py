"""What the controllers read from a cluster, gathered concurrently through a session (thin I/O).

Each function sends the commands of one observation at once and hands the replies to the pure parsers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from storage_operator.ceph import crush, df, ecprofile, fs, images, osd, pools, status, subvolumes
from storage_operator.ceph.session import ClusterSession
from storage_operator.ceph.world import ClusterObservation, PoolWorld


async def observe_cluster(session: ClusterSession) -> ClusterObservation:
    raw_status, raw_df, raw_version = await session.call_all(
        [status.build_status(), df.build_df(), status.build_version()]
    )
    return ClusterObservation(
        status=status.parse_status(raw_status),
        df=df.parse_df(raw_df),
        version=status.parse_version(raw_version or {}),
    )


async def observe_pool_world(session: ClusterSession, *, profiles: Iterable[str] = ()) -> PoolWorld:
    raw_pools, raw_rules, raw_tree, raw_df, raw_profiles = await session.call_all(
        [
            pools.build_ls_detail(),
            crush.build_rule_dump(),
            osd.build_osd_tree(),
            df.build_df(),
            ecprofile.build_profile_ls(),
        ]
    )
    observed = pools.parse_pools(raw_pools)
    existing = set(raw_profiles or [])
    # The profiles of erasure-coded pools that exist, and those the caller means to use.
    wanted = {p.ec_profile for p in observed.values() if p.ec_profile} | set(profiles)
    names = sorted(wanted & existing)
    replies = await session.call_all([ecprofile.build_profile_get(n) for n in names])
    return PoolWorld(
        pools=observed,
        rules=crush.parse_rules(raw_rules),
        profiles={n: ecprofile.parse_profile(r or {}) for n, r in zip(names, replies, strict=True)},
        topology=osd.parse_osd_tree(raw_tree),
        df=df.parse_df(raw_df),
    )


async def observe_fsmap(session: ClusterSession) -> fs.FSMap:
    return fs.parse_fs_dump(await session.call(fs.build_fs_dump()))


async def list_subvolumes(session: ClusterSession, fs_name: str) -> list[str]:
    """Every subvolume of the file system, in every group, as "group/name" ("name" for the default group)."""
    groups = subvolumes.parse_names(await session.call(subvolumes.build_group_ls(fs_name)))
    replies = await asyncio.gather(
        session.call(subvolumes.build_subvolume_ls(fs_name)),
        *(session.call(subvolumes.build_subvolume_ls(fs_name, g)) for g in groups),
    )
    found = subvolumes.parse_names(replies[0])
    for group, reply in zip(groups, replies[1:], strict=True):
        found += [f"{group}/{name}" for name in subvolumes.parse_names(reply)]
    return found


async def list_rbd_images(session: ClusterSession, pool: str) -> list[str]:
    return await session.run(lambda c: images.list_images(c, pool), what=f"list RBD images of {pool}")


async def delete_pools(session: ClusterSession, names: Iterable[str]) -> list[str]:
    """Delete pools with deletion allowed for these calls only, then put the setting back as it was."""
    names = list(names)
    if not names:
        return []
    async with session.admin_lock:
        config = await session.call(pools.build_config_dump())
        before = pools.parse_config_value(config, "mon", pools.POOL_DELETE_OPTION)
        if before != "true":
            await session.call(pools.build_pool_delete_setting("true"))
        try:
            for name in names:
                await session.call(pools.build_delete(name))
        finally:
            if before != "true":
                await session.call(pools.build_pool_delete_setting(before))
    return [f"deleted pool {n}" for n in names]
