"""qcompat: compatibility suite for the INT4 MLP-only GPTQ build of gemma-4-12B-it."""

__version__ = "0.1.0"
