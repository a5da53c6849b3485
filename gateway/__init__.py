"""charger-edge gateway: an OCPP central system and an OCPI CPO platform in one process."""

__version__ = "0.1.0"
