"""Benchmarks: scripts anyone can run; they print figures and ratios (never run by the tests)."""
