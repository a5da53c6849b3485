"""Adapter: the operator pages under ``/`` on the HTTP port, behind one login.

Routes are added to the process's one FastAPI application next to OCPI (``/ocpi/...``,
token auth, envelopes) and ``/healthz``; nothing here answers under ``/ocpi``. Every
page but the login page needs a valid session cookie: without one a page redirects to
``/login`` and shows no data. Forms are posted same-origin only (a ``SameSite=Strict``
cookie, and the ``Origin`` header checked when the browser sends one).

Pages are rendered on the server (``gateway.ui.views``); the shipped ``static/ui.js``
only refreshes the board every few seconds and asks before a command button acts.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from typing import Annotated, Protocol
from urllib.parse import parse_qs, quote, urlsplit

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse

from gateway.config import Settings
from gateway.domain.commands import (
    ChangeAvailability,
    ChargerCommand,
    CommandOutcome,
    OutcomeStatus,
    Reset,
    UnlockConnector,
)
from gateway.domain.ids import ChargerId, EvseUid
from gateway.domain.partners import InvitationRecord, PartnerRecord
from gateway.domain.state import ChargerState, PublishedEvse
from gateway.domain.topology import ConnectorRef
from gateway.domain.transactions import Transaction
from gateway.logs import fields
from gateway.ports import CdrView, ChargerLink, Clock, ConnectionsView, DeliveryView
from gateway.ui import html, views
from gateway.ui.auth import COOKIE, LoginThrottle, Sessions, credentials_match

log = logging.getLogger(__name__)

MAX_FORM_BYTES = 4096
#: Sessions listed on one page, newest first.
SESSIONS_SHOWN = 200
#: CDRs (and unbilled sessions) listed on one page of the CDR page, newest first.
CDRS_SHOWN = 50
#: Page numbers beyond this are read as this one (an offset the database need not walk).
MAX_PAGE = 10_000
#: CDRs read from the store per batch of a CSV download.
CSV_BATCH = 500
STATIC = {
    "ui.css": "text/css; charset=utf-8",
    "ui.js": "text/javascript; charset=utf-8",
}
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
}


class SiteStore(Protocol):
    """What the pages read from the store."""

    def evse_statuses(self) -> Mapping[EvseUid, PublishedEvse]: ...

    def transactions(self, *, charger_id: str | None = None) -> list[Transaction]: ...

    def find_transaction(
        self, charger_id: str, *, tx_id: str | None = None, start_key: str | None = None
    ) -> Transaction | None: ...

    def notes(self, charger_id: str) -> list[tuple[str, str]]: ...

    def parked_events(self) -> list[tuple[str, str, str, str]]: ...


class ChargerStates(Protocol):
    """The runtime's committed charger states (in memory)."""

    def states(self) -> Mapping[ChargerId, ChargerState]: ...


class PartnerList(Protocol):
    """The registered partners and open invitations."""

    def partners(self) -> list[PartnerRecord]: ...

    def invitations(self, *, now: datetime) -> list[InvitationRecord]: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class UiContext:
    """Everything the pages read from or act on, injected by the composition root."""

    settings: Settings
    store: SiteStore
    chargers: ChargerStates
    connections: ConnectionsView
    link: ChargerLink
    partners: PartnerList
    delivery: DeliveryView
    cdrs: CdrView
    clock: Clock
    sessions: Sessions | None  # None: no password_hash configured, the pages stay closed
    throttle: LoginThrottle


class LoginRequiredError(Exception):
    """No valid session: the answer is a redirect to the login page."""

    def __init__(self, next_path: str) -> None:
        self.next_path = next_path


class ForbiddenOriginError(Exception):
    """A form posted from another site."""


def _ctx(request: Request) -> UiContext:
    ctx = request.app.state.ui
    assert isinstance(ctx, UiContext)  # noqa: S101 - install() puts it there
    return ctx


Ctx = Annotated[UiContext, Depends(_ctx)]


def _operator(request: Request) -> str:
    ctx = _ctx(request)
    user = None
    if ctx.sessions is not None:
        user = ctx.sessions.check(request.cookies.get(COOKIE), ctx.clock())
    if user is None:
        raise LoginRequiredError(request.url.path)
    if request.method == "POST" and not _same_origin(request):
        raise ForbiddenOriginError
    return user


Operator = Annotated[str, Depends(_operator)]


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if origin is None:
        return True  # older browsers; the SameSite=Strict cookie already kept it same-site
    host = request.headers.get("host", "")
    return urlsplit(origin).netloc == host


def _page(
    title: str, body: str, *, user: str | None, active: str = "", status: int = 200
) -> Response:
    return HTMLResponse(
        html.page(title, body, active=active, user=user),
        status_code=status,
        headers=SECURITY_HEADERS,
    )


async def _form(request: Request) -> dict[str, str]:
    """A small url-encoded form; anything larger or stranger is read as empty."""
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        return {}
    try:
        parsed = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=20)
    except (UnicodeDecodeError, ValueError):
        return {}
    return {k: v[0] for k, v in parsed.items()}


def _local_path(value: str | None) -> str:
    """Where to go after logging in: only a path on this site (no open redirect)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value


# --- login -----------------------------------------------------------------------------


def _login_form(next_path: str, problem: str = "") -> str:
    return (
        (html.message(problem, kind="error") if problem else "")
        + '<form method="post" action="/login" class="login">'
        f'<input type="hidden" name="next" value="{html.esc(next_path)}">'
        '<label>Username <input name="username" autocomplete="username" required></label>'
        '<label>Password <input name="password" type="password" '
        'autocomplete="current-password" required></label>'
        '<button type="submit">Log in</button></form>'
    )


_NOT_SET_UP = (
    "The operator pages are not set up yet. On the gateway, run "
    "`gateway ui hash-password`, put the line it prints into the [operator_ui] table "
    "of config.toml with your username, and restart the gateway."
)


async def login_page(request: Request, ctx: Ctx) -> Response:
    if ctx.sessions is None:
        return _page("Log in", html.message(_NOT_SET_UP, kind="warn"), user=None)
    if ctx.sessions.check(request.cookies.get(COOKIE), ctx.clock()) is not None:
        return RedirectResponse("/", status_code=303)
    next_path = _local_path(request.query_params.get("next"))
    return _page("Log in", _login_form(next_path), user=None)


async def login(request: Request, ctx: Ctx) -> Response:
    form = await _form(request)
    next_path = _local_path(form.get("next"))
    peer = request.client.host if request.client else "unknown"
    delay = ctx.throttle.delay_s(peer)
    if delay:
        await asyncio.sleep(delay)
    ok = ctx.sessions is not None and await asyncio.to_thread(
        credentials_match,
        ctx.settings.operator_ui,
        form.get("username", ""),
        form.get("password", ""),
    )
    if not ok or ctx.sessions is None:
        ctx.throttle.failed(peer)
        log.warning("operator login failed", extra=fields(peer=peer))
        # The same words whichever part was wrong.
        body = _login_form(next_path, "Login failed: wrong username or password.")
        return _page("Log in", body, user=None, status=401)
    ctx.throttle.succeeded(peer)
    log.info("operator logged in", extra=fields(peer=peer))
    response = RedirectResponse(next_path, status_code=303)
    response.set_cookie(
        COOKIE,
        ctx.sessions.issue(ctx.clock()),
        max_age=ctx.sessions.max_age_s,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    return response


async def logout(request: Request, ctx: Ctx) -> Response:
    if ctx.sessions is not None:
        ctx.sessions.revoke(request.cookies.get(COOKIE), ctx.clock())
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


# --- board -----------------------------------------------------------------------------


async def _site(ctx: UiContext) -> views.SiteNow:
    statuses = await asyncio.to_thread(ctx.store.evse_statuses)
    live = ctx.connections.live()
    states = ctx.chargers.states()
    last_heard = {}
    for charger_id in {*states, *live}:
        conn = live.get(charger_id)
        recent = ctx.connections.recent_messages(charger_id)
        heard = conn.last_message_at if conn is not None else None
        if heard is None and recent:
            heard = recent[-1].at
        if heard is not None:
            last_heard[charger_id] = heard
    return views.SiteNow(
        settings=ctx.settings,
        statuses=statuses,
        states=states,
        live=live,
        last_heard=last_heard,
        now=ctx.clock(),
    )


async def board(ctx: Ctx, user: Operator) -> Response:
    return _page("Board", views.board(await _site(ctx)), user=user, active="/")


async def board_live(ctx: Ctx, user: Operator) -> Response:
    """The board alone, for ``ui.js`` to swap in."""
    return HTMLResponse(views.board(await _site(ctx)), headers=SECURITY_HEADERS)


# --- chargers ----------------------------------------------------------------------------


def _known(ctx: UiContext, site: views.SiteNow, charger_id: str) -> bool:
    return charger_id in views.charger_ids(ctx.settings, site)


async def chargers(ctx: Ctx, user: Operator) -> Response:
    site = await _site(ctx)

    def read() -> dict[str, int]:
        parked = ctx.store.parked_events()
        txs = views.flagged_transactions(ctx.store.transactions())
        out = {}
        for charger_id in views.charger_ids(ctx.settings, site):
            out[charger_id] = views.oddities(
                ctx.store.notes(charger_id),
                [p for p in parked if p[0] == charger_id],
                [t for t in txs if t.charger_id == charger_id],
            )
        return out

    counts = await asyncio.to_thread(read)
    return _page("Chargers", views.chargers(site, counts), user=user, active="/chargers")


async def _charger_page(ctx: UiContext, user: str, charger_id: str, result: str = "") -> Response:
    site = await _site(ctx)
    if not _known(ctx, site, charger_id):
        return _page("Not found", html.message("No such charger."), user=user, status=404)

    def read() -> views.ChargerDetail:
        return views.ChargerDetail(
            charger_id=charger_id,
            messages=ctx.connections.recent_messages(ChargerId(charger_id)),
            notes=ctx.store.notes(charger_id),
            parked=[p for p in ctx.store.parked_events() if p[0] == charger_id],
            flagged=views.flagged_transactions(ctx.store.transactions(charger_id=charger_id)),
            result=result,
        )

    detail = await asyncio.to_thread(read)
    return _page(
        f"Charger {charger_id}", views.charger(site, detail), user=user, active="/chargers"
    )


async def charger(charger_id: str, ctx: Ctx, user: Operator) -> Response:
    return await _charger_page(ctx, user, charger_id)


def _connector(value: str) -> ConnectorRef | None:
    """``"<evse>:<connector>"`` from a form (evse empty for OCPP 1.6), or ``None``."""
    evse, sep, connector = value.partition(":")
    if not sep or not connector.isdigit() or (evse and not evse.isdigit()):
        return None
    return ConnectorRef(evse=int(evse) if evse else None, connector=int(connector))


def _command(form: Mapping[str, str]) -> ChargerCommand | None:
    name = form.get("command", "")
    connector = _connector(form.get("connector", ""))
    if name in ("reset_soft", "reset_hard"):
        return Reset(hard=name == "reset_hard")
    if name in ("available", "unavailable"):
        return ChangeAvailability(connector=connector, operative=name == "available")
    if name == "unlock" and connector is not None:
        return UnlockConnector(connector=connector)
    return None


def describe_outcome(charger_id: str, what: str, outcome: CommandOutcome, timeout_s: float) -> str:
    """A sentence for the operator about how a command went."""
    match outcome.status:
        case OutcomeStatus.ACCEPTED:
            return f"{what}: accepted by {charger_id}."
        case OutcomeStatus.SCHEDULED:
            return f"{what}: accepted by {charger_id}; it takes effect after the running session."
        case OutcomeStatus.OFFLINE:
            return (
                f"{what} was not sent: {charger_id} is not connected. "
                "Try again once the board shows it online."
            )
        case OutcomeStatus.TIMEOUT:
            return (
                f"{what}: {charger_id} did not answer within {timeout_s:.0f} s. It may or may "
                "not have acted; watch the board."
            )
        case OutcomeStatus.ERROR:
            detail = " ".join(x for x in (outcome.error_code, outcome.message) if x)
            return f"{what}: {charger_id} refused the message ({detail or 'no reason given'})."
    return f"{what}: {charger_id} answered {outcome.status.value.replace('_', ' ')}."


_LABELS = {
    "reset_soft": "Soft reset",
    "reset_hard": "Hard reset",
    "available": "Make available",
    "unavailable": "Make unavailable",
    "unlock": "Unlock connector",
}


async def charger_command(charger_id: str, request: Request, ctx: Ctx, user: Operator) -> Response:
    form = await _form(request)
    command = _command(form)
    if command is None:
        result = html.message("That command is not known.", kind="error")
        return await _charger_page(ctx, user, charger_id, result)
    site = await _site(ctx)
    if not _known(ctx, site, charger_id):
        return _page("Not found", html.message("No such charger."), user=user, status=404)
    timeout = ctx.settings.operator_ui.command_timeout_s
    outcome = await ctx.link.send(ChargerId(charger_id), command, timeout_s=timeout)
    what = _LABELS.get(form.get("command", ""), "Command")
    log.info(
        "operator command",
        extra=fields(charger=charger_id, command=type(command).__name__, outcome=outcome.status),
    )
    kind = "ok" if outcome.status in (OutcomeStatus.ACCEPTED, OutcomeStatus.SCHEDULED) else "error"
    result = html.message(describe_outcome(charger_id, what, outcome, timeout), kind=kind)
    return await _charger_page(ctx, user, charger_id, result)


# --- sessions and CDRs -----------------------------------------------------------------


def _live_transactions(ctx: UiContext) -> dict[tuple[str, str], Transaction]:
    return {
        (t.charger_id, t.tx_id): t
        for s in ctx.chargers.states().values()
        for t in s.transactions.values()
    }


async def sessions(ctx: Ctx, user: Operator) -> Response:
    txs = await asyncio.to_thread(ctx.store.transactions)
    newest = list(reversed(txs))[:SESSIONS_SHOWN]
    body = views.sessions(newest, _live_transactions(ctx), ctx.clock())
    if len(txs) > SESSIONS_SHOWN:
        body += html.message(f"The newest {SESSIONS_SHOWN} of {len(txs)} sessions are shown.")
    return _page("Sessions", body, user=user, active="/sessions")


async def session(charger_id: str, tx_id: str, ctx: Ctx, user: Operator) -> Response:
    tx = await asyncio.to_thread(ctx.store.find_transaction, charger_id, tx_id=tx_id)
    if tx is None:
        return _page("Not found", html.message("No such session."), user=user, status=404)
    return _page(
        f"Session {charger_id} / {tx_id}",
        views.session(tx, ctx.clock()),
        user=user,
        active="/sessions",
    )


def _page_no(request: Request, name: str) -> int:
    """A page number from the query string; anything else is the first page."""
    value = request.query_params.get(name, "")
    return min(int(value), MAX_PAGE) if value.isdigit() else 0


async def cdrs(request: Request, ctx: Ctx, user: Operator) -> Response:
    page, other = _page_no(request, "page"), _page_no(request, "unbilled")

    def read() -> views.CdrListing:
        return views.CdrListing(
            cdrs=ctx.cdrs.cdrs(limit=CDRS_SHOWN, offset=page * CDRS_SHOWN),
            unbilled=ctx.cdrs.unbilled(limit=CDRS_SHOWN, offset=other * CDRS_SHOWN),
            page=page,
            unbilled_page=other,
            page_size=CDRS_SHOWN,
            now=ctx.clock(),
        )

    listing = await asyncio.to_thread(read)
    return _page("CDRs", views.cdrs(listing), user=user, active="/cdrs")


def _csv(ctx: UiContext, name: str, chunks: Iterator[str]) -> Response:
    stamp = ctx.clock().strftime("%Y%m%dT%H%M%SZ")
    return StreamingResponse(
        chunks,
        media_type="text/csv; charset=utf-8",
        headers={
            **SECURITY_HEADERS,
            "Content-Disposition": f'attachment; filename="{name}-{stamp}.csv"',
        },
    )


def _cdr_chunks(view: CdrView) -> Iterator[str]:
    """The CDR CSV a batch at a time, newest first (each batch is read in a worker thread).

    The cursor is the oldest row read so far, so CDRs created during the download
    neither repeat nor push others off a page.
    """
    yield views.cdrs_csv_header()
    below = None
    while True:
        batch = view.cdrs(limit=CSV_BATCH, below=below)
        if batch.last_row is None:
            return
        yield views.cdrs_csv_rows(batch.items)
        below = batch.last_row


def _unbilled_chunks(view: CdrView) -> Iterator[str]:
    yield views.unbilled_csv_header()
    below = None
    while True:
        batch = view.unbilled(limit=CSV_BATCH, below=below)
        if not batch.items:
            return
        yield views.unbilled_csv_rows(batch.items)
        below = batch.items[-1].row


async def cdrs_csv(ctx: Ctx, user: Operator) -> Response:
    # A sync iterator: Starlette pulls each batch in its thread pool, off the event loop.
    return _csv(ctx, "cdrs", _cdr_chunks(ctx.cdrs))


async def unbilled_csv(ctx: Ctx, user: Operator) -> Response:
    return _csv(ctx, "unbilled-sessions", _unbilled_chunks(ctx.cdrs))


# --- partners --------------------------------------------------------------------------


async def _partners_page(ctx: UiContext, user: str, result: str = "") -> Response:
    now = ctx.clock()

    def read() -> tuple[list[PartnerRecord], list[InvitationRecord]]:
        return ctx.partners.partners(), ctx.partners.invitations(now=now)

    records, invitations = await asyncio.to_thread(read)
    rows = views.partner_rows(ctx.settings, records, invitations, ctx.delivery.delivery())
    return _page("Partners", views.partners(rows, now, result), user=user, active="/partners")


async def partners(ctx: Ctx, user: Operator) -> Response:
    return await _partners_page(ctx, user)


async def partner_retry(name: str, ctx: Ctx, user: Operator) -> Response:
    said = await ctx.delivery.retry_now(name)
    log.info("operator retry", extra=fields(partner=name))
    return await _partners_page(ctx, user, html.message(f"{name}: {said}"))


# --- plumbing --------------------------------------------------------------------------


def _static_files() -> dict[str, bytes]:
    folder = resources.files("gateway.ui") / "static"
    return {name: (folder / name).read_bytes() for name in STATIC}


def install(app: FastAPI, ctx: UiContext) -> None:
    """Add the operator pages to ``app``."""
    app.state.ui = ctx
    files = _static_files()

    async def static(name: str) -> Response:
        if name not in files:
            return Response("not found\n", status_code=404, media_type="text/plain")
        return Response(
            files[name],
            media_type=STATIC[name],
            headers={"Cache-Control": "max-age=300", "X-Content-Type-Options": "nosniff"},
        )

    async def login_required(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, LoginRequiredError)  # noqa: S101 - registered for this type
        target = (
            "/login"
            if exc.next_path in ("/", "/board/live")
            else ("/login?next=" + quote(exc.next_path, safe="/"))
        )
        return RedirectResponse(target, status_code=303, headers=SECURITY_HEADERS)

    async def forbidden_origin(request: Request, exc: Exception) -> Response:
        return _page(
            "Refused",
            html.message("Forms are only accepted from this site."),
            user=None,
            status=403,
        )

    app.add_exception_handler(LoginRequiredError, login_required)
    app.add_exception_handler(ForbiddenOriginError, forbidden_origin)
    get, post = ["GET"], ["POST"]
    routes = (
        ("/static/{name}", static, get),
        ("/login", login_page, get),
        ("/login", login, post),
        ("/logout", logout, post),
        ("/", board, get),
        ("/board/live", board_live, get),
        ("/chargers", chargers, get),
        ("/chargers/{charger_id}", charger, get),
        ("/chargers/{charger_id}/commands", charger_command, post),
        ("/sessions", sessions, get),
        ("/sessions/{charger_id}/{tx_id:path}", session, get),
        ("/cdrs", cdrs, get),
        ("/cdrs.csv", cdrs_csv, get),
        ("/cdrs/unbilled.csv", unbilled_csv, get),
        ("/partners", partners, get),
        ("/partners/{name}/retry", partner_retry, post),
    )
    for path, endpoint, methods in routes:
        app.add_api_route(path, endpoint, methods=methods, include_in_schema=False)
