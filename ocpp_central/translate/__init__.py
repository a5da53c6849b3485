"""Pure: OCPP payloads <-> the gateway's neutral events and commands."""
