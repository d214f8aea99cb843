"""Benchmarks, run with ``python -m bench.NAME``; they measure, they never assert."""
