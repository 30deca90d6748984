"""Thin kopf handlers, one module per kind: decorators and a call into domain code."""
