"""Benchmarks: scripts that print tables and write benchmarks/results/. Targets live here, not in tests."""
