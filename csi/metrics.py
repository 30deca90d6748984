"""The plugin's Prometheus metrics: every RPC counted by method and gRPC code, and timed."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server

# A journal write is about a millisecond, a subvolume create tens, a node stage (FUSE mount, mkfs) a
# second or more, a clone or copy of a big volume minutes.
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)


class CSIMetrics:
    def __init__(self, driver: str, registry: CollectorRegistry | None = None) -> None:
        self.driver = driver
        self.registry = registry or CollectorRegistry()
        self.operations = Counter(
            "csi_operations_total",
            "CSI calls served, by method and gRPC status code.",
            ["driver", "method", "code"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "csi_operation_duration_seconds",
            "Time a CSI call took, by method.",
            ["driver", "method"],
            buckets=BUCKETS,
            registry=self.registry,
        )

    def observe(self, method: str, code: str, seconds: float) -> None:
        self.operations.labels(self.driver, method, code).inc()
        self.duration.labels(self.driver, method).observe(seconds)

    def serve(self, address: str) -> None:
        """Serve /metrics on ``host:port`` (a thread of prometheus_client)."""
        host, _, port = address.rpartition(":")
        start_http_server(int(port), addr=host or "127.0.0.1", registry=self.registry)
