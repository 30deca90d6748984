"""Events on core objects (claims, volumes) as bodies to post in one write each (the asyncio client).

The provisioner posts several Events per claim during a burst; reading first to aggregate repeats (as
``kube.events`` does for our custom objects) would double the writes. Repeats are rare here anyway: the
provisioner posts a failure again only when its message changes.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any

COMPONENT = "nfs.storage.baremetal.io"
MAX_MESSAGE = 1024
_serial = itertools.count()


def event_body(
    involved: Mapping[str, Any], *, type_: str, reason: str, message: str, instance: str, now: datetime
) -> dict[str, Any]:
    meta = involved.get("metadata") or {}
    namespace = meta.get("namespace") or "default"
    # client-go's naming: the object's name and a unique hex suffix.
    name = f"{str(meta.get('name', 'object'))[:200]}.{time.time_ns():x}{next(_serial) % 4096:03x}"
    stamp = now.isoformat().replace("+00:00", "Z")
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": name, "namespace": namespace},
        "involvedObject": {
            "apiVersion": involved.get("apiVersion", "v1"),
            "kind": involved.get("kind"),
            "name": meta.get("name"),
            "namespace": meta.get("namespace"),
            "uid": meta.get("uid"),
            "resourceVersion": meta.get("resourceVersion"),
        },
        "type": type_,
        "reason": reason,
        "message": message[:MAX_MESSAGE],
        "count": 1,
        "firstTimestamp": stamp,
        "lastTimestamp": stamp,
        "source": {"component": COMPONENT},
        "reportingComponent": COMPONENT,
        "reportingInstance": instance,
    }
