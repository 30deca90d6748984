"""Certificates and keys for the lab's control plane (one CA, serving and client certificates).

``build_*`` functions are pure (they return objects); ``write_*`` put them on disk with 0600 keys.
ECDSA P-256 keeps generation instant; Kubernetes accepts it everywhere, service-account tokens included.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_VALIDITY = dt.timedelta(days=365)


@dataclass(frozen=True)
class KeyCert:
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate

    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )

    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)


def _name(common_name: str, organizations: tuple[str, ...] = ()) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in organizations]
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return x509.Name(attrs)


def build_ca(common_name: str, *, now: dt.datetime | None = None) -> KeyCert:
    now = now or dt.datetime.now(dt.UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    name = _name(common_name)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + _VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return KeyCert(key, cert)


def build_cert(
    ca: KeyCert,
    common_name: str,
    *,
    organizations: tuple[str, ...] = (),
    dns_names: tuple[str, ...] = (),
    ip_addresses: tuple[str, ...] = (),
    server: bool = False,
    client: bool = False,
    now: dt.datetime | None = None,
) -> KeyCert:
    """A leaf certificate signed by ``ca``; ``server``/``client`` select the extended key usages."""
    now = now or dt.datetime.now(dt.UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    usages = ([ExtendedKeyUsageOID.SERVER_AUTH] if server else []) + (
        [ExtendedKeyUsageOID.CLIENT_AUTH] if client else []
    )
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name, organizations))
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + _VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_encipherment=False,
                key_cert_sign=False,
                crl_sign=False,
                content_commitment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), critical=False)
    )
    sans: list[x509.GeneralName] = [x509.DNSName(d) for d in dns_names]
    sans += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ip_addresses]
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return KeyCert(key, builder.sign(ca.key, hashes.SHA256()))


def build_signing_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@dataclass(frozen=True)
class ControlPlanePki:
    """Paths of every file ``write_control_plane_pki`` made."""

    dir: Path

    def cert(self, name: str) -> Path:
        return self.dir / f"{name}.crt"

    def key(self, name: str) -> Path:
        return self.dir / f"{name}.key"

    @property
    def ca(self) -> Path:
        return self.cert("ca")

    @property
    def sa_key(self) -> Path:
        return self.dir / "service-account.key"

    @property
    def sa_pub(self) -> Path:
        return self.dir / "service-account.pub"


APISERVER_DNS = (
    "localhost",
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
)


@dataclass(frozen=True)
class Leaf:
    """One certificate to issue: its file name, subject and what it is for."""

    file: str
    common_name: str
    organizations: tuple[str, ...] = ()
    server: bool = False
    client: bool = False
    dns_names: tuple[str, ...] = ()
    ip_addresses: tuple[str, ...] = ()


def issue(ca: KeyCert, leaf: Leaf) -> KeyCert:
    """The certificate ``leaf`` describes, signed by ``ca``."""
    return build_cert(
        ca,
        leaf.common_name,
        organizations=leaf.organizations,
        server=leaf.server,
        client=leaf.client,
        dns_names=leaf.dns_names,
        ip_addresses=leaf.ip_addresses,
    )


def kubelet_leaves(node: str, node_ip: str) -> tuple[Leaf, ...]:
    """A real node's certificates: its client certificate as the Node authorizer and NodeRestriction
    expect it (CN system:node:NAME in group system:nodes), and its kubelet's serving certificate."""
    return (
        Leaf(f"kubelet-client.{node}", f"system:node:{node}", ("system:nodes",), client=True),
        Leaf(
            f"kubelet-serving.{node}",
            f"system:node:{node}",
            ("system:nodes",),
            server=True,
            dns_names=(node, "localhost"),
            ip_addresses=(node_ip, "127.0.0.1"),
        ),
    )


# The API server's identity towards kubelets (logs, exec, port-forward); bound to the built-in
# system:kubelet-api-admin ClusterRole by the lab, not a member of system:masters.
APISERVER_KUBELET_CLIENT = "kube-apiserver-kubelet-client"


def control_plane_leaves(service_ip: str) -> tuple[Leaf, ...]:
    dns, ips = ("localhost",), ("127.0.0.1",)
    return (
        Leaf("etcd-server", "etcd", server=True, dns_names=dns, ip_addresses=ips),
        Leaf("apiserver-etcd-client", "kube-apiserver-etcd-client", client=True),
        Leaf(
            "apiserver",
            "kube-apiserver",
            server=True,
            dns_names=APISERVER_DNS,
            ip_addresses=("127.0.0.1", service_ip),
        ),
        Leaf("admin", "lab-admin", ("system:masters",), client=True),
        Leaf("kube-controller-manager", "system:kube-controller-manager", client=True),
        Leaf(
            "kube-controller-manager-serving",
            "kube-controller-manager",
            server=True,
            dns_names=dns,
            ip_addresses=ips,
        ),
        Leaf("kube-scheduler", "system:kube-scheduler", client=True),
        Leaf("kube-scheduler-serving", "kube-scheduler", server=True, dns_names=dns, ip_addresses=ips),
        Leaf("apiserver-kubelet-client", APISERVER_KUBELET_CLIENT, client=True),
    )


def write_control_plane_pki(
    directory: Path, *, service_ip: str, extra_leaves: tuple[Leaf, ...] = ()
) -> ControlPlanePki:
    """Generate the CA, every leaf (``extra_leaves`` too) and the service-account key pair into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    pki = ControlPlanePki(directory)
    ca = build_ca("storage-operator-lab-ca")
    _write(pki.ca, ca.cert_pem(), 0o644)
    _write(pki.key("ca"), ca.key_pem(), 0o600)
    for leaf in (*control_plane_leaves(service_ip), *extra_leaves):
        issued = issue(ca, leaf)
        _write(pki.cert(leaf.file), issued.cert_pem(), 0o644)
        _write(pki.key(leaf.file), issued.key_pem(), 0o600)
    sa = build_signing_key()
    _write(
        pki.sa_key,
        sa.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
        0o600,
    )
    _write(
        pki.sa_pub,
        sa.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo),
        0o644,
    )
    return pki


def _write(path: Path, data: bytes, mode: int) -> None:
    # Create with the final mode so a key is never readable by others, not even for a moment.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    path.chmod(mode)
