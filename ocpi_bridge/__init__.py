"""OCPI side: the CPO platform that roaming partners register with (2.2.1, 2.1.1)."""
