"""说事码 as a county IT operator and a 书记 meet it: the admin's poster page says when the
code would hold an address villagers' phones may not open; odd things a phone sends."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote

import pytest
from fastapi import FastAPI
from sqlmodel import Session, select

from admin.app import create_app
from admin.security import AdminOptions
from bot.app import App
from handlers import reports, texts
from storage.report_tables import QrReport
from tests.admin.conftest import logged_in
from tests.admin.test_report import (
    PAGE,
    PUBLIC,
    VILLAGE,
    decode,
    jpeg,
    pdf_page,
    phone_client,
    rows,
    send,
)


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


@pytest.mark.asyncio
async def test_a_phone_typed_with_full_width_digits_or_the_country_code_is_taken(
    app: App, web: FastAPI
) -> None:
    async with phone_client(web) as phone:
        wide = await send(phone, "村口的路灯坏了", phone="１３８ １２３４ ５６７８")
        coded = await send(phone, "村口的垃圾没人收", phone="+86 139-0000-1111")
    assert wide.status_code == 303 and coded.status_code == 303
    with Session(app.engine) as session:
        kept = sorted(r.phone for r in session.exec(select(QrReport)))
    assert kept == ["13812345678", "13900001111"]


@pytest.mark.asyncio
async def test_too_many_photos_picked_at_once_is_told_in_chinese_on_the_page(
    app: App, web: FastAPI
) -> None:
    # A villager picks every photo of the scene from the album: the page says how many it takes,
    # in Chinese, with what was typed still in the form (not the server's English JSON).
    async with phone_client(web) as phone:
        many = await send(phone, "村口的路灯坏了", photos=[jpeg()] * 12)
        broken = await phone.post(
            PAGE,
            content=b"--xx\r\nnot a part",
            headers={"content-type": "multipart/form-data; boundary=xx"},
        )
    assert many.status_code == 400 and "text/html" in many.headers["content-type"]
    assert texts.QR_TOO_MANY_PHOTOS.format(limit=reports.MAX_PHOTOS) in many.text
    assert 'id="report-form"' in many.text
    assert broken.status_code == 400 and texts.QR_FORM_BROKEN in broken.text
    assert rows(app, QrReport) == 0
