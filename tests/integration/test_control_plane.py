"""The lab's Kubernetes control plane is the real thing: TLS, RBAC, controllers, scheduler."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from storage_operator.lab.binaries import load_versions
from tests.support import LabHandle, eventually


@pytest.fixture
def api(lab: LabHandle) -> Iterator[client.ApiClient]:
    with lab.api() as api:
        yield api


@pytest.fixture
def namespace(api: client.ApiClient) -> str:
    name = f"t-{uuid.uuid4().hex[:8]}"
    client.CoreV1Api(api).create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    return name


def test_apiserver_answers_version_with_the_pinned_release(api: client.ApiClient) -> None:
    info = client.VersionApi(api).get_code()
    assert info.git_version == load_versions()["KUBERNETES_VERSION"]


def test_rbac_refuses_an_unprivileged_service_account(lab: LabHandle, api: client.ApiClient, namespace: str) -> None:
    core = client.CoreV1Api(api)
    core.create_namespaced_service_account(
        namespace, client.V1ServiceAccount(metadata=client.V1ObjectMeta(name="nobody"))
    )
    token = core.create_namespaced_service_account_token(
        "nobody", namespace, client.AuthenticationV1TokenRequest(spec=client.V1TokenRequestSpec(audiences=[]))
    ).status.token

    cfg = client.Configuration()
    cfg.host = f"https://127.0.0.1:{lab.config.ports.apiserver}"
    cfg.ssl_ca_cert = str(lab.config.paths.pki / "ca.crt")
    cfg.api_key = {"authorization": f"Bearer {token}"}
    as_nobody = client.ApiClient(cfg)
    try:
        # Authenticated (the API server knows who this is) ...
        review = client.AuthenticationV1Api(as_nobody).create_self_subject_review(client.V1SelfSubjectReview())
        assert review.status.user_info.username == f"system:serviceaccount:{namespace}:nobody"
        # ... but not authorized: RBAC grants a fresh service account nothing.
        with pytest.raises(ApiException) as denied:
            client.CoreV1Api(as_nobody).list_namespaced_secret("kube-system")
        assert denied.value.status == 403
        with pytest.raises(ApiException) as denied_pods:
            client.CoreV1Api(as_nobody).list_namespaced_pod(namespace)
        assert denied_pods.value.status == 403
    finally:
        as_nobody.close()  # type: ignore[no-untyped-call]


def test_controller_manager_binds_a_hand_made_pv_and_pvc(api: client.ApiClient, namespace: str) -> None:
    core = client.CoreV1Api(api)
    pv_name = f"{namespace}-pv"
    core.create_persistent_volume(
        client.V1PersistentVolume(
            metadata=client.V1ObjectMeta(name=pv_name),
            spec=client.V1PersistentVolumeSpec(
                capacity={"storage": "1Gi"},
                access_modes=["ReadWriteOnce"],
                storage_class_name="manual",
                persistent_volume_reclaim_policy="Retain",
                nfs=client.V1NFSVolumeSource(server="127.0.0.1", path="/export/volumes/hand-made"),
            ),
        )
    )
    core.create_namespaced_persistent_volume_claim(
        namespace,
        client.V1PersistentVolumeClaim(
            metadata=client.V1ObjectMeta(name="claim"),
            spec=client.V1PersistentVolumeClaimSpec(
                access_modes=["ReadWriteOnce"],
                storage_class_name="manual",
                resources=client.V1VolumeResourceRequirements(requests={"storage": "1Gi"}),
            ),
        ),
    )

    def bound() -> client.V1PersistentVolumeClaim | None:
        pvc = core.read_namespaced_persistent_volume_claim("claim", namespace)
        return pvc if pvc.status and pvc.status.phase == "Bound" else None

    pvc = eventually(bound, timeout=60)
    assert pvc.spec.volume_name == pv_name
    pv = core.read_persistent_volume(pv_name)
    assert pv.status.phase == "Bound"
    assert pv.spec.claim_ref.name == "claim"
    assert pv.spec.claim_ref.namespace == namespace
    core.delete_persistent_volume(pv_name)


def test_garbage_collector_deletes_dependents(api: client.ApiClient, namespace: str) -> None:
    core = client.CoreV1Api(api)
    owner = core.create_namespaced_config_map(namespace, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="owner")))
    ref = client.V1OwnerReference(api_version="v1", kind="ConfigMap", name="owner", uid=owner.metadata.uid)
    core.create_namespaced_config_map(
        namespace, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="dependent", owner_references=[ref]))
    )
    core.delete_namespaced_config_map("owner", namespace)

    def dependent_gone() -> bool:
        names = [cm.metadata.name for cm in core.list_namespaced_config_map(namespace).items]
        return "dependent" not in names

    eventually(dependent_gone, timeout=60)


def test_deployment_and_daemonset_controllers_create_pods_the_scheduler_places(
    lab: LabHandle, api: client.ApiClient, namespace: str
) -> None:
    apps, core = client.AppsV1Api(api), client.CoreV1Api(api)
    labels = {"app": "probe"}
    template = client.V1PodTemplateSpec(
        metadata=client.V1ObjectMeta(labels=labels),
        spec=client.V1PodSpec(containers=[client.V1Container(name="c", image="localhost/none:1")]),
    )
    apps.create_namespaced_deployment(
        namespace,
        client.V1Deployment(
            metadata=client.V1ObjectMeta(name="probe"),
            spec=client.V1DeploymentSpec(
                replicas=1, selector=client.V1LabelSelector(match_labels=labels), template=template
            ),
        ),
    )
    ds_labels = {"app": "per-node"}
    apps.create_namespaced_daemon_set(
        namespace,
        client.V1DaemonSet(
            metadata=client.V1ObjectMeta(name="per-node"),
            spec=client.V1DaemonSetSpec(
                selector=client.V1LabelSelector(match_labels=ds_labels),
                template=client.V1PodTemplateSpec(metadata=client.V1ObjectMeta(labels=ds_labels), spec=template.spec),
            ),
        ),
    )

    def placed(selector: str, count: int) -> list[str] | None:
        pods = core.list_namespaced_pod(namespace, label_selector=selector).items
        nodes = sorted(p.spec.node_name for p in pods if p.spec.node_name)
        return nodes if len(nodes) == count else None

    assert eventually(lambda: placed("app=probe", 1), timeout=60)[0] in lab.config.nodes
    assert eventually(lambda: placed("app=per-node", len(lab.config.nodes)), timeout=60) == sorted(lab.config.nodes)
