"""Adapter: ``ChargerLink`` over the live websocket connections (commands to chargers)."""

from __future__ import annotations

import logging

from gateway.domain.commands import ChargerCommand, CommandOutcome, OutcomeStatus
from gateway.domain.ids import ChargerId
from ocpp_central.connection import CallTimedOut
from ocpp_central.server import OcppServer
from ocpp_central.translate import commands, rpc

log = logging.getLogger(__name__)


class OcppLink:
    """Translates a command for the charger's OCPP version, sends it, reads the answer."""

    def __init__(self, server: OcppServer, *, default_timeout_s: float) -> None:
        self._server = server
        self._timeout = default_timeout_s

    def connected(self, charger_id: ChargerId) -> bool:
        return charger_id in self._server.connections

    async def send(
        self, charger_id: ChargerId, command: ChargerCommand, *, timeout_s: float | None = None
    ) -> CommandOutcome:
        connection = self._server.connections.get(charger_id)
        if connection is None:
            return CommandOutcome(status=OutcomeStatus.OFFLINE, message="charger not connected")
        action, payload = commands.to_call(command, connection.version)
        reply = await connection.call(action, payload, timeout_s=timeout_s or self._timeout)
        match reply:
            case CallTimedOut():
                log.info("command timed out charger=%s action=%s", charger_id, action)
                return CommandOutcome(
                    status=OutcomeStatus.TIMEOUT, message=f"no answer to {action}"
                )
            case rpc.CallError():
                log.info(
                    "command refused charger=%s action=%s code=%s", charger_id, action, reply.code
                )
                return commands.from_error(reply.code, reply.description)
        violation = self._server.validators(connection.version).check_response(
            action, reply.payload
        )
        if violation is not None:
            # Keep what the charger said, but do not take a malformed answer as success.
            log.warning(
                "malformed answer charger=%s action=%s: %s",
                charger_id,
                action,
                violation.description,
            )
            return CommandOutcome(
                status=OutcomeStatus.ERROR,
                error_code=violation.code.value,
                message=violation.description,
                detail=reply.payload,
            )
        return commands.from_result(reply.payload)
