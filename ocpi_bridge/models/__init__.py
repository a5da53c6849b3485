"""Data: OCPI wire objects as pydantic models, one module per OCPI module."""
