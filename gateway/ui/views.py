"""Adapter helpers: the body of each operator page, from data already read (no I/O here).

Each function takes what its page shows (configuration, stored rows, in-memory
connection facts, ``now``) and returns escaped HTML, so the pages can be tested by
value and the routes only fetch and assemble.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from urllib.parse import quote

from gateway.config import ChargerSettings, EvseSettings, LocationSettings, Settings
from gateway.domain.billing import (
    CdrDelivery,
    CdrPage,
    CdrSummary,
    Cost,
    DeliveryState,
    Unbilled,
    UnbilledPage,
)
from gateway.domain.ids import ChargerId, EvseUid
from gateway.domain.meter import EnergyFlagCode
from gateway.domain.partners import InvitationRecord, PartnerRecord
from gateway.domain.state import ChargerState, PublishedEvse
from gateway.domain.status import EvseStatus
from gateway.domain.topology import ConnectorRef
from gateway.domain.transactions import AuthToken, Transaction, TxFlag
from gateway.ports import LiveConnection, MessageRecord, PartnerDelivery
from gateway.ui import plot
from gateway.ui.html import (
    ago,
    button_form,
    duration,
    esc,
    kw,
    kwh,
    status_badge,
    table,
    when,
)


def ocpi_status(status: EvseStatus | None) -> str:
    """The OCPI spelling of an EVSE status; EVSEs never reported are UNKNOWN."""
    return "UNKNOWN" if status is None else status.value.upper().replace("_", "")


def mask(kind: str, value: str) -> str:
    """A token without the secret: its kind and at most its last 4 characters."""
    tail = value[-4:] if len(value) >= 8 else ""
    return f"{kind.lower()} ••••{tail}"


def masked(token: AuthToken | None) -> str:
    """Who is charging, without the secret: the token kind and at most its last 4 characters."""
    return "no token" if token is None else mask(token.kind.value, token.value)


def who(tx: Transaction) -> str:
    source = f" via {tx.auth_source}" if tx.auth_source else ""
    return esc(masked(tx.token) + source)


def session_href(tx: Transaction) -> str:
    return f"/sessions/{quote(tx.charger_id, safe='')}/{quote(tx.tx_id, safe='')}"


def charger_href(charger_id: str) -> str:
    return f"/chargers/{quote(charger_id, safe='')}"


def live_energy_wh(tx: Transaction) -> Decimal:
    """Energy so far: the billed value once ended, else the highest register minus the start.

    The highest, not the latest by timestamp: a charger with a wrong clock can date its
    newest sample before older ones, and an import register only grows.
    """
    if tx.ended:
        return tx.energy_wh
    points = plot.points(tx.samples, meter_start_wh=tx.meter_start_wh)
    energies = [p.energy_wh for p in points if p.energy_wh is not None]
    return max(energies) if energies else tx.energy_wh


def live_power_w(tx: Transaction) -> Decimal | None:
    powers = [p for s in tx.samples if (p := plot.power_w(s)) is not None]
    return powers[-1] if powers else None


# --- board -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class SiteNow:
    """Everything the board shows, read at one moment."""

    settings: Settings
    statuses: Mapping[EvseUid, PublishedEvse]
    states: Mapping[ChargerId, ChargerState]
    live: Mapping[ChargerId, LiveConnection]
    last_heard: Mapping[ChargerId, datetime]
    now: datetime


def _connection(site: SiteNow, charger_id: str) -> str:
    conn = site.live.get(ChargerId(charger_id))
    heard = site.last_heard.get(ChargerId(charger_id))
    if conn is not None:
        state = f'<span class="conn online">online</span> {esc(conn.protocol)}'
    else:
        since = site.states.get(ChargerId(charger_id))
        gone = since.since if since is not None and not since.connected else None
        state = '<span class="conn offline">offline</span>'
        if gone is not None:
            state += f" since {ago(site.now, gone)}"
    return f"{state} · last message {ago(site.now, heard)}"


def _active(site: SiteNow, evse: EvseSettings) -> Transaction | None:
    state = site.states.get(ChargerId(evse.charger))
    if state is None:
        return None
    return next(
        (t for t in state.transactions.values() if not t.ended and t.evse_uid == evse.uid), None
    )


def _connector_status(site: SiteNow, evse: EvseSettings, ocpp_connector: int) -> str:
    state = site.states.get(ChargerId(evse.charger))
    if state is None:
        return "—"
    version_16 = evse.ocpp_evse_id is None
    ref = ConnectorRef(evse=None if version_16 else evse.ocpp_evse_id, connector=ocpp_connector)
    report = state.connectors.get(ref)
    return "not reported" if report is None else report.status.value


def _evse_card(site: SiteNow, evse: EvseSettings) -> str:
    published = site.statuses.get(EvseUid(evse.uid))
    status = ocpi_status(published.status if published else None)
    connectors = "".join(
        f"<li>{esc(c.id)} · {esc(c.standard.value)} {esc(c.format)} · "
        f"{esc(kw(Decimal(c.max_electric_power)) if c.max_electric_power else c.power_type)} · "
        f"charger reports <b>{esc(_connector_status(site, evse, c.ocpp_connector_id))}</b></li>"
        for c in evse.connectors
    )
    tx = _active(site, evse)
    session = ""
    if tx is not None:
        session = (
            f'<p class="session">Charging: {who(tx)} · {esc(kw(live_power_w(tx)))} · '
            f"{esc(kwh(live_energy_wh(tx)))} · {esc(duration(site.now - tx.started_at))} "
            f'<a href="{esc(session_href(tx))}">plot</a></p>'
        )
    changed = ago(site.now, published.last_updated) if published else "—"
    return (
        f'<article class="evse" data-evse="{esc(evse.uid)}" data-status="{esc(status)}">'
        f'<div class="evse-head">{status_badge(status)} <b>{esc(evse.evse_id or evse.uid)}</b>'
        f' <span class="muted">{esc(evse.uid)} · status changed {changed}</span></div>'
        f'<p class="charger"><a href="{esc(charger_href(evse.charger))}">{esc(evse.charger)}</a>'
        f" · {_connection(site, evse.charger)}</p>"
        f'<ul class="connectors">{connectors}</ul>{session}</article>'
    )


def _location(site: SiteNow, loc: LocationSettings) -> str:
    cards = "".join(_evse_card(site, evse) for evse in loc.evses)
    where = ", ".join(x for x in (loc.address, loc.city) if x)
    return (
        f'<section class="location" data-location="{esc(loc.id)}">'
        f"<h2>{esc(loc.name or loc.id)} <small>{esc(loc.id)} · {esc(where)}</small></h2>"
        f'<div class="evses">{cards or "<p class=empty>No EVSEs.</p>"}</div></section>'
    )


def board(site: SiteNow) -> str:
    """The live board: a summary line, then each Location with its EVSEs and connectors."""
    counts: dict[str, int] = {}
    for loc in site.settings.locations:
        for evse in loc.evses:
            published = site.statuses.get(EvseUid(evse.uid))
            key = ocpi_status(published.status if published else None)
            counts[key] = counts.get(key, 0) + 1
    chargers = [c.id for c in site.settings.chargers]
    online = sum(1 for c in chargers if ChargerId(c) in site.live)
    active = sum(1 for s in site.states.values() for t in s.transactions.values() if not t.ended)
    summary = " · ".join(f"{n} {esc(k)}" for k, n in sorted(counts.items())) or "no EVSEs"
    unknown = [cid for cid, conn in site.live.items() if not conn.known]
    extra = ""
    if unknown:
        extra = (
            '<p class="msg warn">Connected but not configured (commissioning): '
            + ", ".join(esc(c) for c in sorted(unknown))
            + "</p>"
        )
    locations = "".join(_location(site, loc) for loc in site.settings.locations)
    return (
        f'<div id="board" data-live="/board/live">'
        f'<p class="summary">{summary} · {online}/{len(chargers)} chargers online · '
        f"{active} sessions active · updated {esc(site.now.strftime('%H:%M:%S'))} UTC</p>"
        f"{extra}{locations or '<p class=empty>No locations configured.</p>'}</div>"
    )


# --- chargers --------------------------------------------------------------------------


def _boot(state: ChargerState | None, cfg: ChargerSettings | None) -> tuple[str, str, str]:
    if state is not None and state.boot is not None:
        return state.boot.vendor, state.boot.model, state.boot.firmware_version or "—"
    vendor = (cfg.vendor if cfg else None) or "—"
    model = (cfg.model if cfg else None) or "—"
    return vendor, model, "—"


def charger_ids(settings: Settings, site: SiteNow) -> list[str]:
    configured = [c.id for c in settings.chargers]
    others = sorted({*site.states, *site.live} - set(configured))
    return [*configured, *others]


def chargers(site: SiteNow, oddities: Mapping[str, int]) -> str:
    rows = []
    for charger_id in charger_ids(site.settings, site):
        cfg = site.settings.charger(charger_id)
        state = site.states.get(ChargerId(charger_id))
        vendor, model, firmware = _boot(state, cfg)
        profile = str(cfg.security_profile) if cfg else "not configured"
        n = oddities.get(charger_id, 0)
        rows.append(
            (
                f'<a href="{esc(charger_href(charger_id))}">{esc(charger_id)}</a>',
                _connection(site, charger_id),
                esc(cfg.ocpp_version.value if cfg else "—"),
                f"{esc(vendor)} {esc(model)}",
                esc(firmware),
                esc(profile),
                f'<span class="flag">{n}</span>' if n else "0",
            )
        )
    return table(
        (
            "Charger",
            "Connection",
            "OCPP",
            "Vendor / model",
            "Firmware",
            "Security profile",
            "Oddities",
        ),
        rows,
        empty="No chargers configured.",
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class ChargerDetail:
    """What one charger's page shows besides the board facts."""

    charger_id: str
    messages: Sequence[MessageRecord]
    notes: Sequence[tuple[str, str]]
    parked: Sequence[tuple[str, str, str, str]]
    flagged: Sequence[Transaction]
    result: str = ""  # the outcome of a command just sent, already HTML


def oddities(
    notes: Sequence[tuple[str, str]],
    parked: Sequence[tuple[str, str, str, str]],
    flagged: Sequence[Transaction],
) -> int:
    return len(parked) + len(flagged) + sum(1 for kind, _ in notes if kind.startswith("meter:"))


def flagged_transactions(txs: Iterable[Transaction]) -> list[Transaction]:
    """Transactions with anything an operator should look at (resets, odd events)."""
    return [t for t in txs if t.flags or t.energy_flags]


def _connector_choices(site: SiteNow, charger_id: str) -> list[tuple[str, str]]:
    """(form value, label) of each connector of the charger the configuration maps."""
    out = []
    for loc in site.settings.locations:
        for evse in loc.evses:
            if evse.charger != charger_id:
                continue
            for c in evse.connectors:
                value = f"{evse.ocpp_evse_id or ''}:{c.ocpp_connector_id}"
                out.append((value, f"{evse.evse_id or evse.uid} connector {c.id}"))
    return out


def _commands(site: SiteNow, charger_id: str) -> str:
    action = charger_href(charger_id) + "/commands"
    buttons = [
        button_form(action, "Soft reset", {"command": "reset_soft"}, confirm="Soft reset?"),
        button_form(action, "Hard reset", {"command": "reset_hard"}, confirm="Hard reset?"),
        button_form(action, "Make unavailable", {"command": "unavailable", "connector": ""}),
        button_form(action, "Make available", {"command": "available", "connector": ""}),
    ]
    for value, label in _connector_choices(site, charger_id):
        buttons.append(
            button_form(
                action,
                f"Unlock {label}",
                {"command": "unlock", "connector": value},
                confirm=f"Unlock {label}?",
            )
        )
    return '<div class="commands">' + "".join(buttons) + "</div>"


def charger(site: SiteNow, detail: ChargerDetail) -> str:
    charger_id = detail.charger_id
    cfg = site.settings.charger(charger_id)
    state = site.states.get(ChargerId(charger_id))
    vendor, model, firmware = _boot(state, cfg)
    serial = state.boot.serial_number if state and state.boot else None
    facts = [
        ("Connection", _connection(site, charger_id)),
        ("OCPP version", esc(cfg.ocpp_version.value if cfg else "not configured")),
        ("Vendor / model", f"{esc(vendor)} {esc(model)}"),
        ("Firmware", esc(firmware)),
        ("Serial number", esc(serial or "—")),
        ("Security profile", esc(cfg.security_profile if cfg else "not configured")),
        ("Booted", when(state.boot.at) if state and state.boot else "—"),
    ]
    dl = "".join(f"<dt>{esc(k)}</dt><dd>{v}</dd>" for k, v in facts)
    messages = table(
        ("Time", "Dir", "Action", "Message id", "Outcome"),
        (
            (
                when(m.at),
                esc("charger → us" if m.direction == "in" else "us → charger"),
                esc(m.action),
                f"<code>{esc(m.message_id)}</code>",
                esc(m.outcome),
            )
            for m in reversed(detail.messages)
        ),
        empty="No messages since the gateway started.",
    )
    notes = table(
        ("Kind", "What"),
        ((esc(kind), esc(text)) for kind, text in reversed(detail.notes)),
        empty="Nothing noted.",
    )
    parked = table(
        ("Transaction", "Event", "Why"),
        ((esc(tx), esc(kind), esc(reason)) for _, tx, kind, reason in detail.parked),
        empty="No unmatched transaction events.",
    )
    flagged = table(
        ("Session", "Flags"),
        (
            (
                f'<a href="{esc(session_href(t))}">{esc(t.tx_id)}</a>',
                esc(", ".join(_flag_texts(t))),
            )
            for t in detail.flagged
        ),
        empty="No flagged sessions.",
    )
    return (
        f"{detail.result}"
        f'<dl class="facts" data-charger="{esc(charger_id)}">{dl}</dl>'
        f"<h2>Commands</h2>{_commands(site, charger_id)}"
        f"<h2>Recent OCPP messages</h2>{messages}"
        f"<h2>Oddities</h2><h3>Sessions</h3>{flagged}"
        f"<h3>Unmatched transaction events</h3>{parked}<h3>Notes</h3>{notes}"
    )


def _flag_texts(tx: Transaction) -> list[str]:
    texts = [_FLAG_TEXT.get(f, f.value) for f in sorted(tx.flags)]
    texts += [_ENERGY_TEXT.get(f.code, f.code.value) for f in tx.energy_flags]
    return texts


_FLAG_TEXT = {
    TxFlag.UNKNOWN_EVSE: "connector not mapped to an EVSE",
    TxFlag.STARTED_IMPLICITLY: "start never received",
    TxFlag.CLOCK_SUSPECT: "charger clock unusable",
    TxFlag.SEQUENCE_GAP: "messages missing",
    TxFlag.LATE_EVENT: "event after the end",
    TxFlag.AUTH_REJECTED: "token refused at the start (not billed)",
}
_ENERGY_TEXT = {
    EnergyFlagCode.REGISTER_RESET: "meter reset",
    EnergyFlagCode.REGISTER_JUMP: "meter jump",
    EnergyFlagCode.STOP_BELOW_START: "stop below start",
    EnergyFlagCode.IMPLAUSIBLE_ENERGY: "implausible energy",
}


# --- sessions and CDRs -----------------------------------------------------------------


def sessions(
    txs: Sequence[Transaction], live: Mapping[tuple[str, str], Transaction], now: datetime
) -> str:
    """Running and finished sessions, newest first; running ones with live figures."""
    rows = []
    for stored in txs:
        tx = live.get((stored.charger_id, stored.tx_id), stored)
        running = not tx.ended
        span = (now if running else (tx.stopped_at or now)) - tx.started_at
        rows.append(
            (
                status_badge("CHARGING" if running else "FINISHED"),
                f'<a href="{esc(session_href(tx))}">{esc(tx.charger_id)} / {esc(tx.tx_id)}</a>',
                esc(tx.evse_uid or "—"),
                when(tx.started_at),
                esc(duration(span)),
                esc(kwh(live_energy_wh(tx))),
                esc(kw(live_power_w(tx)) if running else "—"),
                who(tx),
                esc(", ".join(_flag_texts(tx)) or "—"),
            )
        )
    return table(
        ("Status", "Session", "EVSE", "Started", "Duration", "Energy", "Power", "Who", "Flags"),
        rows,
        empty="No sessions yet.",
    )


def session(tx: Transaction, now: datetime) -> str:
    running = not tx.ended
    facts = [
        ("Status", status_badge("CHARGING" if running else "FINISHED")),
        ("Charger", f'<a href="{esc(charger_href(tx.charger_id))}">{esc(tx.charger_id)}</a>'),
        ("EVSE", esc(tx.evse_uid or "—")),
        ("Who", who(tx)),
        ("Started", when(tx.started_at)),
        ("Stopped", when(tx.stopped_at)),
        ("Stop reason", esc(tx.stop_reason or "—")),
        ("Energy", esc(kwh(live_energy_wh(tx)))),
        ("Meter start / stop", esc(f"{_wh(tx.meter_start_wh)} / {_wh(tx.meter_stop_wh)}")),
        ("Samples", esc(len(tx.samples))),
        ("Flags", esc(", ".join(_flag_texts(tx)) or "—")),
    ]
    dl = "".join(f"<dt>{esc(k)}</dt><dd>{v}</dd>" for k, v in facts)
    drawing = plot.svg(
        plot.points(tx.samples, meter_start_wh=tx.meter_start_wh, started_at=tx.started_at)
    )
    return f'<dl class="facts">{dl}</dl><figure class="chart">{drawing}</figure>'


def _wh(value: Decimal | None) -> str:
    return "—" if value is None else f"{value} Wh"


# --- CDRs ------------------------------------------------------------------------------


def _money(cost: Cost | None) -> str:
    if cost is None:
        return "—"
    incl = "" if cost.incl_vat is None else f" / {cost.incl_vat:f}"
    return f"{cost.excl_vat:f}{incl}"


def _hours(value: Decimal | None) -> str:
    return "—" if value is None else f"{value:f} h"


def _delivery(d: CdrDelivery, now: datetime) -> str:
    who = esc(d.partner)
    match d.state:
        case DeliveryState.ACKNOWLEDGED:
            return f'<span class="ok">acknowledged</span> by {who} {ago(now, d.acknowledged_at)}'
        case DeliveryState.WAITING:
            tries = f", {d.attempts} failed" if d.attempts else ""
            error = f": {esc(d.last_error)}" if d.last_error else ""
            return (
                f'<span class="flag">waiting</span> for {who} since '
                f"{ago(now, d.waiting_since)}{esc(tries)}{error}"
            )
    return f"not sent to {who}"


def delivery_cell(c: CdrSummary, now: datetime) -> str:
    """Where the CDR is on its way to the partner, one line per partner copy."""
    if c.deliveries:
        return "<br>".join(_delivery(d, now) for d in c.deliveries)
    if c.queued_since is not None:
        return f"queued {ago(now, c.queued_since)}"
    return '<span class="muted">for the partner to fetch (GET /cdrs): no pushes</span>'


def _session_link(c: CdrSummary) -> str:
    if c.charger_id is None or c.tx_id is None:
        return "—"
    href = f"/sessions/{quote(c.charger_id, safe='')}/{quote(c.tx_id, safe='')}"
    return f'<a href="{esc(href)}">{esc(c.charger_id)} / {esc(c.tx_id)}</a>'


def _breakdown(c: CdrSummary) -> str:
    parts = (
        ("energy", c.energy_cost),
        ("time", c.time_cost),
        ("parking", c.parking_cost),
        ("fixed", c.fixed_cost),
        ("reservation", c.reservation_cost),
    )
    # Zero amounts are left out here (the CSV keeps them): most tariffs price one dimension.
    shown = [f"{name} {esc(_money(cost))}" for name, cost in parts if cost and cost.excl_vat]
    return "<br>".join(shown) or "—"


def _cdr_row(c: CdrSummary, now: datetime) -> tuple[str, ...]:
    credit = f'<br><span class="flag">credit of {esc(c.credit_of)}</span>' if c.credit_of else ""
    partner = esc(c.partner or "no partner holds this party")
    place = esc(c.location_name or c.location_id)
    return (
        f"<code>{esc(c.cdr_id)}</code>{credit}<br>{_session_link(c)}",
        f"{partner}<br>{esc('/'.join(c.owner))}",
        delivery_cell(c, now),
        f"{when(c.start)}<br>{when(c.end)}",
        f"{place}<br>{esc(c.evse_id)} · connector {esc(c.connector_id)}",
        esc(mask(c.token_type, c.token_uid)),
        esc(f"{c.energy_kwh:f} kWh"),
        esc(_hours(c.time_h))
        + (f"<br>parking {esc(_hours(c.parking_time_h))}" if c.parking_time_h else ""),
        _breakdown(c),
        f"<b>{esc(c.currency)} {esc(_money(c.total_cost))}</b>",
        esc(", ".join(c.tariff_ids) or "—"),
    )


CDR_HEADERS = (
    "CDR / session",
    "Partner",
    "Delivery",
    "Start / end",
    "Where",
    "Token",
    "Energy",
    "Time",
    "Costs (excl. / incl. VAT)",
    "Total (excl. / incl. VAT)",
    "Tariff",
)


def unbilled_reason(u: Unbilled) -> str:
    """Why a finished transaction has no CDR, in the operator's words."""
    tx, seal = u.transaction, u.seal
    if TxFlag.UNKNOWN_EVSE in tx.flags or (seal is not None and seal.site is None):
        return "EVSE not configured: nothing is billed"
    if tx.token is None:
        return "no token (free vend): nobody to bill"
    if seal is None:
        return "never sealed: delivery was not running when it started"
    if seal.owner is None:
        return "site token: no partner to bill"
    return "CDR not built yet: the gateway retries"


def _unbilled_row(u: Unbilled) -> tuple[str, ...]:
    t = u.transaction
    return (
        f'<a href="{esc(session_href(t))}">{esc(t.charger_id)} / {esc(t.tx_id)}</a>',
        esc(t.evse_uid or "—"),
        f"{when(t.started_at)}<br>{when(t.stopped_at)}",
        esc(kwh(t.energy_wh)),
        who(t),
        esc(unbilled_reason(u)),
    )


def pager(
    path: str, param: str, page: int, size: int, total: int, others: Mapping[str, int]
) -> str:
    """Newer / older links for a newest-first list of ``total`` items, ``size`` a page."""
    last = max(0, (total - 1) // size)
    if last == 0:
        return ""

    def href(n: int) -> str:
        query = "&".join(f"{k}={v}" for k, v in sorted({**others, param: n}.items()) if v)
        return esc(f"{path}?{query}" if query else path)

    links = []
    if page > 0:
        links.append(f'<a class="button" href="{href(page - 1)}">Newer</a>')
    links.append(f"<span> page {page + 1} of {last + 1} </span>")
    if page < last:
        links.append(f'<a class="button" href="{href(page + 1)}">Older</a>')
    return f'<p class="pager">{"".join(links)}</p>'


@dataclass(frozen=True, slots=True, kw_only=True)
class CdrListing:
    """What the CDR page shows: a page of CDRs and a page of unbilled sessions."""

    cdrs: CdrPage
    unbilled: UnbilledPage
    page: int = 0
    unbilled_page: int = 0
    page_size: int = 50
    now: datetime


def cdrs(listing: CdrListing) -> str:
    """CDRs newest first with costs, partner and delivery; then sessions nobody is billed for."""
    size = listing.page_size
    at = {"page": listing.page, "unbilled": listing.unbilled_page}
    n = listing.cdrs.total
    links = (
        '<p><a class="button" href="/cdrs.csv" download>Download CDRs (CSV)</a> '
        '<a class="button" href="/cdrs/unbilled.csv" download>'
        "Download unbilled sessions (CSV)</a></p>"
    )
    head = f'<p class="summary">{n} CDR{"" if n == 1 else "s"}, newest first.</p>'
    listed = table(
        CDR_HEADERS,
        (_cdr_row(c, listing.now) for c in listing.cdrs.items),
        empty="No CDRs on this page."
        if listing.page
        else "No CDRs yet: a CDR is made when a session with a partner's token ends.",
    )
    m = listing.unbilled.total
    unbilled = table(
        ("Session", "EVSE", "Start / stop", "Energy", "Who", "Why no CDR"),
        (_unbilled_row(u) for u in listing.unbilled.items),
        empty="No sessions on this page."
        if listing.unbilled_page
        else "Every finished session is billed to a partner.",
    )
    return (
        f'{links}{head}<div class="cdrs">{listed}</div>'
        f"{pager('/cdrs', 'page', listing.page, size, n, at)}"
        f"<h2>Finished sessions not billed to a partner <small>{m}</small></h2>"
        '<p class="muted">Site tokens, free vend, unconfigured EVSEs and CDRs still being '
        "built: energy was delivered, no partner is invoiced.</p>"
        f"{unbilled}{pager('/cdrs', 'unbilled', listing.unbilled_page, size, m, at)}"
    )


CSV_COLUMNS = (
    "cdr_id",
    "session_id",
    "credit_of",
    "partner",
    "country_code",
    "party_id",
    "delivery",
    "acknowledged_at",
    "waiting_since",
    "last_error",
    "start",
    "end",
    "charger_id",
    "transaction_id",
    "location_id",
    "evse_uid",
    "evse_id",
    "connector_id",
    "token",
    "energy_kwh",
    "time_h",
    "parking_time_h",
    "currency",
    "total_cost_excl_vat",
    "total_cost_incl_vat",
    "energy_cost_excl_vat",
    "energy_cost_incl_vat",
    "time_cost_excl_vat",
    "time_cost_incl_vat",
    "parking_cost_excl_vat",
    "parking_cost_incl_vat",
    "fixed_cost_excl_vat",
    "fixed_cost_incl_vat",
    "reservation_cost_excl_vat",
    "reservation_cost_incl_vat",
    "tariff_ids",
)


def _cell(value: object) -> str:
    """A CSV cell a spreadsheet will not run as a formula (charger-supplied text).

    Numbers are written by ``_number`` and never pass here: a credit's ``-4.00`` stays
    a number.
    """
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _number(value: Decimal | None) -> str:
    return "" if value is None else f"{value:f}"


def _iso(moment: datetime | None) -> str:
    return "" if moment is None else moment.isoformat()


def _costs(cost: Cost | None) -> list[str]:
    return ["", ""] if cost is None else [_number(cost.excl_vat), _number(cost.incl_vat)]


def delivery_state(c: CdrSummary) -> str:
    """One word for the CSV: acknowledged (by all), waiting, not sent, queued or pull."""
    states = {d.state for d in c.deliveries}
    if DeliveryState.WAITING in states:
        return DeliveryState.WAITING.value
    if DeliveryState.NOT_SENT in states:
        return DeliveryState.NOT_SENT.value
    if states:
        return DeliveryState.ACKNOWLEDGED.value
    return "queued" if c.queued_since is not None else "pull"


def _csv_text(rows: Iterable[Sequence[str]]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    return out.getvalue()


def cdrs_csv_header() -> str:
    return _csv_text([CSV_COLUMNS])


def cdrs_csv_rows(items: Iterable[CdrSummary]) -> str:
    """CSV lines, one per CDR, amounts as exact decimal strings, the token masked."""
    rows = []
    for c in items:
        acked = [d.acknowledged_at for d in c.deliveries if d.acknowledged_at is not None]
        waiting = [d.waiting_since for d in c.deliveries if d.waiting_since is not None]
        error = next((d.last_error for d in c.deliveries if d.last_error), None)
        rows.append(
            [
                _cell(c.cdr_id),
                _cell(c.session_id),
                _cell(c.credit_of),
                _cell(c.partner),
                _cell(c.owner[0]),
                _cell(c.owner[1]),
                delivery_state(c),
                _iso(max(acked, default=None)),
                _iso(min(waiting, default=None)),
                _cell(error),
                _iso(c.start),
                _iso(c.end),
                _cell(c.charger_id),
                _cell(c.tx_id),
                _cell(c.location_id),
                _cell(c.evse_uid),
                _cell(c.evse_id),
                _cell(c.connector_id),
                _cell(mask(c.token_type, c.token_uid)),
                _number(c.energy_kwh),
                _number(c.time_h),
                _number(c.parking_time_h),
                _cell(c.currency),
                *_costs(c.total_cost),
                *_costs(c.energy_cost),
                *_costs(c.time_cost),
                *_costs(c.parking_cost),
                *_costs(c.fixed_cost),
                *_costs(c.reservation_cost),
                _cell(";".join(c.tariff_ids)),
            ]
        )
    return _csv_text(rows)


UNBILLED_CSV_COLUMNS = (
    "charger_id",
    "transaction_id",
    "evse_uid",
    "started_at",
    "stopped_at",
    "energy_kwh",
    "token",
    "auth_source",
    "stop_reason",
    "flags",
    "reason",
)


def unbilled_csv_header() -> str:
    return _csv_text([UNBILLED_CSV_COLUMNS])


def unbilled_csv_rows(items: Iterable[Unbilled]) -> str:
    """CSV lines, one per finished session without a CDR, with the reason."""
    return _csv_text(
        [
            _cell(u.transaction.charger_id),
            _cell(u.transaction.tx_id),
            _cell(u.transaction.evse_uid),
            _iso(u.transaction.started_at),
            _iso(u.transaction.stopped_at),
            f"{u.transaction.energy_wh / 1000:.3f}",  # Wh registers: exact to 3 places
            _cell(masked(u.transaction.token)),
            _cell(u.transaction.auth_source),
            _cell(u.transaction.stop_reason),
            _cell(";".join(_flag_texts(u.transaction))),
            _cell(unbilled_reason(u)),
        ]
        for u in items
    )


# --- partners --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class PartnerRow:
    """One partner as the page lists it, whatever kind it is."""

    name: str
    state: str
    roles: str
    version: str
    delivery: PartnerDelivery | None


def partner_rows(
    settings: Settings,
    records: Sequence[PartnerRecord],
    invitations: Sequence[InvitationRecord],
    delivery: Mapping[str, PartnerDelivery],
) -> list[PartnerRow]:
    rows = [
        PartnerRow(
            name=p.name,
            state=p.state.value,
            roles=", ".join(r.label for r in p.roles) or "—",
            version=p.link.version if p.link else "—",
            delivery=delivery.get(p.name),
        )
        for p in records
    ]
    rows += [
        PartnerRow(
            name=s.name,
            state="static (config.toml)",
            roles=f"{s.country_code}/{s.party_id}",
            version="—",
            delivery=delivery.get(s.name),
        )
        for s in settings.ocpi.static_partners
    ]
    rows += [
        PartnerRow(
            name=i.name,
            state=f"invited until {i.expires_at.strftime('%Y-%m-%d %H:%M UTC')}",
            roles="—",
            version="—",
            delivery=None,
        )
        for i in invitations
    ]
    return rows


def partners(rows: Sequence[PartnerRow], now: datetime, result: str = "") -> str:
    cells = []
    for r in rows:
        d = r.delivery
        retry = button_form(f"/partners/{quote(r.name, safe='')}/retry", "Retry now", {})
        cells.append(
            (
                esc(r.name),
                esc(r.state),
                esc(r.roles),
                esc(r.version),
                ago(now, d.last_success_at) if d else "—",
                esc(d.backlog) if d else "—",
                ago(now, d.oldest_pending_at) if d and d.backlog else "—",
                esc(d.last_error or "—") if d else "—",
                retry if not r.state.startswith("invited") else "",
            )
        )
    return result + table(
        ("Partner", "State", "Roles", "OCPI", "Last push", "Backlog", "Oldest", "Last error", ""),
        cells,
        empty="No partners yet: see `gateway partners invite` and `gateway partners connect`.",
    )
