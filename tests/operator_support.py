"""What the operator's integration tests share: custom objects through the admin client, their Events,
a test namespace with its own CephCluster (pointing at the lab's mons), and the lab's processes."""

from __future__ import annotations

import contextlib
import copy
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from storage_operator.api.meta import GROUP, VERSION
from storage_operator.api.v1alpha1 import kind_named
from storage_operator.lab.ceph import mon_host
from storage_operator.lab.cluster import CEPH_ADMIN_SECRET
from storage_operator.lab.lab import Lab
from tests.support import LabHandle, eventually

Body = dict[str, Any]


def unique(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


@dataclass
class Storage:
    """Our custom objects in one namespace, as a user (the admin) creates and reads them."""

    api: client.ApiClient
    namespace: str

    @property
    def custom(self) -> client.CustomObjectsApi:
        return client.CustomObjectsApi(self.api)

    def create(self, kind: str, name: str, spec: Body, **metadata: Any) -> Body:
        body = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": kind,
            "metadata": {"name": name, "namespace": self.namespace, **metadata},
            "spec": spec,
        }
        plural = kind_named(kind).plural
        created = self.custom.create_namespaced_custom_object(GROUP, VERSION, self.namespace, plural, body)
        assert isinstance(created, dict)
        return created

    def get(self, kind: str, name: str) -> Body | None:
        try:
            found = self.custom.get_namespaced_custom_object(
                GROUP, VERSION, self.namespace, kind_named(kind).plural, name
            )
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
        assert isinstance(found, dict)
        return found

    def patch(self, kind: str, name: str, spec: Body) -> Body:
        done = self.custom.patch_namespaced_custom_object(
            GROUP,
            VERSION,
            self.namespace,
            kind_named(kind).plural,
            name,
            {"spec": spec},
            _content_type="application/merge-patch+json",
        )
        assert isinstance(done, dict)
        return done

    def delete(self, kind: str, name: str) -> None:
        with contextlib.suppress(ApiException):
            self.custom.delete_namespaced_custom_object(GROUP, VERSION, self.namespace, kind_named(kind).plural, name)

    def wait(self, kind: str, name: str, check: Callable[[Body], bool], *, timeout: float = 30) -> Body:
        """Poll until ``check(object)`` holds; fail with the object's last status otherwise."""

        def probe() -> Body | None:
            body = self.get(kind, name)
            return body if body is not None and check(body) else None

        try:
            return eventually(probe, timeout=timeout, interval=0.2)
        except AssertionError:
            last = self.get(kind, name)
            raise AssertionError(f"{kind} {name}: condition not met in {timeout} s; status: {status(last)}") from None

    def wait_phase(self, kind: str, name: str, phase: str, *, timeout: float = 30) -> Body:
        return self.wait(kind, name, lambda b: status(b).get("phase") == phase, timeout=timeout)

    def wait_gone(self, kind: str, name: str, *, timeout: float = 60) -> None:
        eventually(lambda: self.get(kind, name) is None, timeout=timeout, interval=0.2)

    def events(self, name: str) -> list[tuple[str, str, str]]:
        """(type, reason, message) of the Events about the object ``name``, oldest first."""
        return [(str(e.type), str(e.reason), str(e.message)) for e in self.event_objects(name)]

    def event_objects(self, name: str) -> list[client.CoreV1Event]:
        found = client.CoreV1Api(self.api).list_namespaced_event(
            self.namespace, field_selector=f"involvedObject.name={name}"
        )
        return sorted(found.items, key=lambda e: (str(e.last_timestamp or ""), str(e.metadata.name)))

    def wait_event(self, name: str, reason: str, *, timeout: float = 30, contains: str = "") -> str:
        def probe() -> str | None:
            for _type, r, message in self.events(name):
                if r == reason and contains in message:
                    return message
            return None

        try:
            return eventually(probe, timeout=timeout, interval=0.2)
        except AssertionError:
            raise AssertionError(f"no {reason} Event on {name} within {timeout} s; got {self.events(name)}") from None


def status(body: Body | None) -> Body:
    return dict((body or {}).get("status") or {})


def condition(body: Body | None, type_: str) -> Body:
    return next((c for c in status(body).get("conditions", []) if c["type"] == type_), {})


def external_cluster_spec(lab: LabHandle, *, refresh: int = 3, **overrides: Any) -> Body:
    spec: Body = {
        "external": {
            "enable": True,
            "monHosts": [mon_host(lab.config)],
            "secretRef": {"name": CEPH_ADMIN_SECRET, "namespace": lab.config.operator_namespace},
        },
        "refreshIntervalSeconds": refresh,
    }
    spec.update(copy.deepcopy(overrides))
    return spec


@contextlib.contextmanager
def own_namespace(lab: LabHandle, *, cluster: str | None = "ceph", refresh: int = 3) -> Iterator[Storage]:
    """A namespace of its own with (by default) a CephCluster named ``cluster`` on the lab's mons.

    On exit, every object of ours in it is deleted through the operator (which removes what it made in
    Ceph) before the namespace goes.
    """
    name = unique("op")
    with lab.api() as api:
        core = client.CoreV1Api(api)
        core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
        storage = Storage(api, name)
        try:
            if cluster:
                storage.create("CephCluster", cluster, external_cluster_spec(lab, refresh=refresh))
                storage.wait(
                    "CephCluster", cluster, lambda b: status(b).get("phase") in ("Ready", "Warning"), timeout=60
                )
            yield storage
        finally:
            for kind in ("CephFilesystem", "CephBlockPool", "CephCluster"):
                plural = kind_named(kind).plural
                items = storage.custom.list_namespaced_custom_object(GROUP, VERSION, name, plural)["items"]
                for item in items:
                    storage.delete(kind, item["metadata"]["name"])
                for item in items:
                    storage.wait_gone(kind, item["metadata"]["name"], timeout=120)
            core.delete_namespace(name)


def lab_control(lab: LabHandle) -> Lab:
    """The lab itself, to stop, start and add processes (the test lab's teardown stops what it started)."""
    return Lab(lab.config, say=lambda _line: None)


def metrics_text(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        return str(resp.read().decode())


def http_get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as resp:
            return int(resp.status), str(resp.read().decode())
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read().decode()
    except OSError:
        return 0, ""  # not listening (yet)


def ceph_json(lab: LabHandle, prefix: str, **args: Any) -> Any:
    """A mon command through librados with the lab's admin key, as `ceph ... -f json` would answer."""
    with lab.ceph() as ceph:
        return ceph.mon_command(prefix, **args)


def pool_names(lab: LabHandle) -> list[str]:
    return sorted(str(p["pool_name"]) for p in ceph_json(lab, "osd pool ls", detail="detail"))


def wait_seconds(check: Callable[[], bool], timeout: float) -> float:
    """How long until ``check`` held (fails the test after ``timeout``)."""
    started = time.monotonic()
    eventually(check, timeout=timeout, interval=0.1)
    return time.monotonic() - started
