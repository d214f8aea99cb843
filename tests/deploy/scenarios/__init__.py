"""Scenarios beyond tests/e2e that the least-privilege proof needs (run with e2e fixtures)."""
