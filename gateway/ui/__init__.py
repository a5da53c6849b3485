"""Adapter: the operator's web pages (live board, chargers, sessions, CDRs, partners)."""
