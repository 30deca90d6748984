"""The node agent: pyudev discovery -> pure eligibility -> DiskInventory on change; disk preparation."""
