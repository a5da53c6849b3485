"""Pure: the neutral vocabulary both protocol sides translate to and from (stdlib only)."""
