"""Adapter helpers: HTML text for the operator pages, every dynamic value escaped.

Pages are plain strings built here rather than with a template engine, so the default
install needs nothing more. The one rule: a value that did not come from this source
file goes through ``esc`` (or ``attr``) before it is put in the page. Charger ids, boot
strings, error texts and partner names are all chosen by someone else.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from decimal import Decimal

NAV = (
    ("/", "Board"),
    ("/chargers", "Chargers"),
    ("/sessions", "Sessions"),
    ("/cdrs", "CDRs"),
    ("/partners", "Partners"),
)


def esc(value: object) -> str:
    """Text for element content or a quoted attribute value."""
    return html.escape("" if value is None else str(value), quote=True)


def page(title: str, body: str, *, active: str = "", user: str | None = None) -> str:
    """A whole page: head with the shipped CSS and script, navigation, then ``body``."""
    nav = ""
    if user is not None:
        here = ' class="here"'
        links = "".join(
            f'<a href="{href}"{here if href == active else ""}>{label}</a>' for href, label in NAV
        )
        nav = (
            f"<nav>{links}"
            '<form method="post" action="/logout" class="logout">'
            f'<button type="submit">Log out {esc(user)}</button></form></nav>'
        )
    return (
        "<!doctype html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)} · charger-edge gateway</title>"
        '<link rel="stylesheet" href="/static/ui.css">'
        '<script src="/static/ui.js" defer></script>'
        f'</head><body><header><span class="brand">charger-edge gateway</span>{nav}</header>'
        f'<main id="main"><h1>{esc(title)}</h1>{body}</main></body></html>\n'
    )


def table(headers: Sequence[str], rows: Iterable[Sequence[str]], *, empty: str) -> str:
    """A table of already-escaped cells; each cell is labelled for the phone layout."""
    body = "".join(
        "<tr>"
        + "".join(
            f'<td data-label="{esc(h)}">{cell}</td>' for h, cell in zip(headers, row, strict=True)
        )
        + "</tr>"
        for row in rows
    )
    if not body:
        return f'<p class="empty">{esc(empty)}</p>'
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    return f'<table class="list"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def message(text: str, *, kind: str = "info") -> str:
    return f'<p class="msg {esc(kind)}" role="status">{esc(text)}</p>'


def when(moment: datetime | None) -> str:
    """A UTC time as ``2026-11-22 10:00:05 UTC``, or a dash."""
    if moment is None:
        return "—"
    text = moment.strftime("%Y-%m-%d %H:%M:%S UTC")
    return f'<time datetime="{esc(moment.isoformat())}">{esc(text)}</time>'


def ago(now: datetime, moment: datetime | None) -> str:
    """How long ago, roughly (``12 s ago``, ``3 min ago``), with the exact time as a tooltip."""
    if moment is None:
        return "—"
    seconds = max(0, int((now - moment).total_seconds()))
    return (
        f'<time datetime="{esc(moment.isoformat())}" title="{esc(when_text(moment))}">'
        f"{esc(duration(timedelta(seconds=seconds)))} ago</time>"
    )


def when_text(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def duration(span: timedelta) -> str:
    seconds = int(span.total_seconds())
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 86400:
        return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
    return f"{seconds // 86400} d {seconds % 86400 // 3600} h"


def kwh(wh: Decimal | None) -> str:
    return "—" if wh is None else f"{wh / 1000:.3f} kWh"


def kw(w: Decimal | None) -> str:
    return "—" if w is None else f"{w / 1000:.1f} kW"


def status_badge(status: str) -> str:
    """An OCPI status as a coloured label (the class only ever holds A-Z)."""
    css = "".join(c for c in status if c.isalpha()).upper()
    return f'<span class="status s-{css}">{esc(status)}</span>'


def button_form(action: str, label: str, fields: dict[str, str], *, confirm: str = "") -> str:
    """A one-button POST form; ``confirm`` asks before sending (``ui.js``)."""
    hidden = "".join(
        f'<input type="hidden" name="{esc(k)}" value="{esc(v)}">' for k, v in fields.items()
    )
    ask = f' data-confirm="{esc(confirm)}"' if confirm else ""
    return (
        f'<form method="post" action="{esc(action)}" class="inline"{ask}>{hidden}'
        f'<button type="submit">{esc(label)}</button></form>'
    )
