"""The pusher's pace: how often it reads the partners and distributes when nobody listens.

A site without partners must not pay a partner read and a database transaction per
commit, yet a partner registering in this process is served at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gateway.domain.partners import PartnerRecord
from gateway.domain.status import EvseStatus
from gateway.storage.keys import TokenKeys
from gateway.storage.partners import MemoryPartners, SqlPartners
from gateway.storage.sql import SqlStore
from ocpi_bridge.push import pusher as pusher_module
from tests.builders import T0, a_settings
from tests.ocpi_bridge.test_pusher import Harness


class CountingPartners(MemoryPartners):
    """Partners in memory that count how often the list was read."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    def partners(self) -> list[PartnerRecord]:
        self.reads += 1
        return super().partners()


@pytest.fixture
async def h(tmp_path: Path) -> AsyncIterator[Harness]:
    settings = a_settings(ocpi={"allow_private_partner_addresses": True})
    harness = Harness(tmp_path, settings)
    counting = CountingPartners()
    harness.partners = counting
    harness.pusher._partners = counting
    harness.pusher.start()
    try:
        yield harness
    finally:
        await harness.pusher.stop()
        await harness.client.aclose()
        harness.store.close()


def outbox_rows(h: Harness) -> int:
    return len(h.store.delivery.take_outbox(100))


def nudged_status(h: Harness, status: EvseStatus) -> None:
    """An EVSE status committed as the gateway commits one: the pusher is nudged."""
    h.status(status, T0)  # this wakes the pusher; the nudge below is what the gateway does
    h.pusher._urgent = False
    h.pusher.nudge()


async def napping(h: Harness) -> None:
    """Two nudged commits with nobody to tell: the pusher is in its idle nap after them."""
    await asyncio.sleep(0.05)
    nudged_status(h, EvseStatus.CHARGING)
    await asyncio.sleep(0.05)
    nudged_status(h, EvseStatus.AVAILABLE)
    await h.until(lambda: h.pusher._idle_nap is not None, timeout_s=2)


async def test_without_partners_the_list_is_read_at_most_once_per_recheck(h: Harness):
    """Forty commits over 0.4 s, none with a recipient: the partners are read twice at most."""
    await asyncio.sleep(0.05)  # the start-up sweep has read them
    partners = h.partners
    assert isinstance(partners, CountingPartners)
    before = partners.reads
    for second in range(40):
        h.status(EvseStatus.CHARGING if second % 2 else EvseStatus.AVAILABLE, T0)
        await asyncio.sleep(0.01)

    assert partners.reads - before <= 1 + int(0.4 / pusher_module.RECHECK_PARTNERS_S)


async def test_without_partners_nudged_changes_are_still_dropped_from_the_outbox(h: Harness):
    """Nobody listens: the outbox rows go within the idle pace, not one pass per commit."""
    await napping(h)
    await h.until(lambda: outbox_rows(h) == 0, timeout_s=pusher_module.IDLE_DISTRIBUTE_S + 2)


async def test_a_wake_ends_the_idle_nap_at_once(h: Harness):
    """``wake`` (a transaction ended: its CDR is queued or not) does not wait for the pace."""
    await napping(h)
    h.status(EvseStatus.CHARGING, T0)

    await h.until(lambda: outbox_rows(h) == 0, timeout_s=pusher_module.IDLE_DISTRIBUTE_S / 2)


async def test_a_partner_registering_in_this_process_is_served_at_once(h: Harness):
    """While the pusher naps (nobody to push to), ``partners_changed`` starts a pass now."""
    await napping(h)
    h.register()
    h.pusher.partners_changed()

    await h.until(lambda: len(h.partner.calls) >= 3, timeout_s=pusher_module.IDLE_DISTRIBUTE_S / 2)


async def test_partners_changed_from_a_worker_thread_reaches_the_loop(h: Harness):
    """The registrar writes partners in worker threads: the call is safe from there."""
    await napping(h)
    h.register()
    await asyncio.to_thread(h.pusher.partners_changed)

    await h.until(lambda: len(h.partner.calls) >= 3, timeout_s=pusher_module.IDLE_DISTRIBUTE_S / 2)


def test_partners_changed_before_start_only_marks_the_list_stale(tmp_path: Path):
    """Before ``start`` there is no loop to wake: the next pass reads the partners anyway."""
    harness = Harness(tmp_path, a_settings())
    try:
        harness.pusher.partners_changed()
        assert harness.pusher._stale
    finally:
        harness.store.close()


def test_the_partner_store_reports_every_change_even_a_failed_one(tmp_path: Path):
    """Register, remove and the rest tell the listener, whether or not they succeed."""
    store = SqlStore(f"sqlite:///{tmp_path / 'gateway.db'}")
    store.open()
    try:
        partners = SqlPartners(store.engine, TokenKeys(b"k" * 32))
        told: list[str] = []
        partners.on_change = lambda: told.append("changed")
        assert partners.remove("nobody") is False
        with pytest.raises(Exception):  # noqa: B017, PT011 - the store's own error
            partners.register(999, None, our_roles=(), token="t", now=T0)  # type: ignore[arg-type]
        with pytest.raises(Exception):  # noqa: B017, PT011
            partners.complete_connection(999, None, our_roles=(), now=T0)  # type: ignore[arg-type]
        with pytest.raises(Exception):  # noqa: B017, PT011
            partners.update_link(999, None, now=T0)  # type: ignore[arg-type]
        partners.begin_connection("emsp", "token-a-123456", now=T0, stale_before=T0)
        partners.on_change = None
        assert partners.remove("nobody") is False

        assert told == ["changed"] * 5
    finally:
        store.close()
