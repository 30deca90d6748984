# The project's images, from one file (hack/build-image.sh builds them without Docker or a registry;
# `docker build` works the same):
#   --target storage-operator (the default, last stage): the operator, the node agent and the CSI plugins:
#       Ceph's client tools and Python bindings, FUSE clients, file-system tools; no Ceph daemons.
#   --target ceph: the same plus the Ceph daemons (mon, mgr, OSD, MDS) for managed mode.
# Debian bookworm because Ceph's Python bindings (python3-rados & co.) come from Debian and are built for
# its CPython 3.11, the interpreter used here. Neither final stage has pip, a compiler or apt lists.

# ---------------------------------------------------------------- what every stage runs on
FROM debian:bookworm-slim AS runtime-base
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      python3 ca-certificates \
      ceph-common ceph-fuse rbd-fuse \
      python3-rados python3-rbd python3-cephfs \
      util-linux mount fdisk gdisk e2fsprogs xfsprogs fuse3 \
 && rm -rf /var/lib/apt/lists/* /var/cache/debconf/*-old /var/log/* \
 && useradd --system --uid 65532 --user-group --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin nonroot
# (uid 65532, "nonroot" as in distroless images: what the operator runs as; a passwd entry keeps
# libraries that look the user up working.)

# ---------------------------------------------------------------- the dependencies, in a virtualenv
FROM runtime-base AS deps
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update && apt-get install -y --no-install-recommends python3-venv
# A CA bundle for pip where HTTPS to PyPI is re-signed by a local CA (hack/build-image.sh passes the
# host's); unset, pip uses its own. Only the build stages see it.
ARG PIP_CERT=
# Pinned dependencies first (hack/image-requirements.txt, generated from the tested virtualenv), so a
# code edit reuses these layers instead of downloading and installing them again. Bytecode is compiled
# here, once (the root file system is read-only at run time). Debian's Ceph bindings are linked in by the
# script the development set-up uses; the project itself goes to /opt/app (a .pth file adds it), so the
# final images copy this virtualenv as one layer that a code edit leaves unchanged.
COPY hack/image-requirements.txt hack/link-ceph-bindings.sh /tmp/
RUN python3 -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-cache-dir --disable-pip-version-check --no-deps --no-compile \
      ${PIP_CERT:+--cert "$PIP_CERT"} -r /tmp/image-requirements.txt \
 && /opt/venv/bin/python -m compileall -q -j 0 /opt/venv/lib \
 && /tmp/link-ceph-bindings.sh /opt/venv \
 && echo /opt/app > "$(/opt/venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/storage-operator.pth"

# ---------------------------------------------------------------- the project (pip compiles its bytecode)
FROM deps AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY storage_operator ./storage_operator
COPY csi ./csi
RUN /opt/venv/bin/pip install --no-cache-dir --disable-pip-version-check --no-deps --no-build-isolation \
      --target /opt/app . \
 && cd / && /opt/venv/bin/python -c "import rados, rbd, cephfs, kopf, kubernetes, pyudev, nfs_rs, grpc, \
storage_operator.controllers.operator, storage_operator.agent.process, csi.server"

# ---------------------------------------------------------------- the virtualenv without pip and build tools
FROM deps AS venv
RUN /opt/venv/bin/pip uninstall --yes --quiet --disable-pip-version-check setuptools wheel pip

# ---------------------------------------------------------------- managed mode: the Ceph daemons too
FROM runtime-base AS ceph
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      ceph-base ceph-mon ceph-mgr ceph-mgr-modules-core ceph-osd ceph-mds \
 && rm -rf /var/lib/apt/lists/* /var/cache/debconf/*-old /var/log/*
COPY --from=venv /opt/venv /opt/venv
COPY --from=build /opt/app /opt/app
ENV PATH=/opt/app/bin:/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
# The daemons run as the ceph user Debian's packages create; the pods say so explicitly.
ENTRYPOINT ["storage-operator"]
CMD ["--help"]

# ---------------------------------------------------------------- operator, node agent, CSI plugins
FROM runtime-base AS storage-operator
COPY --from=venv /opt/venv /opt/venv
COPY --from=build /opt/app /opt/app
ENV PATH=/opt/app/bin:/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
# Unprivileged by default; the node agent's and the CSI node plugin's DaemonSets ask for root explicitly.
USER 65532:65532
ENTRYPOINT ["storage-operator"]
CMD ["--help"]
