"""Reusable test support: services the integration tests start themselves."""
