"""Simulated chargers for the tests: real OCPP-J clients over real websockets."""
