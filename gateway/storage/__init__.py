"""Adapter: the SQL store (SQLite by default, PostgreSQL accepted)."""
