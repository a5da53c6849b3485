"""Pure: partners' tokens and the site's own -> a charger's local authorisation list.

The list is what lets a charger authorise while it cannot reach the gateway (or the
gateway cannot reach anyone). It holds:

- the site's own tokens (``[[authorization.site_tokens]]``), Accepted;
- partner tokens the eMSP allows to be whitelisted (``ALWAYS``, ``ALLOWED``,
  ``ALLOWED_OFFLINE``): Accepted while ``valid``, Blocked once the eMSP invalidated
  them, so a charger that cached the card earlier refuses it offline as well;
- never ``NEVER`` tokens: every use of those must be asked of the eMSP.

When ``limit`` cuts the list, site tokens come first, then valid partner tokens, newest
first, then Blocked ones. Entries are keyed as the charger tells tokens apart: OCPP 1.6
by the first 20 characters of the idTag, 2.0.1 by token type and value, both
case-insensitively; the first entry for a key wins.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from gateway.config import SiteToken
from gateway.domain.commands import LocalListEntry, SendLocalList
from gateway.domain.tokens import ID_TAG_WIDTH, uid_key
from gateway.domain.transactions import AuthToken, TokenKind
from ocpi_bridge.models.tokens import Token, WhitelistType
from ocpi_bridge.translate.authorization import TOKEN_KIND

SITE_KIND: Mapping[str, TokenKind] = {
    "rfid": TokenKind.RFID,
    "app": TokenKind.CENTRAL,
    "key_code": TokenKind.KEY_CODE,
    "local": TokenKind.LOCAL,
    "contract": TokenKind.CONTRACT,
    "mac_address": TokenKind.MAC_ADDRESS,
}

ACCEPTED = "accepted"
BLOCKED = "blocked"


@dataclass(frozen=True, slots=True, kw_only=True)
class Flavour:
    """How one OCPP version identifies list entries."""

    width: int | None  # idTag characters that count; None: all
    typed: bool  # whether the token type is part of the identity

    def key(self, token: AuthToken) -> str:
        value = uid_key(token.value)[: self.width]
        return f"{token.kind.value}:{value}" if self.typed else value


V16 = Flavour(width=ID_TAG_WIDTH, typed=False)
V201 = Flavour(width=None, typed=True)


def flavour(protocol: str | None) -> Flavour:
    """The flavour for a negotiated subprotocol (``ocpp1.6``, ``ocpp2.0.1``, ``ocpp2.1``)."""
    return V16 if protocol == "ocpp1.6" else V201


def desired_list(
    tokens: Iterable[Token],
    site: Iterable[SiteToken],
    *,
    flavour: Flavour,
    limit: int,
) -> dict[str, LocalListEntry]:
    """The entries a charger's list should hold, keyed for ``flavour``, at most ``limit``."""
    listable = [t for t in tokens if t.whitelist is not WhitelistType.NEVER]
    ordered = [
        *(LocalListEntry(token=AuthToken(value=s.uid, kind=SITE_KIND[s.kind])) for s in site),
        *(
            _entry(t)
            for t in sorted(listable, key=lambda t: t.last_updated, reverse=True)
            if t.valid
        ),
        *(
            _entry(t)
            for t in sorted(listable, key=lambda t: t.last_updated, reverse=True)
            if not t.valid
        ),
    ]
    entries: dict[str, LocalListEntry] = {}
    for entry in ordered:
        if len(entries) >= limit:
            break
        entries.setdefault(flavour.key(entry.token), entry)
    return entries


def _entry(token: Token) -> LocalListEntry:
    return LocalListEntry(
        token=AuthToken(value=token.uid, kind=TOKEN_KIND[token.type]),
        status=ACCEPTED if token.valid else BLOCKED,
        group_id=token.group_id,
    )


def plan_update(
    desired: Mapping[str, LocalListEntry],
    held: Mapping[str, LocalListEntry] | None,
    *,
    version: int,
) -> SendLocalList | None:
    """The update that brings a list at ``version`` holding ``held`` to ``desired``.

    ``held=None`` (unknown content) gives a full update; otherwise a differential one
    with the changed entries and removals (``status=None``), or ``None`` when nothing
    changed. The new version is always ``version + 1`` (and at least 1).
    """
    new_version = max(version, 0) + 1
    if held is None:
        return SendLocalList(version=new_version, full=True, entries=tuple(desired.values()))
    changed = [entry for key, entry in desired.items() if held.get(key) != entry]
    removed = [
        LocalListEntry(token=entry.token, status=None)
        for key, entry in held.items()
        if key not in desired
    ]
    if not changed and not removed:
        return None
    return SendLocalList(version=new_version, full=False, entries=(*changed, *removed))
