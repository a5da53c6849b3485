"""Local lists: a boot storm reads the listable tokens once, and a token change reads again."""

from __future__ import annotations

import asyncio
from typing import Any

from ocpi_bridge.local_lists import LocalLists
from ocpi_bridge.translate.local_list import V16, V201
from tests.builders import T0, a_settings


class CountingTokens:
    """A token store with no tokens that counts how often the listable ones are read."""

    def __init__(self) -> None:
        self.reads = 0

    def listable_tokens(self) -> list[Any]:
        self.reads += 1
        return []


def lists(store: CountingTokens) -> LocalLists:
    return LocalLists(
        store=store,  # type: ignore[arg-type]
        link=None,  # type: ignore[arg-type]
        chargers=[],
        state_of=None,  # type: ignore[arg-type]
        connection_of=lambda _: None,
        settings=a_settings(),
        clock=lambda: T0,
    )


async def test_chargers_syncing_together_share_one_read_per_generation():
    """Fifty syncs at once, of both flavours, read the tokens once; after a change, again."""
    store = CountingTokens()
    local = lists(store)

    await asyncio.gather(*(local._desired_for(fl) for _ in range(25) for fl in (V16, V201)))
    assert store.reads == 2  # one per flavour: a flavour keys its own list

    await asyncio.gather(*(local._desired_for(V16) for _ in range(10)))
    assert store.reads == 2

    local.changed()
    await asyncio.gather(*(local._desired_for(V16) for _ in range(10)))
    assert store.reads == 3
