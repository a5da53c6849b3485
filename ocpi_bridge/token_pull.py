"""Adapter: pulling partners' tokens from their Tokens sender (mod_tokens §Pull model).

A partner whose endpoints include a ``tokens`` SENDER (2.2.1, or 2.1.1's role-less
``tokens``: 2.1.1 Tokens belong to the partner's one party) is pulled soon after it
registers (its first pull asks for everything) and then every
``ocpi.token_pull_interval_min`` minutes, asking only for tokens updated since the
last complete pull began (less a margin for clock skew). Pages are followed through
their ``Link`` headers. A token that does not parse, or belongs to a party the partner
does not own, is skipped and counted; a stored token newer than the pulled one is kept.
A pull that fails part-way is repeated whole at the next run.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from pydantic import ValidationError

from gateway.config import Settings
from gateway.domain.partners import PartnerRecord, PartnerState
from gateway.ports import Clock
from ocpi_bridge.models.common import format_datetime
from ocpi_bridge.models.tokens import Token
from ocpi_bridge.models.v211 import V211Token
from ocpi_bridge.ports import PartnerStore
from ocpi_bridge.push.client import OcpiClient, Target
from ocpi_bridge.status import PartnerError
from ocpi_bridge.tokens import TokenCache
from ocpi_bridge.translate.v211_tokens import from_v211_token

log = logging.getLogger(__name__)

#: ``date_from`` reaches back this far before the last pull began: clocks differ.
CLOCK_MARGIN = timedelta(minutes=5)


class TokenPuller:
    """Pulls each partner's tokens when due."""

    def __init__(
        self,
        *,
        tokens: TokenCache,
        partners: PartnerStore,
        client: OcpiClient,
        settings: Settings,
        clock: Clock,
    ) -> None:
        self._tokens = tokens
        self._partners = partners
        self._client = client
        self._interval = timedelta(minutes=settings.ocpi.token_pull_interval_min)
        self._clock = clock
        self._lock = asyncio.Lock()

    async def pull_due(self) -> int:
        """Pull every partner that was never pulled or whose interval has passed."""
        async with self._lock:
            pulled = 0
            now = self._clock()
            for record in await asyncio.to_thread(self._partners.partners):
                if _tokens_url(record) is None:
                    continue
                last = await asyncio.to_thread(self._tokens.store.last_pull, record.name)
                if last is not None and (not self._interval or now - last < self._interval):
                    continue
                if await self.pull(record):
                    pulled += 1
            return pulled

    async def pull(self, record: PartnerRecord) -> bool:
        """Pull one partner's tokens; True when every page arrived and was stored."""
        url = _tokens_url(record)
        if url is None or record.link is None:
            return False
        started = self._clock()
        last = await asyncio.to_thread(self._tokens.store.last_pull, record.name)
        params = {} if last is None else {"date_from": format_datetime(last - CLOCK_MARGIN)}
        stored = skipped = 0
        try:
            async for page in self._client.pages(
                Target.of(record.link), url, module="tokens", params=params
            ):
                good = []
                for item in page:
                    try:
                        token = _token(item, record)
                    except ValidationError:
                        skipped += 1
                        continue
                    if not record.owns(token.country_code, token.party_id):
                        skipped += 1
                        continue
                    good.append(token)
                stored += await self._tokens.put_many(good)
        except PartnerError as exc:
            log.warning(
                "token pull from %s failed (%d stored so far): %s", record.name, stored, exc
            )
            return False
        await asyncio.to_thread(self._tokens.store.record_pull, record.name, started)
        log.info(
            "token pull from %s: %d stored, %d skipped%s",
            record.name,
            stored,
            skipped,
            "" if last is None else f", since {format_datetime(last - CLOCK_MARGIN)}",
        )
        return True


def _token(item: object, record: PartnerRecord) -> Token:
    """A pulled item as stored; a 2.1.1 Token belongs to the partner's (single) party."""
    if record.link is not None and record.link.version == "2.1.1" and record.roles:
        role = record.roles[0]
        return from_v211_token(
            V211Token.model_validate(item),
            country_code=role.country_code,
            party_id=role.party_id,
        )
    return Token.model_validate(item)


def _tokens_url(record: PartnerRecord) -> str | None:
    link = record.link
    if record.state is not PartnerState.REGISTERED or link is None:
        return None
    if link.version not in ("2.2.1", "2.1.1"):
        return None
    endpoint = link.endpoint("tokens", "SENDER")
    return None if endpoint is None else endpoint.url
