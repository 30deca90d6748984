"""What the NFS bridge's tests share: claims in a namespace of their own, StorageClasses of the
provisioner, the export's backing directory (to check what really is on the server), and an NFS client
that follows a PV's server and path as a node's mount would."""

from __future__ import annotations

import contextlib
import functools
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import nfs_rs
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from storage_operator.api.meta import GROUP, VERSION
from storage_operator.reconcile.nfsrecord import RECORD_NAME
from storage_operator.reconcile.nfsvolume import DIRECTORY_ANNOTATION
from tests.operator_support import unique
from tests.support import LabHandle, eventually

Body = dict[str, Any]
PROVISIONER = "nfs.storage.baremetal.io"
LAB_BACKEND = "lab-nfs"
LAB_CLASS = "nfs"


@dataclass
class Claims:
    """PersistentVolumeClaims in one namespace, as a user (the admin) makes and reads them."""

    api: client.ApiClient
    namespace: str

    @property
    def core(self) -> client.CoreV1Api:
        return client.CoreV1Api(self.api)

    def create(
        self,
        name: str,
        *,
        size: str = "1Mi",
        modes: tuple[str, ...] = ("ReadWriteMany",),
        storage_class: str | None = LAB_CLASS,
        labels: dict[str, str] | None = None,
        annotations: dict[str, str] | None = None,
        **spec: Any,
    ) -> Body:
        body: Body = {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": name, "labels": labels or {}, "annotations": annotations or {}},
            "spec": {"accessModes": list(modes), "resources": {"requests": {"storage": size}}, **spec},
        }
        if storage_class is not None:
            body["spec"]["storageClassName"] = storage_class
        return plain(self.api, self.core.create_namespaced_persistent_volume_claim(self.namespace, cast(Any, body)))

    def get(self, name: str) -> Body | None:
        try:
            return plain(self.api, self.core.read_namespaced_persistent_volume_claim(name, self.namespace))
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def wait_bound(self, name: str, *, timeout: float = 30) -> Body:
        def bound() -> Body | None:
            pvc = self.get(name)
            return pvc if pvc and (pvc.get("status") or {}).get("phase") == "Bound" else None

        try:
            return eventually(bound, timeout=timeout, interval=0.1)
        except AssertionError:
            raise AssertionError(
                f"claim {name} not Bound in {timeout} s: {self.get(name)}; {self.events(name)}"
            ) from None

    def pv_of(self, name: str) -> Body:
        pvc = self.wait_bound(name)
        return read_pv(self.api, pvc["spec"]["volumeName"])

    def delete(self, name: str) -> None:
        with contextlib.suppress(ApiException):
            self.core.delete_namespaced_persistent_volume_claim(name, self.namespace)

    def events(self, name: str) -> list[tuple[str, str, str]]:
        found = self.core.list_namespaced_event(self.namespace, field_selector=f"involvedObject.name={name}")
        items = sorted(found.items, key=lambda e: (str(e.first_timestamp or ""), str(e.metadata.name)))
        return [(str(e.type), str(e.reason), str(e.message)) for e in items]

    def wait_event(self, name: str, reason: str, *, contains: str = "", timeout: float = 30) -> str:
        def found() -> str | None:
            return next((m for _t, r, m in self.events(name) if r == reason and contains in m), None)

        try:
            return eventually(found, timeout=timeout, interval=0.2)
        except AssertionError:
            raise AssertionError(f"no {reason} Event ({contains!r}) on {name}: {self.events(name)}") from None


def plain(api: client.ApiClient, obj: Any) -> Body:
    data = api.sanitize_for_serialization(obj)  # type: ignore[no-untyped-call]  # unannotated upstream
    assert isinstance(data, dict)
    return data


def read_pv(api: client.ApiClient, name: str) -> Body:
    return plain(api, client.CoreV1Api(api).read_persistent_volume(name))


def pv_exists(api: client.ApiClient, name: str) -> bool:
    try:
        client.CoreV1Api(api).read_persistent_volume(name)
    except ApiException as exc:
        if exc.status == 404:
            return False
        raise
    return True


@contextlib.contextmanager
def claims_namespace(lab: LabHandle, prefix: str = "nfs") -> Iterator[Claims]:
    """A namespace of its own; on exit its claims are deleted and their PVs are gone (reclaimed, or deleted
    by hand under Retain) before the namespace goes."""
    name = unique(prefix)
    with lab.api() as api:
        core = client.CoreV1Api(api)
        core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
        claims = Claims(api, name)
        try:
            yield claims
        finally:
            volumes = [
                pvc.spec.volume_name
                for pvc in core.list_namespaced_persistent_volume_claim(name).items
                if pvc.spec.volume_name
            ]
            core.delete_collection_namespaced_persistent_volume_claim(name)
            for volume in volumes:
                pv = _maybe_pv(api, volume)
                if pv is not None and pv["spec"].get("persistentVolumeReclaimPolicy") != "Delete":
                    with contextlib.suppress(ApiException):  # Retain: the admin's job, done here
                        core.delete_persistent_volume(volume)
            for volume in volumes:
                eventually(functools.partial(_gone, api, volume), timeout=60)
            core.delete_namespace(name)


def _gone(api: client.ApiClient, name: str) -> bool:
    return not pv_exists(api, name)


def _maybe_pv(api: client.ApiClient, name: str) -> Body | None:
    try:
        return read_pv(api, name)
    except ApiException:
        return None


@contextlib.contextmanager
def storage_class(
    lab: LabHandle,
    parameters: dict[str, str],
    *,
    reclaim: str = "Delete",
    expansion: bool = True,
    binding: str = "Immediate",
    mount_options: list[str] | None = None,
) -> Iterator[str]:
    """A StorageClass of the provisioner, removed afterwards."""
    name = unique("sc")
    body: Body = {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {"name": name},
        "provisioner": PROVISIONER,
        "parameters": parameters,
        "reclaimPolicy": reclaim,
        "allowVolumeExpansion": expansion,
        "volumeBindingMode": binding,
    }
    if mount_options is not None:
        body["mountOptions"] = mount_options
    with lab.api() as api:
        storage = client.StorageV1Api(api)
        storage.create_storage_class(cast(Any, body))
        try:
            yield name
        finally:
            storage.delete_storage_class(name)


@contextlib.contextmanager
def nfs_backend(lab: LabHandle, prefix: str, **spec: Any) -> Iterator[str]:
    """An NFSBackend on the lab's Ganesha (``spec`` overrides server, port, exportPath), removed afterwards."""
    name = unique(prefix)
    body = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "NFSBackend",
        "metadata": {"name": name},
        "spec": {"server": "127.0.0.1", "port": lab.config.ports.nfs, "exportPath": "/export", **spec},
    }
    with lab.api() as api:
        custom = client.CustomObjectsApi(api)
        custom.create_cluster_custom_object(GROUP, VERSION, "nfsbackends", body)
        try:
            yield name
        finally:
            with contextlib.suppress(ApiException):  # a test may have deleted it already
                custom.delete_cluster_custom_object(GROUP, VERSION, "nfsbackends", name)


def read_backend(lab: LabHandle, name: str) -> Body | None:
    """The NFSBackend as it is now; None when it does not exist."""
    with lab.api() as api:
        try:
            body = client.CustomObjectsApi(api).get_cluster_custom_object(GROUP, VERSION, "nfsbackends", name)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
    assert isinstance(body, dict)
    return body


def on_disk(lab: LabHandle, pv: Body, export: Path | None = None) -> Path:
    """The directory a PV names, in the export's backing directory (what really is on the server)."""
    directory = pv["metadata"]["annotations"][DIRECTORY_ANNOTATION]
    return Path(export or lab.config.paths.nfs_export) / str(directory)


def record_of(path: Path) -> Body:
    data = json.loads((path / RECORD_NAME).read_text())
    assert isinstance(data, dict)
    return data


@contextlib.contextmanager
def mount_like_a_node(pv: Body, *, uid: int = 0, gid: int = 0) -> Iterator[nfs_rs.Client]:
    """An NFS client at the PV's server and path, with the port and version from its mount options."""
    options = dict(o.split("=", 1) if "=" in o else (o, "") for o in pv["spec"].get("mountOptions") or [])
    version = options.get("nfsvers") or options.get("vers") or "4.1"
    port = int(options.get("port") or 2049)
    source = pv["spec"]["nfs"]
    with nfs_rs.Client.connect(
        f"nfs://{source['server']}{source['path']}",
        versions=[version],
        nfs_port=port,
        uid=uid,
        gid=gid,
        noresvport=True,
        connect_timeout=5,
        operation_timeout=10,
    ) as c:
        yield c


def tree(root: Path) -> set[str]:
    """Every path under ``root`` (relative), for checking that nothing appeared outside a directory."""
    found: set[str] = set()
    for current, dirs, files in os.walk(root):
        for name in dirs + files:
            found.add(str((Path(current) / name).relative_to(root)))
    return found
