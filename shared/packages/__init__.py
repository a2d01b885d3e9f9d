"""Trainer packages: static safety checks, metadata, the manifest, and validate-package's core."""
