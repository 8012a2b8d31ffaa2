"""Tests of the lot_runtime library (runtime_lib/)."""
