"""Pure reconciliation: desired state from spec and observed state, with no I/O imports at all."""
