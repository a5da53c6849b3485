"""Load generator, content: what one simulated charger says next (OCPP 1.6 or 2.0.1).

A charger boots once, reports its connector, then draws each message from its mix:
``status`` (StatusNotification), ``meter`` (MeterValues with four measurands: energy
register, power, current, voltage; inside a 2.0.1 transaction a TransactionEvent
Updated carrying them), ``heartbeat`` and ``tx`` (StartTransaction when no transaction
is open, else StopTransaction; 2.0.1 TransactionEvent Started/Ended). The 1.6
transactionId comes from the answer to StartTransaction. The mix is a shuffled cycle,
so the shares are exact over every cycle and each charger's order differs.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

#: The site token every simulated driver presents; the benchmark site lists it.
ID_TAG = "BENCHTAG0001"


class Kind(StrEnum):
    """A kind of message in the mix."""

    STATUS = "status"
    METER = "meter"
    HEARTBEAT = "heartbeat"
    TX = "tx"


Mix = Mapping[Kind, int]

DEFAULT_MIX = "meter=6,status=2,heartbeat=1,tx=1"


def parse_mix(text: str) -> dict[Kind, int]:
    """Read ``kind=weight,...``; weights are non-negative integers, at least one positive."""
    mix: dict[Kind, int] = {}
    for part in text.split(","):
        name, sep, weight = part.strip().partition("=")
        try:
            kind = Kind(name.strip())
            value = int(weight) if sep else 1
        except ValueError:
            raise ValueError(
                f"bad mix entry {part!r}: use kind=weight with kind one of "
                f"{', '.join(k.value for k in Kind)}"
            ) from None
        if value < 0:
            raise ValueError(f"bad mix entry {part!r}: weights are not negative")
        mix[kind] = value
    if not any(mix.values()):
        raise ValueError("the mix needs at least one positive weight")
    return mix


def format_mix(mix: Mix) -> str:
    return ",".join(f"{k.value}={w}" for k, w in mix.items() if w)


_clock: list[Any] = [0, ""]  # (centisecond, its timestamp): 10 ms resolution is plenty


def _now() -> str:
    """The current UTC time as OCPP writes it; cached, as thousands of chargers ask at once."""
    tick = int(time.time() * 100)
    if tick != _clock[0]:
        at = datetime.fromtimestamp(tick / 100, UTC).isoformat(timespec="milliseconds")
        _clock[0], _clock[1] = tick, at.replace("+00:00", "Z")
    text: str = _clock[1]
    return text


Call = tuple[str, str]  # (action, payload as JSON text)


class Script:
    """The messages of one charger, in the order it sends them."""

    version = ""

    def __init__(self, charger_id: str, mix: Mix, rng: random.Random) -> None:
        self.charger_id = charger_id
        cycle = [kind for kind, weight in mix.items() for _ in range(weight)]
        rng.shuffle(cycle)
        self._cycle = cycle
        self._next = 0
        self._rng = rng
        self.energy_wh = rng.randrange(0, 5_000_000)
        self.tx_open = False
        self.transactions_started = 0
        self.transactions_stopped = 0

    def boot(self) -> Call:
        raise NotImplementedError

    def status(self) -> Call:
        raise NotImplementedError

    def next_call(self) -> Call:
        kind = self._cycle[self._next]
        self._next = (self._next + 1) % len(self._cycle)
        if kind is Kind.STATUS:
            return self.status()
        if kind is Kind.METER:
            self.energy_wh += self._rng.randrange(50, 500) if self.tx_open else 0
            return self.meter()
        if kind is Kind.HEARTBEAT:
            return "Heartbeat", "{}"
        return self.stop() if self.tx_open else self.start()

    def on_result(self, action: str, payload: Any) -> None:
        """Learn from an answer (the 1.6 transactionId)."""

    def answer(self, action: str) -> dict[str, Any]:
        """The payload answering one of the gateway's CALLs: it accepts whatever it is asked."""
        return {"status": "Accepted"}

    def meter(self) -> Call:
        raise NotImplementedError

    def start(self) -> Call:
        raise NotImplementedError

    def stop(self) -> Call:
        raise NotImplementedError

    def _power_w(self) -> int:
        return 11_000 + self._rng.randrange(-500, 500) if self.tx_open else 0


def _dumps(payload: dict[str, Any]) -> str:
    return json.dumps(payload, separators=(",", ":"))


class V16Script(Script):
    """OCPP 1.6: connector 1, the CSMS issues transaction ids."""

    version = "ocpp1.6"

    def __init__(self, charger_id: str, mix: Mix, rng: random.Random) -> None:
        super().__init__(charger_id, mix, rng)
        self.transaction_id: int | None = None

    def answer(self, action: str) -> dict[str, Any]:
        if action == "GetLocalListVersion":
            return {"listVersion": 0}
        return super().answer(action)

    def boot(self) -> Call:
        return "BootNotification", _dumps(
            {
                "chargePointVendor": "Bench",
                "chargePointModel": "AC22-SIM",
                "chargePointSerialNumber": self.charger_id,
                "firmwareVersion": "1.0.0",
            }
        )

    def status(self) -> Call:
        status = "Charging" if self.tx_open else "Available"
        return "StatusNotification", (
            f'{{"connectorId":1,"errorCode":"NoError","status":"{status}","timestamp":"{_now()}"}}'
        )

    def _sampled(self, context: str) -> str:
        """The four measurands as sampledValue JSON (a template: this is the hot path)."""
        power = self._power_w()
        voltage = 229 + self._rng.random() * 2
        values = (
            (str(self.energy_wh), "Energy.Active.Import.Register", "Wh"),
            (str(power), "Power.Active.Import", "W"),
            (f"{power / (3 * voltage):.1f}", "Current.Import", "A"),
            (f"{voltage:.1f}", "Voltage", "V"),
        )
        return ",".join(
            f'{{"value":"{value}","context":"{context}","measurand":"{measurand}",'
            f'"location":"Outlet","unit":"{unit}"}}'
            for value, measurand, unit in values
        )

    def meter(self) -> Call:
        tx = (
            f',"transactionId":{self.transaction_id}'
            if self.tx_open and self.transaction_id is not None
            else ""
        )
        return "MeterValues", (
            f'{{"connectorId":1{tx},"meterValue":[{{"timestamp":"{_now()}",'
            f'"sampledValue":[{self._sampled("Sample.Periodic")}]}}]}}'
        )

    def start(self) -> Call:
        self.tx_open = True
        self.transaction_id = None
        self.transactions_started += 1
        return "StartTransaction", _dumps(
            {
                "connectorId": 1,
                "idTag": ID_TAG,
                "meterStart": self.energy_wh,
                "timestamp": _now(),
            }
        )

    def stop(self) -> Call:
        self.tx_open = False
        self.transactions_stopped += 1
        return "StopTransaction", _dumps(
            {
                "transactionId": self.transaction_id if self.transaction_id is not None else -1,
                "idTag": ID_TAG,
                "meterStop": self.energy_wh,
                "timestamp": _now(),
                "reason": "Local",
                "transactionData": [
                    {
                        "timestamp": _now(),
                        "sampledValue": [
                            {
                                "value": str(self.energy_wh),
                                "context": "Transaction.End",
                                "measurand": "Energy.Active.Import.Register",
                                "location": "Outlet",
                                "unit": "Wh",
                            }
                        ],
                    }
                ],
            }
        )

    def on_result(self, action: str, payload: Any) -> None:
        if action == "StartTransaction" and isinstance(payload, dict):
            tx_id = payload.get("transactionId")
            self.transaction_id = tx_id if isinstance(tx_id, int) else None


class V201Script(Script):
    """OCPP 2.0.1: EVSE 1 connector 1, the charger names its transactions."""

    version = "ocpp2.0.1"

    def __init__(self, charger_id: str, mix: Mix, rng: random.Random) -> None:
        super().__init__(charger_id, mix, rng)
        self.transaction_id = ""
        self.seq_no = 0

    def answer(self, action: str) -> dict[str, Any]:
        if action == "GetLocalListVersion":
            return {"versionNumber": 0}
        return super().answer(action)

    def boot(self) -> Call:
        return "BootNotification", _dumps(
            {
                "reason": "PowerUp",
                "chargingStation": {
                    "model": "AC22-SIM",
                    "vendorName": "Bench",
                    "serialNumber": self.charger_id,
                    "firmwareVersion": "1.0.0",
                },
            }
        )

    def status(self) -> Call:
        return "StatusNotification", _dumps(
            {
                "timestamp": _now(),
                "connectorStatus": "Occupied" if self.tx_open else "Available",
                "evseId": 1,
                "connectorId": 1,
            }
        )

    def _meter_value(self, context: str, *, energy_only: bool = False) -> list[dict[str, Any]]:
        power = self._power_w()
        sampled: list[dict[str, Any]] = [
            {
                "value": self.energy_wh,
                "context": context,
                "measurand": "Energy.Active.Import.Register",
                "location": "Outlet",
                "unitOfMeasure": {"unit": "Wh"},
            },
        ]
        if not energy_only:
            sampled += [
                {
                    "value": power,
                    "context": context,
                    "measurand": "Power.Active.Import",
                    "unitOfMeasure": {"unit": "W"},
                },
                {
                    "value": round(power / (3 * 230), 1),
                    "context": context,
                    "measurand": "Current.Import",
                    "unitOfMeasure": {"unit": "A"},
                },
                {
                    "value": round(229 + self._rng.random() * 2, 1),
                    "context": context,
                    "measurand": "Voltage",
                    "unitOfMeasure": {"unit": "V"},
                },
            ]
        return [{"timestamp": _now(), "sampledValue": sampled}]

    def _event(self, event_type: str, trigger: str, **extra: Any) -> Call:
        payload = {
            "eventType": event_type,
            "timestamp": _now(),
            "triggerReason": trigger,
            "seqNo": self.seq_no,
            **extra,
        }
        self.seq_no += 1
        return "TransactionEvent", _dumps(payload)

    def meter(self) -> Call:
        if not self.tx_open:
            return "MeterValues", _dumps(
                {"evseId": 1, "meterValue": self._meter_value("Sample.Periodic")}
            )
        return self._event(
            "Updated",
            "MeterValuePeriodic",
            transactionInfo={"transactionId": self.transaction_id, "chargingState": "Charging"},
            meterValue=self._meter_value("Sample.Periodic"),
        )

    def start(self) -> Call:
        self.tx_open = True
        self.transactions_started += 1
        self.transaction_id = f"{self.charger_id}-{self.transactions_started}"
        self.seq_no = 0
        return self._event(
            "Started",
            "Authorized",
            transactionInfo={"transactionId": self.transaction_id, "chargingState": "Charging"},
            evse={"id": 1, "connectorId": 1},
            idToken={"idToken": ID_TAG, "type": "ISO14443"},
            meterValue=self._meter_value("Transaction.Begin", energy_only=True),
        )

    def stop(self) -> Call:
        self.tx_open = False
        self.transactions_stopped += 1
        return self._event(
            "Ended",
            "StopAuthorized",
            transactionInfo={
                "transactionId": self.transaction_id,
                "chargingState": "Idle",
                "stoppedReason": "Local",
            },
            idToken={"idToken": ID_TAG, "type": "ISO14443"},
            meterValue=self._meter_value("Transaction.End", energy_only=True),
        )


SCRIPTS: Mapping[str, type[Script]] = {"1.6": V16Script, "2.0.1": V201Script}
