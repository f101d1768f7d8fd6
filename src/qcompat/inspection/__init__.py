"""Inspecting a checkpoint against its profile: the layout rules by family, the streamed numerics, findings grouped
by cause, and how they are shown."""
