"""Seals, CDRs and credit CDRs for the store (called inside the commit of a transaction change).

``OcpiSealer`` is the store's ``Sealer``: at a transaction's start it records where it
happened, at what price and whose token it is (``TokenBook``); at its end it builds the
CDR from that seal (DESIGN.md §4: "sealed with the location, EVSE, token and tariff as
they were at the start"). A transaction that answers a partner's START_SESSION or
reservation takes the Session that command opened (``claim``), so it keeps its id.
A transaction whose start was refused is never billed (no CDR).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Protocol

from gateway.config import Settings
from gateway.domain.delivery import CdrRecord, Claim, Seal
from gateway.domain.ids import EvseUid
from gateway.domain.remote import RemoteCommand, Reservation
from gateway.domain.topology import ConnectorRef
from gateway.domain.transactions import Transaction
from ocpi_bridge.catalog import zone
from ocpi_bridge.models.cdrs import Cdr
from ocpi_bridge.ports import TokenBook
from ocpi_bridge.translate.delivery import (
    canonical,
    cdr_of,
    choose_claim,
    credit_cdr,
    evse_index,
    seal_site,
    sealed_site,
    token_doc,
    token_identity,
    wire,
)
from ocpi_bridge.translate.sessions import billable, session_id

#: Remembered CDR builds whose transaction end was not announced (a failed commit).
_BILLED_MAX = 1024


class OcpiSealer:
    """``gateway.storage.delivery.Sealer`` for OCPI 2.2.1 Sessions and CDRs."""

    def __init__(
        self, settings: Settings, *, configured_at: Mapping[str, datetime], tokens: TokenBook
    ) -> None:
        self._settings = settings
        self._configured_at = configured_at
        self._tokens = tokens
        # A site document depends on the configuration, fixed for this sealer's life, and
        # on where the transaction started: building one per start is most of sealing, so
        # each is kept by EVSE and connector. Unless a tariff's time is missing from
        # ``configured_at``: then the document carries the start's time and is not kept.
        self._evses = evse_index(settings)
        dated = all(f"tariff:{t.id}" in configured_at for t in settings.tariffs)
        self._sites: dict[tuple[EvseUid | None, ConnectorRef | None], str] | None = (
            {} if dated else None
        )
        #: (charger, transaction id) of the CDRs built lately, for the gateway to take
        #: (``billed``) when the transaction's end is announced: the pusher handles such a
        #: commit at once even on a site without push partners (the operator sees whether
        #: a CDR is queued). Written inside commits on the writer thread.
        self._billed: dict[tuple[str, str], None] = {}
        self._billed_lock = threading.Lock()  # written on the writer thread, taken on the loop

    def seal(self, tx: Transaction) -> Seal:
        site, problem = self._site(tx)
        identity = None
        if tx.token is not None:
            identity = self._tokens.identity(
                tx.token, auth_source=tx.auth_source, auth_reference=tx.auth_reference
            )
        return Seal(
            session_id=session_id(tx),
            site=site,
            token=None if identity is None else token_doc(identity),
            owner=None
            if identity is None
            else (identity.country_code.upper(), identity.party_id.upper()),
            problem=problem,
        )

    def _site(self, tx: Transaction) -> tuple[str | None, str | None]:
        sites = self._sites
        key = (tx.evse_uid, tx.connector)
        if sites is not None and (known := sites.get(key)) is not None:
            return known, None
        site, problem = seal_site(
            tx, self._settings, configured_at=self._configured_at, index=self._evses
        )
        if sites is not None and site is not None:
            sites[key] = site
        return site, problem

    def claim(
        self, tx: Transaction, starts: Sequence[RemoteCommand], reservations: Sequence[Reservation]
    ) -> Claim | None:
        return choose_claim(tx, starts, reservations)

    def cdr(self, tx: Transaction, seal: Seal, *, at: datetime) -> CdrRecord | None:
        if seal.site is None or seal.token is None or seal.owner is None or not billable(tx):
            return None
        site = sealed_site(seal.site)
        cdr = cdr_of(
            tx,
            site=site,
            time_zone=zone(site.location.time_zone),
            token=token_identity(seal.token),
            issued_at=at,
            sealed_id=seal.session_id,
        )
        with self._billed_lock:
            billed = self._billed
            billed[(tx.charger_id, tx.tx_id)] = None
            if len(billed) > _BILLED_MAX:  # ends whose commit failed are never taken
                del billed[next(iter(billed))]
        return CdrRecord(cdr_id=cdr.id, owner=seal.owner, created_at=at, doc=canonical(wire(cdr)))

    def billed(self, tx: Transaction) -> bool:
        """Whether a CDR was built for ``tx`` since this was last asked (once per CDR)."""
        key = (tx.charger_id, tx.tx_id)
        with self._billed_lock:
            if key not in self._billed:
                return False
            del self._billed[key]
            return True


class CreditError(Exception):
    """A credit CDR cannot be issued; the message says why."""


class CdrStore(Protocol):
    """Where CDRs are kept (``gateway.storage.delivery.SqlDelivery``)."""

    def cdr(self, cdr_id: str) -> CdrRecord | None: ...

    def add_cdr(self, record: CdrRecord) -> bool: ...


def issue_credit(
    store: CdrStore, cdr_id: str, *, now: datetime, remark: str | None = None
) -> CdrRecord:
    """Credit a CDR (mod_cdrs §Credit CDRs): stored, and queued for its partner.

    Raises:
        CreditError: no such CDR, it is a credit CDR itself, or it was credited already.
    """
    record = store.cdr(cdr_id)
    if record is None:
        raise CreditError(f"no CDR {cdr_id!r}")
    if record.credit_of is not None:
        raise CreditError(f"{cdr_id!r} is a credit CDR; it is not credited again")
    credit = credit_cdr(Cdr.model_validate_json(record.doc), issued_at=now, remark=remark)
    issued = CdrRecord(
        cdr_id=credit.id,
        owner=record.owner,
        created_at=now,
        doc=canonical(wire(credit)),
        credit_of=record.cdr_id,
    )
    if not store.add_cdr(issued):
        raise CreditError(f"{cdr_id!r} was credited already")
    return issued
