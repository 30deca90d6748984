# One image for every process of the project: operator, node agent, CSI plugin, and (managed mode) the
# Ceph daemons. Debian bookworm because Ceph's Python bindings (python3-rados & co.) come from Debian and
# are built for its CPython 3.11, the interpreter used here.
FROM debian:bookworm-slim

ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      python3 python3-venv ca-certificates \
      ceph-common ceph-base ceph-mon ceph-mgr ceph-mgr-modules-core ceph-osd ceph-mds ceph-fuse rbd-fuse \
      python3-rados python3-rbd python3-cephfs \
      util-linux mount fdisk gdisk e2fsprogs xfsprogs fuse3 \
 && rm -rf /var/lib/apt/lists/*

# The application lives in its own virtualenv (pinned PyPI dependencies); Debian's Ceph bindings are
# linked in by the same script the development setup uses, so nothing else from Debian's Python leaks in.
WORKDIR /opt/storage-operator
COPY pyproject.toml README.md ./
COPY storage_operator ./storage_operator
COPY csi ./csi
COPY hack/link-ceph-bindings.sh ./hack/
RUN python3 -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-cache-dir --disable-pip-version-check . \
 && hack/link-ceph-bindings.sh /opt/venv \
 && /opt/venv/bin/python -c "import rados, rbd, kopf, kubernetes, pyudev, nfs_rs, grpc, storage_operator.controllers.operator, csi.server"

ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1
# Unprivileged by default; the node agent's DaemonSet asks for what it needs explicitly.
USER 65532:65532
ENTRYPOINT ["storage-operator"]
CMD ["--help"]
