"""Linking a new transaction to its command: the store's hints spare the lookup, never a link."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import pytest

from gateway.core.effects import TransactionChanged
from ocpi_bridge.commands import RemoteControl
from ocpi_bridge.translate.commands import NO_REAUTH_WINDOW
from tests.builders import T0
from tests.ocpi_bridge.test_remote_control import SETTINGS, Partner, World, start_body
from tests.remote_site import a_transaction


class FakeHints:
    """``LinkHints`` that answer what the test says and remember what they were asked."""

    def __init__(self, *, nothing: bool) -> None:
        self.nothing = nothing
        self.asked: list[datetime] = []

    def nothing_to_link(self, since: datetime) -> bool:
        self.asked.append(since)
        return self.nothing


def with_hints(world: World, hints: FakeHints) -> RemoteControl:
    return RemoteControl(
        store=world.store,
        transactions=world.transactions,
        site=world.site,
        link=world.link,
        client=world.client,
        partners=world.partners,
        settings=SETTINGS,
        clock=world.clock,
        call_timeout_s=5,
        delivery_delays_s=(0.0, 0.0),
        hints=hints,
    )


@pytest.fixture
async def world() -> AsyncIterator[World]:
    w = World(Partner())
    yield w
    await w.control.stop()
    await w.client.aclose()


async def test_a_start_the_hints_rule_out_spawns_no_lookup(world: World):
    """Nothing recent and nothing held: no task is started for the transaction at all."""
    hints = FakeHints(nothing=True)
    world.control = with_hints(world, hints)
    await world.control.start()
    tx = a_transaction(at=T0 + timedelta(seconds=20))

    world.control.on_effect(TransactionChanged(transaction=tx))

    assert world.control._tasks == set()
    assert hints.asked == [tx.received_at - NO_REAUTH_WINDOW]
    await world.control.idle()
    assert world.store.link_for("AC-0001", "7") is None


async def test_a_start_after_a_command_is_still_linked_with_hints(world: World):
    """When the hints cannot rule a command out, the store is asked and the link is made."""
    hints = FakeHints(nothing=False)
    world.control = with_hints(world, hints)
    await world.control.start()
    await world.control.start_session(world.sender, start_body())
    await world.control.idle()
    tx = a_transaction(at=T0 + timedelta(seconds=20))

    world.control.on_effect(TransactionChanged(transaction=tx))
    world.control.on_effect(TransactionChanged(transaction=tx))  # considered once
    await world.control.idle()

    assert len(hints.asked) == 1
    link = world.store.link_for("AC-0001", "7")
    assert link is not None
    assert link.session_id == "AC-0001-7"
