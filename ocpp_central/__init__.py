"""OCPP side: the websocket central system that chargers connect to (1.6J, 2.0.1, 2.1)."""
