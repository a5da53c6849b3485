"""Adapter: the pagination response headers: X-Total-Count, X-Limit and Link (rel=next)."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import Request

from ocpi_bridge.api.context import OcpiContext
from ocpi_bridge.translate.pagination import Page, PageRequest


def page_headers(
    request: Request, ctx: OcpiContext, page: Page[object], asked: PageRequest
) -> dict[str, str]:
    headers = {"X-Total-Count": str(page.total), "X-Limit": str(asked.limit)}
    if page.next_offset is not None:
        query = [
            (k, v) for k, v in request.query_params.multi_items() if k not in ("offset", "limit")
        ]
        query += [("offset", str(page.next_offset)), ("limit", str(asked.limit))]
        base = ctx.settings.http.public_url.rstrip("/") + request.url.path
        headers["Link"] = f'<{base}?{urlencode(query)}>; rel="next"'
    return headers
