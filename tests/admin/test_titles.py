"""The admin shows each person's title as the grid file writes it (issue 18): 村党支部书记,
书记兼主任, not only the duty the product reads from it."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from sqlmodel import Session, select

from bot.app import App
from storage.models import Issue, Person
from tests.admin.conftest import PASSWORD, logged_in, login, post_form, say
from tests.conftest import Chat


@pytest.mark.asyncio
async def test_assign_lists_people_by_their_titles(
    client: httpx.AsyncClient, matters: Chat
) -> None:
    assert (await login(client, "李书记")).status_code == 303
    page = (await client.get("/issues/1")).text
    assert "李书记（村党支部书记）" in page and "张姐（网格员）" in page
    listing = (await client.get("/issues")).text
    assert "李书记（村党支部书记）" in listing


@pytest.mark.asyncio
async def test_a_dispute_can_be_given_to_the_towns_mediator_from_its_page(
    client: httpx.AsyncClient, matters: Chat
) -> None:
    """As 指派 in the chat: a 邻里事's page offers the town's mediator who serves the village;
    a 村里事's does not."""
    assert (await login(client, "李书记")).status_code == 303
    assert "吴律师（律师）" in (await client.get("/issues/2")).text  # #2 is a 邻里事
    assert "吴律师" not in (await client.get("/issues/1")).text


@pytest.mark.asyncio
async def test_the_secretary_gives_a_dispute_to_the_mediator_on_its_page(
    client: httpx.AsyncClient, matters: Chat, app: App
) -> None:
    assert (await login(client, "李书记")).status_code == 303
    with Session(app.engine) as session:
        lawyer = session.exec(select(Person).where(Person.name == "吴律师")).one()
    r = await post_form(client, "/issues/2", "/issues/2/assign", {"person": str(lawyer.id)})
    assert r.status_code == 303
    assert "已指派给吴律师" in (await client.get("/issues/2")).text
    with Session(app.engine) as session:
        dispute = session.exec(select(Issue).where(Issue.number == 2)).one()
    assert dispute.owner_id == lawyer.id


@pytest.mark.asyncio
async def test_a_town_mediator_sees_and_settles_the_dispute_given_to_them(
    web: FastAPI, matters: Chat, app: App
) -> None:
    """吴律师 belongs to no village: given #2 (a 邻里事), his 我的待办 lists it, its page opens
    with its words, and he can close it there; other villages' matters stay hidden from him."""
    from admin.auth import set_password

    await say(matters, "李书记: 指派 2 吴律师")
    with Session(app.engine) as session:
        lawyer = session.exec(select(Person).where(Person.name == "吴律师")).one()
        set_password(session, lawyer, PASSWORD, app.clock.now())
        session.commit()
    lawyer_web = await logged_in(web, "吴律师")
    try:
        listing = (await lawyer_web.get("/issues")).text
        assert "#2" in listing and "#1<" not in listing
        page = await lawyer_web.get("/issues/2")
        assert page.status_code == 200 and "内容不公开" not in page.text
        assert (await lawyer_web.get("/issues/1")).status_code == 404
        r = await post_form(lawyer_web, "/issues/2", "/issues/2/close", {"result": "两家已和解"})
        assert r.status_code == 303
    finally:
        await lawyer_web.aclose()
    with Session(app.engine) as session:
        dispute = session.exec(select(Issue).where(Issue.number == 2)).one()
    assert dispute.status == "closed" and dispute.result == "两家已和解"


@pytest.mark.asyncio
async def test_an_invited_mediator_reads_the_dispute_in_the_admin_as_the_invitation_did(
    web: FastAPI, matters: Chat, app: App
) -> None:
    """邀请: 吴律师 gets the words privately; the admin shows him the same matter (and nothing
    before he is invited, nor any other matter)."""
    from admin.auth import set_password

    with Session(app.engine) as session:
        lawyer = session.exec(select(Person).where(Person.name == "吴律师")).one()
        set_password(session, lawyer, PASSWORD, app.clock.now())
        session.commit()
    lawyer_web = await logged_in(web, "吴律师")
    try:
        assert (await lawyer_web.get("/issues/2")).status_code == 404  # not yet invited
        assert (await lawyer_web.get("/issues/1")).status_code == 404
        await say(matters, "李书记: 邀请 2 吴律师")
        page = await lawyer_web.get("/issues/2")
        assert page.status_code == 200 and "内容不公开" not in page.text
        assert (await lawyer_web.get("/issues/1")).status_code == 404  # only that one
    finally:
        await lawyer_web.aclose()
