"""Benchmarks of siting: solver and pipeline performance, run by ``make bench``."""
