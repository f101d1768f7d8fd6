"""What runs where: the probe of the installed stack and hardware, the pinned stacks and their locks, the sessions."""
