"""The runtime of sites compiled by lotc (contract: docs/runtime-api.md)."""

__version__ = "0.1.0"
