"""说事码 (issue 19, part 1): a village's poster decodes back to its phone page; a report sent
from that page goes through intake like a private message and gets a tracking page that shows
nothing more than the group would read; the abuse limits; the admin switches a village's code
off and sees where each issue came from."""

from __future__ import annotations

import io
import wave
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import httpx
import pypdfium2
import pytest
import zxingcpp
from fastapi import FastAPI
from PIL import Image
from sqlmodel import Session, col, func, select

from bot import cli
from bot.app import App
from handlers import reports, texts
from handlers.clock import FakeClock
from storage.models import Inbound, Issue, Outbox, Person, Village
from storage.report_tables import QrReport
from tests.admin.conftest import csrf_of, logged_in, post_form, say
from tests.conftest import Chat

PUBLIC = "https://shuoshi.example.org"
VILLAGE = "新联村"
PAGE = f"/s/{quote(VILLAGE)}"


def jpeg(size: tuple[int, int] = (64, 48)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 120, 40)).save(out, "JPEG")
    return out.getvalue()


def wav(seconds: float = 0.2) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\x00\x00" * int(8000 * seconds))
    return out.getvalue()


def phone_client(web: FastAPI, address: str = "203.0.113.7") -> httpx.AsyncClient:
    """A villager's phone: no log-in, its own network address."""
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=web, client=(address, 40000)),
        base_url="http://testserver",
    )


async def send(
    device: httpx.AsyncClient,
    text: str = "",
    *,
    page: str = PAGE,
    photos: list[bytes] | None = None,
    voice: bytes | None = None,
    **fields: str,
) -> httpx.Response:
    files = [("photo", (f"p{i}.jpg", data, "image/jpeg")) for i, data in enumerate(photos or [])]
    if voice is not None:
        files.append(("voice", ("v.wav", voice, "audio/wav")))
    return await device.post(page, data={"text": text, **fields}, files=files or None)


def decode(image: Image.Image) -> list[str]:
    return [found.text for found in zxingcpp.read_barcodes(image)]


def pdf_page(data: bytes) -> Image.Image:
    doc = pypdfium2.PdfDocument(data)
    try:
        page = doc[0]
        width, height = page.get_size()
        assert abs(width - 595) < 2 and abs(height - 842) < 2  # A4, in points
        image = page.render(scale=2).to_pil()
        page.close()
        return image
    finally:
        doc.close()


def track(html: str) -> str:
    """The tracking card of a page (what it says about the report)."""
    start = html.index('id="track"')
    return html[start : html.index("</section>", start)]


def rows(app: App, model: type) -> int:
    with Session(app.engine) as session:
        return int(session.exec(select(func.count()).select_from(model)).one())


def issue_of(app: App, number: int) -> Issue:
    with Session(app.engine) as session:
        return session.exec(select(Issue).where(Issue.number == number)).one()


# --- the poster ---------------------------------------------------------------------------------


def test_poster_from_the_command_decodes_to_the_phone_page(
    app: App, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("ADMIN_PUBLIC_URL", PUBLIC)
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    expected = f"{PUBLIC}/s/{quote(VILLAGE)}"
    png, pdf = tmp_path / "poster.png", tmp_path / "poster.pdf"
    assert cli.main(["qrcode", "--village", VILLAGE, "--out", str(png)]) == 0
    assert cli.main(["qrcode", "--village", VILLAGE, "--out", str(pdf)]) == 0
    image = Image.open(png)
    assert image.width < image.height and abs(image.height / image.width - 297 / 210) < 0.01
    assert decode(image) == [expected]
    assert decode(pdf_page(pdf.read_bytes())) == [expected]
    grouped = tmp_path / "group.png"
    args = ["qrcode", "--village", VILLAGE, "--group", "新联村说事群", "--out", str(grouped)]
    assert cli.main(args) == 0
    assert decode(Image.open(grouped)) == [f"{expected}?g={quote('新联村说事群')}"]
    # A village or group that is not in the grid, or a format we do not make: a clear no.
    assert cli.main(["qrcode", "--village", "没这村", "--out", str(png)]) == 2
    assert cli.main(["qrcode", "--village", VILLAGE, "--out", str(tmp_path / "x.jpg")]) == 2


def test_poster_names_the_cadres_on_duty(app: App) -> None:
    from admin.poster import poster_of

    with Session(app.engine) as session:
        village = poster_of(session, PUBLIC, VILLAGE)
        group = poster_of(session, PUBLIC, VILLAGE, "新联村说事群")
        assert poster_of(session, PUBLIC, VILLAGE, "石桥村说事群") is None  # another village's
    assert village is not None and village.duty == ["李书记", "张姐", "王哥"]
    assert group is not None and group.duty[0] == "李书记" and "张姐" in group.duty


@pytest.mark.asyncio
async def test_admin_button_makes_the_poster_and_the_code_opens_the_form(
    app: App, web: FastAPI, client: httpx.AsyncClient
) -> None:
    secretary = await logged_in(web, "李书记")
    page = await secretary.get("/qrcode")
    assert page.status_code == 200 and VILLAGE in page.text and "石桥村" not in page.text
    village_id = _village_id(app, VILLAGE)
    pdf = await secretary.get(f"/qrcode/{village_id}/poster.pdf")
    assert pdf.headers["content-type"] == "application/pdf"
    (url,) = decode(pdf_page(pdf.content))
    assert url == f"http://testserver/s/{quote(VILLAGE)}"  # no public URL: the address used
    form = await client.get(url.removeprefix("http://testserver"))
    assert form.status_code == 200 and VILLAGE in form.text and 'name="voice"' in form.text
    # The other village's poster is not 李书记's to make.
    other = await secretary.get(f"/qrcode/{_village_id(app, '石桥村')}/poster.png")
    assert other.status_code == 404
    await secretary.aclose()


def _village_id(app: App, name: str) -> int:
    with Session(app.engine) as session:
        return session.exec(select(Village.id).where(Village.name == name)).one() or 0


# --- a report, end to end ------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_report_goes_through_intake_and_gets_a_tracking_page(
    app: App, web: FastAPI, tmp_path: Path
) -> None:
    async with phone_client(web) as phone:
        form = await phone.get(PAGE)
        assert "哪个组" in form.text and 'name="team"' in form.text
        sent = await send(
            phone,
            "村口的路灯坏了好几天了，晚上黑乎乎的",
            photos=[jpeg()],
            voice=wav(),
            team="三组",
            name="王大爷",
            phone="138 1234 5678",
        )
        assert sent.status_code == 303
        link = sent.headers["location"]
        assert link.startswith("/s/t/")
        page = await phone.get(link)
    assert page.status_code == 200
    issue = issue_of(app, 1)
    # Registered like any matter: its village, kind, owner; the reporter is the 说事码 link.
    assert issue.kind == "村里事" and issue.reporter == f"qrcode:{link.rsplit('/', 1)[1]}"
    assert issue.village_id == _village_id(app, VILLAGE) and issue.reporter_name == "王大爷"
    assert issue.text.startswith("三组：村口的路灯坏了") and "13812345678" in issue.text
    with Session(app.engine) as session:
        owner = session.get(Person, issue.owner_id)
        assert owner is not None
        told = session.exec(select(Outbox).where(col(Outbox.recipient) == owner.name)).all()
    assert told, "the owner is told of the new matter"
    # The photo and the recording are kept in the data folder, the admin links them.
    import json

    kept = json.loads(issue.attachments)
    assert [a["kind"] for a in kept] == ["photo", "voice", "contact"]
    assert (tmp_path / kept[0]["path"]).read_bytes()[:3] == b"\xff\xd8\xff"
    assert (tmp_path / kept[1]["path"]).read_bytes()[:4] == b"RIFF"
    # The tracking page: number, kind, status, owner; the phone masked.
    card = track(page.text)
    assert "#1" in card and "村里事" in card and "待认领" in card and owner.name in card
    assert "138****5678" in card and "13812345678" not in page.text
    # Nothing the bot owes this person is left pending: the platform delivers by marking sent.
    with Session(app.engine) as session:
        mine = session.exec(select(Outbox).where(Outbox.platform == "qrcode")).all()
    assert mine and all(row.status == "sent" for row in mine)


@pytest.mark.asyncio
async def test_issue_page_shows_where_each_issue_came_from(
    app: App, web: FastAPI, chat: Chat
) -> None:
    await say(chat, "张大爷: 村口的桥栏杆断了，孩子上学很危险")  # #1 in the group
    await say(chat, "@dm\n张大爷: 说事 我家门口的自来水管爆了")  # #2 privately (seen in 新联村)
    async with phone_client(web) as phone:
        await send(phone, "说事 三组的水渠堵了，田里灌不上水")  # #3 by 说事码
    secretary = await logged_in(web, "李书记")
    origins = []
    for number in (1, 2, 3):
        page = (await secretary.get(f"/issues/{number}")).text
        start = page.index('id="origin">') + len('id="origin">')
        origins.append(page[start : page.index("<", start)])
    assert origins == [texts.QR_ORIGIN_GROUP, texts.QR_ORIGIN_PRIVATE, texts.QR_ORIGIN]
    await secretary.aclose()


@pytest.mark.asyncio
async def test_chatter_is_kept_not_registered(app: App, web: FastAPI) -> None:
    async with phone_client(web) as phone:
        sent = await send(phone, "好的收到，谢谢")
        page = await phone.get(sent.headers["location"])
    assert rows(app, Issue) == 0
    assert texts.QR_KEPT in page.text
    with Session(app.engine) as session:
        post = session.exec(select(Inbound).where(Inbound.platform == "qrcode")).one()
    assert post.status == "chatter"  # in the admin's 未登记帖子, where a cadre can register it


# --- the tracking page's privacy ----------------------------------------------------------------


@pytest.mark.asyncio
async def test_tracking_page_shows_no_more_than_the_group_reads(
    app: App, web: FastAPI, chat: Chat
) -> None:
    # #1: someone else's.
    await say(chat, "李大妈: #邻里事 隔壁老刘家的水往我家院子里排，电话13900001111")
    async with phone_client(web) as phone:
        private = await send(phone, "#户里事 我家老人一个人住，房子漏雨没人修")  # #2
        public = await send(phone, "说事 村口的路灯坏了，晚上看不见路")  # #3
        private_page, public_page = private.headers["location"], public.headers["location"]
        first = track((await phone.get(private_page)).text)
        # A 户里事: the group sees the number, kind and status, never the words.
        assert "#2" in first and "户里事" in first and "漏雨" not in first
        assert "老刘" not in first and "13900001111" not in first and "#1" not in first
        await say(chat, "@dm\n张姐: 办结 2 已经帮老人修好房顶，他儿子电话13700002222")
        await say(chat, "@dm\n张姐: 办结 3 已换了新灯泡，有问题打13700002222")
        closed_private = track((await phone.get(private_page)).text)
        closed_public = track((await phone.get(public_page)).text)
        assert "已办结" in closed_private and "修好房顶" not in closed_private
        assert texts.QR_RESULT_PRIVATE.format(kind="户里事") in closed_private
        # A 村里事: the group reads its words and its result, masked.
        assert "路灯坏了" in closed_public and "已换了新灯泡" in closed_public
        assert "137****2222" in closed_public and "13700002222" not in closed_public
        # Rated from the page, once, by the person who reported it.
        assert 'id="track-rate"' in closed_public
        rated = await phone.post(f"{public_page}/rate", data={"choice": "1"})
        assert rated.status_code == 303
        after = track((await phone.get(public_page)).text)
        assert 'id="track-rate"' not in after and "满意" in after
        # A made-up link shows nothing at all.
        assert (await phone.get("/s/t/" + "A" * 24)).status_code == 404
    assert issue_of(app, 3).rating == "满意" and issue_of(app, 2).rating is None


# --- abuse limits -------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_limits_per_address_and_per_phone(app: App, web: FastAPI) -> None:
    clock = app.clock
    assert isinstance(clock, FakeClock)
    async with phone_client(web, "203.0.113.7") as phone:
        for i in range(reports.PER_ADDRESS_HOUR):
            assert (await send(phone, f"说事 {i}组的路灯坏了")).status_code == 303
        refused = await send(phone, "说事 五组的路灯也坏了")
        assert refused.status_code == 429 and texts.QR_LIMIT_ADDRESS in refused.text
        assert "五组的路灯也坏了" in refused.text  # what was typed is kept in the form
        clock.advance(timedelta(hours=1, minutes=1))
        assert (await send(phone, "说事 六组的路灯坏了")).status_code == 303
    assert rows(app, QrReport) == reports.PER_ADDRESS_HOUR + 1
    # One phone number from many addresses: a day's limit of its own.
    for i in range(reports.PER_PHONE_DAY):
        async with phone_client(web, f"198.51.100.{i + 1}") as other:
            sent = await send(other, f"说事 {i}号门口垃圾没人收", phone="13812345678")
            assert sent.status_code == 303
    async with phone_client(web, "198.51.100.200") as other:
        refused = await send(other, "说事 又一件事", phone="138-1234-5678")
    assert refused.status_code == 429
    assert texts.QR_LIMIT_PHONE.format(count=reports.PER_PHONE_DAY) in refused.text


@pytest.mark.asyncio
async def test_files_are_checked_and_refusals_record_nothing(app: App, web: FastAPI) -> None:
    async with phone_client(web) as phone:
        too_big = jpeg() + b"\x00" * reports.PHOTO_MAX_BYTES
        cases = [
            (await send(phone, "路灯坏了", photos=[too_big]), texts.QR_PHOTO_TOO_BIG[:6]),
            (await send(phone, "路灯坏了", photos=[b"#!/bin/sh\nrm -rf /"]), "不是照片"),
            (await send(phone, "路灯坏了", photos=[jpeg()] * 4), texts.QR_TOO_MANY_PHOTOS[:4]),
            (await send(phone, "路灯坏了", voice=b"not a recording at all"), texts.QR_BAD_VOICE),
            (await send(phone, ""), texts.QR_EMPTY),
            (await send(phone, "路灯坏了", phone="12345"), texts.QR_BAD_PHONE),
            (await send(phone, "坏" * (reports.MAX_TEXT + 1)), "文字太长了"),
        ]
        for response, reason in cases:
            assert response.status_code == 400 and reason in response.text
        # A photo alone is a matter to sort (待分类), as in the group.
        assert (await send(phone, photos=[jpeg()])).status_code == 303
    assert rows(app, QrReport) == 1 and rows(app, Inbound) == 1
    assert issue_of(app, 1).kind == "待分类"


@pytest.mark.asyncio
async def test_a_body_larger_than_every_file_together_is_refused_before_it_is_read(
    app: App, web: FastAPI
) -> None:
    from admin.report import FORM_MAX_BYTES

    async with phone_client(web) as phone:
        # Only the declared size matters: the page answers before reading a byte of it.
        big = str(FORM_MAX_BYTES + 1)
        r = await phone.post(PAGE, content=b"x", headers={"content-length": big})
    assert r.status_code == 413 and "太大了" in r.text and "MB" in r.text
    assert rows(app, QrReport) == 0 and rows(app, Inbound) == 0


# --- switching a village's 说事码 off ----------------------------------------------------------


@pytest.mark.asyncio
async def test_secretary_switches_the_code_off_and_on(app: App, web: FastAPI) -> None:
    village_id = _village_id(app, VILLAGE)
    grid_member = await logged_in(web, "张姐")
    page = await grid_member.get("/qrcode")
    assert f'/qrcode/{village_id}/switch"' not in page.text  # only the 书记 and the town
    refused = await grid_member.post(
        f"/qrcode/{village_id}/switch", data={"enabled": "0", "csrf": csrf_of(page.text)}
    )
    assert refused.status_code == 404
    await grid_member.aclose()
    secretary = await logged_in(web, "李书记")
    off = await post_form(secretary, "/qrcode", f"/qrcode/{village_id}/switch", {"enabled": "0"})
    assert off.status_code == 303
    async with phone_client(web) as phone:
        assert "暂停使用" in (await phone.get(PAGE)).text
        refused = await send(phone, "说事 村口路灯坏了")
        assert refused.status_code == 400
        assert texts.QR_OFF.format(village=VILLAGE) in refused.text
        # The other village's code still works.
        assert (await send(phone, "说事 水渠堵了", page=f"/s/{quote('石桥村')}")).status_code == 303
        await post_form(secretary, "/qrcode", f"/qrcode/{village_id}/switch", {"enabled": "1"})
        assert (await send(phone, "说事 村口路灯坏了")).status_code == 303
    assert rows(app, Issue) == 2
    await secretary.aclose()


@pytest.mark.asyncio
async def test_the_page_offers_the_villages_teams_and_routes_by_them(
    app: App, web: FastAPI
) -> None:
    """石桥村's grid lists its 组: the page offers them; a report of 三组 goes to 三组's people
    as a group post naming 三组 would. 新联村 lists none: the 组 is typed."""
    async with phone_client(web) as phone:
        page = (await phone.get(f"/s/{quote('石桥村')}")).text
        assert '<select id="team"' in page and "三组</option>" in page
        assert '<input type="text" id="team"' in (await phone.get(PAGE)).text
        sent = await send(
            phone, "路灯坏了，晚上看不见路", page=f"/s/{quote('石桥村')}", team="三组"
        )
        assert sent.status_code == 303
    issue = issue_of(app, 1)
    assert issue.village_id == _village_id(app, "石桥村") and issue.text.startswith("三组：")
    with Session(app.engine) as session:
        owner = session.get(Person, issue.owner_id)
    assert owner is not None and owner.name == "孙组长"


def spoken(pitch: float) -> bytes:
    """A recording as a phone's recorder makes one (WAV here), saying the fake endpoint's
    phrase for `pitch` (tests/voice/fake_asr.py)."""
    from tests.voice.fake_asr import pcm

    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16_000)
        w.writeframes(pcm(pitch, 16_000).tobytes())
    return out.getvalue()


@pytest.mark.asyncio
@pytest.mark.parametrize("mode", ["ok", "error"])
async def test_a_spoken_report_is_heard_and_registered_with_its_kind(
    make_app: Callable[..., App], tmp_path: Path, mode: str
) -> None:
    """A report that is only a recording is heard like a voice message in a group: with speech
    to text on, registered with its kind and its words; when the endpoint fails, 待分类 as
    before (nothing lost)."""
    from admin.app import create_app
    from tests.voice.fake_asr import SAID, FakeASR

    with FakeASR(mode=mode) as fake:
        app = make_app(data_dir=tmp_path, asr_base_url=fake.base_url, asr_model="whisper-1")
        async with phone_client(create_app(app)) as phone:
            sent = await send(phone, voice=spoken(350))
        assert sent.status_code == 303
        assert [c.filename for c in fake.calls] == ["voice.wav"]
    issue = issue_of(app, 1)
    if mode == "ok":
        assert issue.kind == "村里事" and issue.text == SAID[350]
    else:
        assert issue.kind == "待分类" and issue.text == ""
