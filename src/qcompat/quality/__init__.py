"""How much a checkpoint's next-token distributions differ from its base's over a fixed text (issue 22)."""
