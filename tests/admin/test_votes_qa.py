"""议事 from the issue page as a 书记 fills it in: choices written with spaces or Chinese
commas are the choices (not words added to the question)."""

from __future__ import annotations

import httpx
import pytest
from sqlmodel import Session, select

from bot.app import App
from storage import votes
from storage.models import Vote
from tests.admin.conftest import login, post_form, say
from tests.conftest import Chat

pytestmark = pytest.mark.asyncio


async def test_choices_typed_with_spaces_or_commas_are_the_choices(
    client: httpx.AsyncClient, app: App, chat: Chat
) -> None:
    await say(chat, "张大爷: #村里事 村口的路坑坑洼洼，下雨全是泥")
    await login(client, "李书记")
    data = {"question": "修村口路怎么出力", "choices": "出工 出钱，都行", "span": "2天"}
    await post_form(client, "/issues/1", "/issues/1/vote", data)
    with Session(app.engine) as session:
        vote = session.exec(select(Vote)).one()
    assert vote.question == "修村口路怎么出力"
    assert votes.choices_of(vote) == ["出工", "出钱", "都行"]
