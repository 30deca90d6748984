"""Applying a managed cluster's daemon Deployments, and rolling a new image through them safely.

A Deployment that is new, or whose image stays, is applied as it is. A change of image restarts the
daemon, so those go one at a time: only when every daemon of the cluster is available, only after
Ceph says the daemon may stop (``mon ok-to-stop``, ``osd ok-to-stop``), and only one per pass (the next
pass sees it come back before it touches another). Mons come first, then mgrs, then OSDs, in the order
the reconcile applies them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from storage_operator.ceph.daemons import NOT_NOW, build_ok_to_stop
from storage_operator.ceph.session import ClusterSession
from storage_operator.controllers.runtime import Body, Runtime
from storage_operator.errors import CephCommandError
from storage_operator.kube import workloads
from storage_operator.reconcile.events import Event
from storage_operator.reconcile.managed import DAEMON_ID_LABEL, DAEMON_LABEL
from storage_operator.reconcile.osds import CLUSTER_LABEL, cluster_label


def image_of(deployment: Body) -> str | None:
    containers = deployment.get("spec", {}).get("template", {}).get("spec", {}).get("containers") or [{}]
    image = containers[0].get("image")
    return str(image) if image else None


def available(deployment: Body) -> bool:
    """Rolled out and running: the new pod is up (not merely scheduled) and nothing old is left."""
    status: dict[str, Any] = deployment.get("status") or {}
    wanted = int(deployment.get("spec", {}).get("replicas", 1))
    generation = int(deployment.get("metadata", {}).get("generation") or 0)
    return (
        int(status.get("observedGeneration") or 0) >= generation
        and int(status.get("updatedReplicas") or 0) == wanted
        and int(status.get("availableReplicas") or 0) == wanted
        and int(status.get("replicas") or 0) == wanted
    )


@dataclass
class Daemons:
    """The cluster's Deployments as they are, and this pass's budget of one restart for a new image."""

    existing: dict[str, Body]
    session: ClusterSession | None = None
    mon_count: int = 1
    rolled: str | None = None
    ceph_unsettled: list[str] = field(default_factory=list)  # daemons Ceph does not count as up right now
    waiting: list[str] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)

    @classmethod
    async def load(cls, rt: Runtime, namespace: str, cluster: str) -> Daemons:
        selector = f"{CLUSTER_LABEL}={cluster_label(cluster)}"
        found = await rt.kube(workloads.list_deployments, rt.api, namespace, selector)
        # One being deleted (its pods still stopping) is on its way out: not the cluster's any more.
        return cls({str(d["metadata"]["name"]): d for d in found if not d["metadata"].get("deletionTimestamp")})

    def all_available(self, daemon: str, ids: list[str]) -> bool:
        """Whether a Deployment of each of these daemons exists and is available (as loaded this pass)."""
        by_id = {
            str((d["metadata"].get("labels") or {}).get(DAEMON_ID_LABEL)): d
            for d in self.existing.values()
            if (d["metadata"].get("labels") or {}).get(DAEMON_LABEL) == daemon
        }
        return all(i in by_id and available(by_id[i]) for i in ids)

    async def apply(self, rt: Runtime, deployment: Body) -> None:
        name = str(deployment["metadata"]["name"])
        current = self.existing.get(name)
        if current is None or image_of(current) == image_of(deployment):
            await rt.kube(workloads.apply, rt.api, deployment)
            return
        labels = deployment["metadata"]["labels"]
        who = f"{labels[DAEMON_LABEL]}.{labels[DAEMON_ID_LABEL]}"
        if self.rolled is not None or self.session is None:
            self.waiting.append(who)
            return
        unsettled = sorted(n for n, d in self.existing.items() if not available(d)) + self.ceph_unsettled
        if unsettled:
            self.waiting.append(who)
            return
        if not await self._may_stop(labels[DAEMON_LABEL], labels[DAEMON_ID_LABEL]):
            self.waiting.append(who)
            self.events.append(Event.normal("UpgradeWaits", f"{who} may not stop yet (Ceph says no); trying again"))
            return
        await rt.kube(workloads.apply, rt.api, deployment)
        self.rolled = who
        self.events.append(Event.normal("Upgrading", f"{who}: restarting with {image_of(deployment)}"))

    async def _may_stop(self, daemon: str, daemon_id: str) -> bool:
        if self.session is None:
            return False
        if daemon == "mon" and self.mon_count == 1:
            return True  # a lone mon can never be "ok to stop": the cluster pauses while it restarts
        if daemon not in ("mon", "osd", "mds"):
            return True  # a mgr's restart costs only metrics for a moment
        try:
            reply = await self.session.call(build_ok_to_stop(daemon, [daemon_id]))
        except CephCommandError as exc:
            if exc.errno in NOT_NOW:
                return False
            raise
        return not (isinstance(reply, dict) and reply.get("ok_to_stop") is False)

    def describe(self) -> str | None:
        if self.rolled is None and not self.waiting:
            return None
        parts = [f"restarting {self.rolled}"] if self.rolled else []
        if self.waiting:
            parts.append(f"waiting to restart {', '.join(self.waiting)}")
        return "upgrading: " + "; ".join(parts)
