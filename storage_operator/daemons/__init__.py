"""Entrypoints of the Ceph daemon pods a managed cluster runs."""
