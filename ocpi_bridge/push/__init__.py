"""Adapter: outbound HTTP to partners."""
