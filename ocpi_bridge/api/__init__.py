"""Adapter: the FastAPI routers partners call."""
