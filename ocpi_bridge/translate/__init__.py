"""Pure: gateway state -> OCPI objects, and OCPI requests -> gateway commands."""
