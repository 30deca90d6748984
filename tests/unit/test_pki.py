from __future__ import annotations

import stat
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from storage_operator.lab.pki import (
    APISERVER_KUBELET_CLIENT,
    Leaf,
    build_ca,
    build_cert,
    control_plane_leaves,
    issue,
    kubelet_leaves,
    write_control_plane_pki,
)


def _verify_signed_by(leaf: x509.Certificate, ca: x509.Certificate) -> None:
    public_key = ca.public_key()
    assert isinstance(public_key, ec.EllipticCurvePublicKey)
    leaf.verify_directly_issued_by(ca)


def test_server_cert_carries_sans_and_server_usage() -> None:
    ca = build_ca("test-ca")
    leaf = build_cert(ca, "api", server=True, dns_names=("localhost",), ip_addresses=("127.0.0.1",))
    _verify_signed_by(leaf.cert, ca.cert)
    sans = leaf.cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["localhost"]
    assert [str(ip) for ip in sans.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    eku = leaf.cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH]


def test_admin_client_cert_is_in_system_masters() -> None:
    ca = build_ca("test-ca")
    leaf = build_cert(ca, "lab-admin", organizations=("system:masters",), client=True)
    orgs = leaf.cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    assert [o.value for o in orgs] == ["system:masters"]
    eku = leaf.cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.CLIENT_AUTH]


def test_only_the_admin_is_a_superuser() -> None:
    masters = [leaf.file for leaf in control_plane_leaves("10.96.0.1") if "system:masters" in leaf.organizations]
    assert masters == ["admin"]


def test_written_keys_are_private(tmp_path: Path) -> None:
    pki = write_control_plane_pki(tmp_path / "pki", service_ip="10.96.0.1")
    keys = sorted(pki.dir.glob("*.key"))
    assert len(keys) == len(control_plane_leaves("10.96.0.1")) + 2  # leaves + CA + service-account key
    for key in keys:
        assert stat.S_IMODE(key.stat().st_mode) == 0o600, key
    assert stat.S_IMODE(pki.dir.stat().st_mode) == 0o700
    ca = x509.load_pem_x509_certificate(pki.ca.read_bytes())
    apiserver = x509.load_pem_x509_certificate(pki.cert("apiserver").read_bytes())
    apiserver.verify_directly_issued_by(ca)
    sans = apiserver.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "kubernetes.default.svc" in sans.get_values_for_type(x509.DNSName)
    assert "10.96.0.1" in [str(ip) for ip in sans.get_values_for_type(x509.IPAddress)]


def _issue(leaf: Leaf) -> x509.Certificate:
    ca = build_ca("test-ca")
    issued = issue(ca, leaf)
    _verify_signed_by(issued.cert, ca.cert)
    return issued.cert


def test_kubelet_client_cert_is_the_node_identity() -> None:
    leaves = {leaf.file: leaf for leaf in kubelet_leaves("node-a", "10.244.69.1")}
    client = leaves["kubelet-client.node-a"]
    assert client.client
    assert not client.server
    cert = _issue(client)
    cn = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    assert [a.value for a in cn] == ["system:node:node-a"]
    orgs = cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    assert [o.value for o in orgs] == ["system:nodes"]
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.CLIENT_AUTH]


def test_kubelet_serving_cert_names_the_node_and_its_ip() -> None:
    leaves = {leaf.file: leaf for leaf in kubelet_leaves("node-a", "10.244.69.1")}
    assert set(leaves) == {"kubelet-client.node-a", "kubelet-serving.node-a"}
    serving = leaves["kubelet-serving.node-a"]
    assert serving.server
    cert = _issue(serving)
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "node-a" in sans.get_values_for_type(x509.DNSName)
    assert "10.244.69.1" in [str(ip) for ip in sans.get_values_for_type(x509.IPAddress)]
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.SERVER_AUTH in list(eku)


def test_apiserver_kubelet_client_is_a_client_but_no_superuser() -> None:
    (leaf,) = [leaf for leaf in control_plane_leaves("10.96.0.1") if leaf.file == "apiserver-kubelet-client"]
    assert leaf.common_name == APISERVER_KUBELET_CLIENT
    assert leaf.client
    assert not leaf.server
    assert "system:masters" not in leaf.organizations
