"""说事码 as a county IT operator and a 书记 meet it: the admin's poster page says when the
code would hold an address villagers' phones may not open."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote

import pytest
from fastapi import FastAPI

from admin.app import create_app
from admin.security import AdminOptions
from bot.app import App
from tests.admin.conftest import logged_in
from tests.admin.test_report import PUBLIC, VILLAGE, decode, pdf_page


@pytest.mark.asyncio
async def test_the_poster_page_warns_when_the_public_url_is_unset(
    web: FastAPI, make_app: Callable[..., App]
) -> None:
    secretary = await logged_in(web, "李书记")
    page = (await secretary.get("/qrcode")).text
    assert 'id="qr-no-public-url"' in page and "ADMIN_PUBLIC_URL" in page
    assert "http://testserver" in page  # the address the code would hold
    await secretary.aclose()
    # Set: no warning, and the code holds the public address.
    # (Plain options: the test client speaks http to testserver, so no Secure cookie.)
    configured = create_app(make_app(admin_public_url=PUBLIC), AdminOptions())
    secretary = await logged_in(configured, "李书记")
    page = (await secretary.get("/qrcode")).text
    assert 'id="qr-no-public-url"' not in page and f"{PUBLIC}/s/" in page
    pdf = await secretary.get("/qrcode/1/poster.pdf")
    assert decode(pdf_page(pdf.content)) == [f"{PUBLIC}/s/{quote(VILLAGE)}"]
    await secretary.aclose()
