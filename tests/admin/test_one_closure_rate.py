"""办结率 is defined once (storage.figures.closure_rate): the same week shows the same figure in
the weekly digest, on the 统计 page, in the API and in the digest's chart, and a later closing
does not change a past week's figure."""

from __future__ import annotations

import re

import httpx
import pytest
from sqlmodel import Session, select

from bot.app import App
from scheduler import digest
from storage.models import Village
from tests.admin.conftest import login, say
from tests.conftest import Chat
from tests.scheduler.test_digest import WEEK

pytestmark = pytest.mark.asyncio

W48 = "weeks=4&until=2026-11-29"  # 11-02 … 11-29: nothing before week 48 in the script


def digest_of(app: App, name: str) -> digest.Figures:
    with Session(app.engine) as session:
        village = session.exec(select(Village).where(Village.name == name)).one()
        return digest.village_figures(session, village, digest.Week.parse("2026-W48", app.clock.tz))


def week_row(html: str, label: str) -> list[str]:
    """The cells of one row of the 统计 page's tables."""
    row = re.search(rf"<tr[^>]*><td>{label}[^<]*</td>(.*?)</tr>", html, re.S)
    assert row, label
    return re.findall(r"<td>([^<]*)", row.group(1))


async def test_the_same_week_shows_the_same_closure_rate_everywhere(
    client: httpx.AsyncClient, app: App
) -> None:
    chat = Chat(app)
    await say(chat, WEEK)
    f, s = digest_of(app, "新联村"), digest_of(app, "石桥村")
    # By hand: 新联村 registered 6 in week 48, #7 withdrawn, #1 #2 #6 closed: 3 of 5.
    assert (f.new, f.withdrawn_of_new, f.closed_of_new) == (6, 1, 3)
    assert f.closure_rate == pytest.approx(3 / 5)
    assert "办结率60%（本周新增、未撤回的5件中已办结3件）" in digest.village_text(f)
    town = digest.total([f, s], "全镇", f.week)
    assert town.closure_rate == pytest.approx(4 / 6)
    assert "办结率67%" in digest.town_text([f, s], "青石镇", f.week)

    await login(client, "李书记")
    api = (await client.get(f"/api/stats?{W48}")).json()
    assert api["total"]["closure_rate"] == pytest.approx(f.closure_rate)
    assert api["by_week"]["2026-11-23"]["closure_rate"] == pytest.approx(f.closure_rate)
    page = (await client.get(f"/stats?{W48}")).text
    assert week_row(page, "11-23")[:3] == ["6", "3", "60%"]
    assert week_row(page, "合计")[:3] == ["6", "3", "60%"]

    await login(client, "陈镇长")
    api = (await client.get(f"/api/stats?{W48}")).json()
    assert api["by_village"]["新联村"]["closure_rate"] == pytest.approx(f.closure_rate)
    assert api["by_village"]["石桥村"]["closure_rate"] == pytest.approx(s.closure_rate)
    assert api["total"]["closure_rate"] == pytest.approx(town.closure_rate)
    page = (await client.get(f"/stats?{W48}")).text
    assert week_row(page, "新联村")[2] == "60%" and week_row(page, "合计")[2] == "67%"

    # #3 is closed in week 49: week 48 keeps its 60% everywhere (the digest sent on Monday
    # still agrees with the page); a period that takes in week 49 counts it (4 of 5).
    await say(chat, "@at 2026-12-01 10:00\n张姐: 办结 3 已修好屋顶")
    again = digest_of(app, "新联村")
    assert again.closure_rate == pytest.approx(3 / 5)
    await login(client, "李书记")
    api = (await client.get(f"/api/stats?{W48}")).json()
    assert api["total"]["closure_rate"] == pytest.approx(3 / 5)
    later = (await client.get("/api/stats?weeks=4&until=2026-12-06")).json()
    assert later["by_week"]["2026-11-23"]["closure_rate"] == pytest.approx(3 / 5)
    assert later["total"]["closure_rate"] == pytest.approx(4 / 5)
