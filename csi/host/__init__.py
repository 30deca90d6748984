"""The node's side: mounts, loop devices, file systems and the tools that make them (the only I/O on a node)."""
