"""Pure: charging transactions in the gateway's own terms, and the events that drive them.

A transaction is identified on a charger by ``tx_id``: for OCPP 1.6 the integer the
gateway issued (as text), for 2.0.1/2.1 the charger's own string. The pair
(charger, tx_id) is unique. Meter samples of an open transaction are kept with it, so the
energy computation at the stop sees the whole series.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from gateway.domain.ids import ChargerId, EvseUid
from gateway.domain.meter import EnergyFlag, MeterProblem, MeterSample
from gateway.domain.topology import ConnectorRef


class TokenKind(StrEnum):
    """How a driver identified themself at the charger."""

    RFID = "rfid"
    CENTRAL = "central"  # started by the CSMS (remote start)
    CONTRACT = "contract"  # eMAID / ISO 15118 Plug & Charge
    KEY_CODE = "key_code"
    LOCAL = "local"
    MAC_ADDRESS = "mac_address"
    NO_AUTHORIZATION = "no_authorization"
    OTHER = "other"


@dataclass(frozen=True, slots=True, kw_only=True)
class AuthToken:
    """The identifier a driver presented; ``value`` is a secret and is never logged."""

    value: str
    kind: TokenKind = TokenKind.RFID


class TransactionStatus(StrEnum):
    """Where a transaction is in its life."""

    ACTIVE = "active"
    COMPLETED = "completed"


class TxFlag(StrEnum):
    """Oddities of a transaction the operator should review (RELIABILITY.md §2.4, §2.7)."""

    UNKNOWN_EVSE = "unknown_evse"  # no configured EVSE for its connector: never billed
    STARTED_IMPLICITLY = "started_implicitly"  # first seen through an update or an end
    CLOCK_SUSPECT = "clock_suspect"  # charger timestamp unusable; receive time used
    SEQUENCE_GAP = "sequence_gap"  # 2.0.1 seqNo numbers missing
    LATE_EVENT = "late_event"  # an event arrived for an already ended transaction
    #: The start's token was answered other than Accepted: its Session is INVALID, and it
    #: is never billed (no CDR), whatever the charger does next.
    AUTH_REJECTED = "auth_rejected"


@dataclass(frozen=True, slots=True, kw_only=True)
class Transaction:
    """One charging transaction; immutable once ``status`` is COMPLETED."""

    charger_id: ChargerId
    tx_id: str
    evse_uid: EvseUid | None
    connector: ConnectorRef | None
    token: AuthToken | None
    status: TransactionStatus = TransactionStatus.ACTIVE
    started_at: datetime
    received_at: datetime
    meter_start_wh: Decimal | None = None
    meter_stop_wh: Decimal | None = None
    stopped_at: datetime | None = None
    stop_reason: str | None = None
    energy_wh: Decimal = Decimal(0)
    start_key: str | None = None
    remote_start_id: int | None = None
    reservation_id: int | None = None
    auth_source: str | None = None  # who accepted the token: "site", "free_vend", a partner
    auth_reference: str | None = None  # the partner's authorization_reference, if any
    seen_seq: frozenset[int] = frozenset()
    flags: frozenset[TxFlag] = frozenset()
    energy_flags: tuple[EnergyFlag, ...] = ()
    samples: tuple[MeterSample, ...] = field(default=(), compare=False, repr=False)

    @property
    def ended(self) -> bool:
        return self.status is TransactionStatus.COMPLETED


@dataclass(frozen=True, slots=True, kw_only=True)
class TransactionStarted:
    """A charger started a transaction (1.6 StartTransaction, 2.0.1 TransactionEvent Started)."""

    charger_id: ChargerId
    at: datetime
    tx_id: str
    connector: ConnectorRef | None
    token: AuthToken | None
    started_at: datetime
    meter_start_wh: Decimal | None = None
    start_key: str | None = None
    seq_no: int | None = None
    samples: tuple[MeterSample, ...] = ()
    problems: tuple[MeterProblem, ...] = ()
    remote_start_id: int | None = None
    reservation_id: int | None = None
    clock_suspect: bool = False
    auth_source: str | None = None
    auth_reference: str | None = None
    auth_rejected: bool = False  # the charger was answered other than Accepted for the token


@dataclass(frozen=True, slots=True, kw_only=True)
class TransactionUpdated:
    """Meter values or details for a running transaction (1.6 MeterValues, 2.0.1 Updated)."""

    charger_id: ChargerId
    at: datetime
    tx_id: str
    connector: ConnectorRef | None = None
    token: AuthToken | None = None
    seq_no: int | None = None
    samples: tuple[MeterSample, ...] = ()
    problems: tuple[MeterProblem, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class TransactionStopped:
    """A charger ended a transaction (1.6 StopTransaction, 2.0.1 TransactionEvent Ended)."""

    charger_id: ChargerId
    at: datetime
    tx_id: str
    stopped_at: datetime
    meter_stop_wh: Decimal | None = None
    reason: str | None = None
    connector: ConnectorRef | None = None
    token: AuthToken | None = None
    seq_no: int | None = None
    samples: tuple[MeterSample, ...] = ()
    problems: tuple[MeterProblem, ...] = ()
    clock_suspect: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class MeterValuesReported:
    """Meter values outside any transaction (e.g. 1.6 MeterValues without transactionId)."""

    charger_id: ChargerId
    at: datetime
    connector: ConnectorRef | None
    samples: tuple[MeterSample, ...] = ()
    problems: tuple[MeterProblem, ...] = ()


TransactionEvent = TransactionStarted | TransactionUpdated | TransactionStopped
