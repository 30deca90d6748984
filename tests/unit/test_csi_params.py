"""StorageClass parameters of the CSI drivers (csi.params): required keys, unknown keys refused by name,
sidecar keys ignored, mounters, names, RBD image features and their dependencies, the parameters'
digest and the volume context they become."""

from __future__ import annotations

import dataclasses

import pytest

from csi.errors import InvalidArgument
from csi.params import (
    DEFAULT_RBD_FEATURES,
    CephFSParams,
    RBDParams,
    digest,
    normalize_features,
    parse_cephfs,
    parse_rbd,
)

SIDECAR_KEYS = {
    "csi.storage.k8s.io/provisioner-secret-name": "csi-cephfs",
    "csi.storage.k8s.io/provisioner-secret-namespace": "storage-system",
    "csi.storage.k8s.io/pvc/name": "data",
    "csi.storage.k8s.io/pv/name": "pvc-1234",
}

# ---------------------------------------------------------------------------- CephFS


def test_cephfs_minimal() -> None:
    assert parse_cephfs({"fsName": "shared"}) == CephFSParams(fs_name="shared", pool=None, mounter="fuse")


def test_cephfs_all_keys() -> None:
    params = parse_cephfs({"fsName": " shared ", "pool": "shared-bulk", "mounter": "kernel"})
    assert params == CephFSParams(fs_name="shared", pool="shared-bulk", mounter="kernel")


@pytest.mark.parametrize("parameters", [{}, {"fsName": ""}, {"fsName": "   "}, {"pool": "p"}])
def test_cephfs_fs_name_required(parameters: dict[str, str]) -> None:
    with pytest.raises(InvalidArgument, match=r"fsName is required"):
        parse_cephfs(parameters)


def test_cephfs_sidecar_keys_ignored() -> None:
    assert parse_cephfs({"fsName": "shared", **SIDECAR_KEYS}) == CephFSParams(fs_name="shared")


def test_cephfs_unknown_key_named() -> None:
    with pytest.raises(InvalidArgument, match=r"unknown StorageClass parameter\(s\) fsname, mountr;") as info:
        parse_cephfs({"fsName": "shared", "mountr": "fuse", "fsname": "x", **SIDECAR_KEYS})
    # What the class may hold is said too.
    assert "fsName, mounter, pool" in str(info.value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("fuse", "fuse"), ("kernel", "kernel"), (" kernel ", "kernel"), ("", "fuse"), ("  ", "fuse")],
)
def test_cephfs_mounter(value: str, expected: str) -> None:
    assert parse_cephfs({"fsName": "shared", "mounter": value}).mounter == expected


@pytest.mark.parametrize("value", ["Fuse", "ceph-fuse", "nfs", "kernel,fuse"])
def test_cephfs_mounter_refused(value: str) -> None:
    with pytest.raises(InvalidArgument, match=r"mounter=.* must be 'fuse'"):
        parse_cephfs({"fsName": "shared", "mounter": value})


BAD_NAMES = [
    pytest.param("my fs", id="space"),
    pytest.param("a/b", id="slash"),
    pytest.param("a:b", id="colon"),
    pytest.param("x" * 101, id="too-long"),
    pytest.param("ünï", id="non-ascii"),
]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_cephfs_invalid_names(name: str) -> None:
    with pytest.raises(InvalidArgument, match=r"parameter fsName=.* is not a valid name"):
        parse_cephfs({"fsName": name})
    with pytest.raises(InvalidArgument, match=r"parameter pool=.* is not a valid name"):
        parse_cephfs({"fsName": "shared", "pool": name})


def test_cephfs_empty_pool_is_none() -> None:
    assert parse_cephfs({"fsName": "shared", "pool": " "}).pool is None


def test_cephfs_context() -> None:
    assert CephFSParams(fs_name="shared").context() == {"fsName": "shared", "mounter": "fuse"}
    assert CephFSParams(fs_name="shared", pool="bulk", mounter="kernel").context() == {
        "fsName": "shared",
        "mounter": "kernel",
        "pool": "bulk",
    }


# ---------------------------------------------------------------------------- RBD


def test_rbd_minimal() -> None:
    assert parse_rbd({"pool": "replicapool"}) == RBDParams(
        pool="replicapool", data_pool=None, features=DEFAULT_RBD_FEATURES
    )


def test_rbd_all_keys() -> None:
    params = parse_rbd({"pool": "replicapool", "dataPool": "ecpool", "imageFeatures": "layering,exclusive-lock"})
    assert params == RBDParams(pool="replicapool", data_pool="ecpool", features="layering,exclusive-lock")


@pytest.mark.parametrize("parameters", [{}, {"pool": ""}, {"pool": " "}, {"dataPool": "ecpool"}])
def test_rbd_pool_required(parameters: dict[str, str]) -> None:
    with pytest.raises(InvalidArgument, match=r"pool is required"):
        parse_rbd(parameters)


def test_rbd_sidecar_keys_ignored() -> None:
    assert parse_rbd({"pool": "replicapool", **SIDECAR_KEYS}) == RBDParams(pool="replicapool")


def test_rbd_unknown_key_named() -> None:
    with pytest.raises(InvalidArgument, match=r"unknown StorageClass parameter\(s\) fsName;") as info:
        parse_rbd({"pool": "replicapool", "fsName": "shared"})
    assert "dataPool, imageFeatures, pool" in str(info.value)


def test_rbd_cephfs_keys_are_unknown_and_the_reverse() -> None:
    with pytest.raises(InvalidArgument, match=r"mounter"):
        parse_rbd({"pool": "replicapool", "mounter": "fuse"})
    with pytest.raises(InvalidArgument, match=r"imageFeatures"):
        parse_cephfs({"fsName": "shared", "imageFeatures": "layering"})


@pytest.mark.parametrize("name", BAD_NAMES)
def test_rbd_invalid_names(name: str) -> None:
    with pytest.raises(InvalidArgument, match=r"parameter pool=.* is not a valid name"):
        parse_rbd({"pool": name})
    with pytest.raises(InvalidArgument, match=r"parameter dataPool=.* is not a valid name"):
        parse_rbd({"pool": "replicapool", "dataPool": name})


def test_rbd_features_normalized_on_parse() -> None:
    assert parse_rbd({"pool": "p", "imageFeatures": " exclusive-lock "}).features == "layering,exclusive-lock"


def test_rbd_context() -> None:
    assert RBDParams(pool="replicapool", features="layering").context() == {
        "pool": "replicapool",
        "imageFeatures": "layering",
    }
    assert RBDParams(pool="replicapool", data_pool="ecpool").context() == {
        "pool": "replicapool",
        "imageFeatures": DEFAULT_RBD_FEATURES,
        "dataPool": "ecpool",
    }


# ---------------------------------------------------------------------------- image features


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(DEFAULT_RBD_FEATURES, DEFAULT_RBD_FEATURES, id="default"),
        pytest.param("layering", "layering", id="layering"),
        pytest.param("", "layering", id="empty-gets-layering"),
        pytest.param(" , ,", "layering", id="only-separators"),
        pytest.param("exclusive-lock", "layering,exclusive-lock", id="layering-added-first"),
        pytest.param("exclusive-lock,layering", "layering,exclusive-lock", id="canonical-order"),
        pytest.param(
            "deep-flatten,exclusive-lock,object-map",
            "layering,exclusive-lock,object-map,deep-flatten",
            id="canonical-order-2",
        ),
        pytest.param(" layering , exclusive-lock ", "layering,exclusive-lock", id="spaces"),
        pytest.param("layering,layering,exclusive-lock,layering", "layering,exclusive-lock", id="duplicates"),
        pytest.param(
            "exclusive-lock,object-map,fast-diff", "layering,exclusive-lock,object-map,fast-diff", id="fast-diff"
        ),
        pytest.param("exclusive-lock,journaling", "layering,exclusive-lock,journaling", id="journaling"),
    ],
)
def test_normalize_features(value: str, expected: str) -> None:
    assert normalize_features(value) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        pytest.param("layering,object-map", "object-map needs exclusive-lock", id="object-map"),
        pytest.param("layering,exclusive-lock,fast-diff", "fast-diff needs object-map", id="fast-diff"),
        pytest.param("fast-diff,object-map", "object-map needs exclusive-lock", id="fast-diff-chain"),
        pytest.param("journaling", "journaling needs exclusive-lock", id="journaling"),
    ],
)
def test_normalize_features_dependencies(value: str, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        normalize_features(value)


def test_normalize_features_unknown_refused() -> None:
    with pytest.raises(InvalidArgument, match=r"unknown feature\(s\) data-pool, stripingv2;"):
        normalize_features("layering,stripingv2,data-pool")
    with pytest.raises(InvalidArgument, match=r"unknown feature"):
        normalize_features("Layering")  # case matters to librbd too


def test_unknown_feature_refused_on_parse() -> None:
    with pytest.raises(InvalidArgument, match=r"imageFeatures: unknown feature"):
        parse_rbd({"pool": "p", "imageFeatures": "layering,bogus"})


# ---------------------------------------------------------------------------- digest


def test_digest_is_stable_and_short() -> None:
    a = digest(CephFSParams(fs_name="shared", pool="bulk"))
    assert a == digest(parse_cephfs({"fsName": "shared", "pool": "bulk", **SIDECAR_KEYS}))
    assert len(a) == 16
    int(a, 16)  # hex
    assert digest(RBDParams(pool="p")) == digest(parse_rbd({"pool": "p"}))


CEPHFS_BASE = CephFSParams(fs_name="shared", pool="bulk", mounter="fuse")
RBD_BASE = RBDParams(pool="replicapool", data_pool="ecpool", features="layering")


@pytest.mark.parametrize(
    "changed",
    [
        pytest.param(dataclasses.replace(CEPHFS_BASE, fs_name="other"), id="fs_name"),
        pytest.param(dataclasses.replace(CEPHFS_BASE, pool=None), id="pool-none"),
        pytest.param(dataclasses.replace(CEPHFS_BASE, pool="default"), id="pool"),
        pytest.param(dataclasses.replace(CEPHFS_BASE, mounter="kernel"), id="mounter"),
    ],
)
def test_digest_sensitive_to_every_cephfs_field(changed: CephFSParams) -> None:
    assert digest(changed) != digest(CEPHFS_BASE)


@pytest.mark.parametrize(
    "changed",
    [
        pytest.param(dataclasses.replace(RBD_BASE, pool="other"), id="pool"),
        pytest.param(dataclasses.replace(RBD_BASE, data_pool=None), id="data_pool-none"),
        pytest.param(dataclasses.replace(RBD_BASE, data_pool="ec2"), id="data_pool"),
        pytest.param(dataclasses.replace(RBD_BASE, features="layering,exclusive-lock"), id="features"),
    ],
)
def test_digest_sensitive_to_every_rbd_field(changed: RBDParams) -> None:
    assert digest(changed) != digest(RBD_BASE)


def test_every_field_is_covered_by_the_sensitivity_tables() -> None:
    # A field added to the parameters must be added to the tables above.
    assert [f.name for f in dataclasses.fields(CephFSParams)] == ["fs_name", "pool", "mounter"]
    assert [f.name for f in dataclasses.fields(RBDParams)] == ["pool", "data_pool", "features"]


def test_a_class_listing_the_same_features_in_another_order_asks_for_the_same_volume() -> None:
    a = parse_rbd({"pool": "p", "imageFeatures": "exclusive-lock,layering,object-map"})
    b = parse_rbd({"pool": "p", "imageFeatures": "object-map,layering,exclusive-lock"})
    assert digest(a) == digest(b)
