"""Tests of the PostgreSQL store against a real PostgreSQL server."""
