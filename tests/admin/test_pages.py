"""The pages as a cadre uses them: every change goes through the chat's handler functions, so
it is an event on the timeline with its author and the people concerned are told in the chat."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from sqlmodel import Session, select

from bot.app import App
from handlers.clock import FakeClock
from storage.models import Inbound, Person
from tests.admin.conftest import (
    events,
    issue,
    last_outbox_id,
    login,
    outbox,
    post_form,
    say,
    sqlite_only,
)
from tests.conftest import Chat

pytestmark = pytest.mark.asyncio


def person_id(app: App, name: str) -> int:
    with Session(app.engine) as session:
        return session.exec(select(Person).where(Person.name == name)).one().id or 0


async def test_every_action_is_the_chat_code_path(
    client: httpx.AsyncClient, matters: Chat, app: App
) -> None:
    await login(client, "李书记")
    page = "/issues/1"

    mark = last_outbox_id(app)
    r = await post_form(client, page, "/issues/1/assign", {"person": str(person_id(app, "王哥"))})
    assert r.status_code == 303 and r.headers["location"] == page
    assert events(app, 1)[-1] == ("assigned", "李书记", "王哥")
    told = outbox(app, mark)
    assert len(told) == 2 and told[0].recipient == "王哥" and told[0].private
    assert "李书记把 #1" in told[0].text and "路灯" in told[0].text
    # The one who had it is told it is no longer theirs.
    assert told[1].recipient == "张姐" and told[1].private and "王哥" in told[1].text
    assert "已指派给王哥" in (await client.get(page)).text  # the handler's own answer

    mark = last_outbox_id(app)
    await post_form(client, page, "/issues/1/due", {"due": "2026-11-25T18:00"})
    kind, actor, detail = events(app, 1)[-1]
    assert (kind, actor) == ("due", "李书记") and detail.startswith("2026-11-25T18:00")
    assert issue(app, 1).due_at.astimezone(app.clock.tz).hour == 18
    told = outbox(app, mark)
    assert [m.recipient for m in told] == ["王哥"] and "11月25日 18:00" in told[0].text

    await post_form(client, page, "/issues/1/kind", {"kind": "邻里事"})
    assert events(app, 1)[-1] == ("kind", "李书记", "村里事→邻里事")
    await post_form(client, page, "/issues/1/kind", {"kind": "村里事"})

    mark = last_outbox_id(app)
    await post_form(client, page, "/issues/1/note", {"text": "已联系电工，明天来"})
    assert events(app, 1)[-1] == ("note", "李书记", "已联系电工，明天来")
    assert any("已联系电工" in m.text and m.recipient == "王哥" for m in outbox(app, mark))

    mark = last_outbox_id(app)
    await post_form(client, page, "/issues/1/close", {"result": "已换新灯泡"})
    assert events(app, 1)[-1] == ("closed", "李书记", "已换新灯泡")
    assert issue(app, 1).status == "closed" and issue(app, 1).settled_level == "village"
    told = outbox(app, mark)
    group = [m for m in told if not m.private]
    assert group and group[0].recipient == "新联村说事群" and "已换新灯泡" in group[0].text
    assert group[0].mention == "local:张大爷"  # the reporter is asked to rate, in the group

    mark = last_outbox_id(app)
    await post_form(client, page, "/issues/1/reopen", {"reason": "灯又不亮了"})
    assert events(app, 1)[-1] == ("reopened", "李书记", "灯又不亮了")
    assert issue(app, 1).status == "open"
    assert any("灯又不亮了" in m.text and m.recipient == "王哥" for m in outbox(app, mark))

    timeline = (await client.get(page)).text
    for label in ("指派", "改限期", "改类", "进展", "办结", "重办"):
        assert f"<b>{label}</b> 李书记" in timeline


async def test_refusals_change_nothing(client: httpx.AsyncClient, matters: Chat, app: App) -> None:
    await login(client, "李书记")
    before, mark = events(app, 1), last_outbox_id(app)
    await post_form(client, "/issues/1", "/issues/1/close", {"result": "  "})
    assert "办结要写结果" in (await client.get("/issues/1")).text
    await post_form(client, "/issues/1", "/issues/1/due", {"due": "2020-01-01T00:00"})
    assert "期限不能早于现在" in (await client.get("/issues/1")).text
    await post_form(client, "/issues/1", "/issues/1/due", {"due": "下辈子"})
    assert "看不懂这个期限" in (await client.get("/issues/1")).text
    await post_form(client, "/issues/1", "/issues/1/reopen", {"reason": ""})
    assert "还在办理中" in (await client.get("/issues/1")).text
    other = str(person_id(app, "刘叔"))  # 石桥村
    await post_form(client, "/issues/1", "/issues/1/assign", {"person": other})
    assert "新联村网格里没有" in (await client.get("/issues/1")).text  # and whom it may be
    assert events(app, 1) == before and outbox(app, mark) == []


@sqlite_only
async def test_detail_masks_numbers_for_those_who_may_not_see_them(
    client: httpx.AsyncClient, matters: Chat, app: App
) -> None:
    await say(matters, "老周: 村东头电线杆歪了，快倒了，电话13900001111")  # #4 村里事, 张姐's
    await login(client, "王哥")  # not the owner of #4, not a secretary
    page = (await client.get("/issues/4")).text
    assert "139****1111" in page and "13900001111" not in page
    assert "139****1111" in (await client.get("/api/issues/4")).json()["text"]
    await login(client, "张姐")  # the owner sees it in full
    assert "13900001111" in (await client.get("/issues/4")).text
    assert "13900001111" not in (await client.get("/issues")).text  # lists are always masked
    await login(client, "王哥")  # the owner of #2 (邻里事) sees it in full
    assert "13812345678" in (await client.get("/issues/2")).text


async def test_list_filters_sort_and_counts(
    client: httpx.AsyncClient, matters: Chat, app: App
) -> None:
    await say(matters, "王婶: 村里垃圾桶满了没人清，路灯也不亮")  # #4 村里事
    await login(client, "陈镇长")
    assert "共 <b>4</b> 件" in (await client.get("/issues")).text
    r = await client.get("/issues?q=路灯")
    assert "#1<" in r.text and "#4<" in r.text and "#2<" not in r.text
    assert "共 <b>2</b> 件" in r.text
    assert "#4<" in (await client.get("/issues?q=垃圾 路灯")).text
    assert "#1<" not in (await client.get("/issues?q=垃圾 路灯")).text
    r = await client.get("/issues?kind=邻里事")
    assert "#2<" in r.text and "共 <b>1</b> 件" in r.text
    r = await client.get(f"/issues?owner={person_id(app, '王哥')}")
    assert "#2<" in r.text and "#1<" not in r.text
    r = await client.get("/issues?status=closed")
    assert "共 <b>0</b> 件" in r.text
    r = await client.get("/issues?sort=old")
    assert r.text.index("#1<") < r.text.index("#4<")
    r = await client.get("/issues?sort=new")
    assert r.text.index("#4<") < r.text.index("#1<")
    r = await client.get("/issues?from=2026-11-24")
    assert "共 <b>0</b> 件" in r.text
    r = await client.get("/issues?per_page=2")
    assert "第 1 / 2 页" in r.text and "page=2" in r.text
    # Overdue: move past the 邻里事's one-day limit.
    assert isinstance(app.clock, FakeClock)
    app.clock.advance(timedelta(days=2))
    await login(client, "陈镇长")  # a log-in lasts 12 hours
    r = await client.get("/issues?overdue=1")
    assert "#2<" in r.text and "#1<" not in r.text and "超期 <b>1</b>" in r.text
    assert "1天" in r.text
    # Bad values are ignored, not errors.
    assert (await client.get("/issues?village=x&kind=y&status=z&sort=w&page=-3")).status_code == 200


async def test_a_script_tag_is_shown_as_text_everywhere(
    client: httpx.AsyncClient, chat: Chat, app: App
) -> None:
    evil = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    await say(chat, f"张大爷: 村口路灯坏了 {evil}")
    with Session(app.engine) as session:
        session.add(
            Inbound(
                platform="local",
                chat="新联村说事群",
                message_id="evil-unsure",
                sender="local:王婶",
                sender_name=f"王婶{evil}",
                text=f"不知道算不算事 {evil}",
                received_at=app.clock.now(),
                status="unsure",
            )
        )
        session.commit()
    await login(client, "李书记")
    for path in ("/issues", "/issues/1", "/posts", "/chat", "/chat/feed", "/stats"):
        body = (await client.get(path)).text
        assert "<script>alert" not in body and "<img src=x" not in body, path
        if path != "/stats":
            assert "&lt;script&gt;" in body, path
    assert evil in (await client.get("/api/issues/1")).json()["text"]  # JSON carries the text


async def test_an_unregistered_post_is_registered_like_the_bot_would(
    client: httpx.AsyncClient, app: App
) -> None:
    with Session(app.engine) as session:
        post = Inbound(
            platform="local",
            chat="新联村说事群",
            message_id="u1",
            sender="local:王婶",
            sender_name="王婶",
            text="我家门口那条沟好像有点堵",
            received_at=app.clock.now(),
            status="unsure",
        )
        kept = Inbound(
            platform="local",
            chat="新联村说事群",
            message_id="u2",
            sender="local:老周",
            sender_name="老周",
            text="今天天气不错啊大家",
            received_at=app.clock.now(),
            status="unsure",
        )
        session.add(post)
        session.add(kept)
        session.commit()
        post_id, kept_id = post.id, kept.id
    await login(client, "李书记")
    listing = await client.get("/posts")
    assert "那条沟" in listing.text and "天气不错" in listing.text
    mark = last_outbox_id(app)
    r = await post_form(client, "/posts", f"/posts/{post_id}/register", {"kind": "村里事"})
    assert r.status_code == 303
    assert "已登记为 #1" in (await client.get("/posts")).text
    i = issue(app, 1)
    assert (i.kind, i.reporter_name, i.text) == ("村里事", "王婶", "我家门口那条沟好像有点堵")
    assert [k for k, _, _ in events(app, 1)][-1] == "registered"
    told = outbox(app, mark)
    ack = next(m for m in told if not m.private)
    assert ack.recipient == "新联村说事群" and "#1" in ack.text and ack.reply_to == "u1"
    assert any(m.private and "#1" in m.text for m in told)  # the owner is told
    # Dismissed: no longer listed, nothing said.
    mark = last_outbox_id(app)
    await post_form(client, "/posts", f"/posts/{kept_id}/dismiss", {})
    assert "天气不错" not in (await client.get("/posts")).text
    assert outbox(app, mark) == []
    with Session(app.engine) as session:
        statuses = {row.message_id: row.status for row in session.exec(select(Inbound))}
    assert statuses == {"u1": "registered", "u2": "chatter"}
    try:  # the decisions are kept for the classifier, where the project keeps examples
        from storage.models import LabeledExample  # type: ignore[attr-defined]
    except ImportError:
        pass
    else:
        with Session(app.engine) as session:
            kept = {(e.label, e.source) for e in session.exec(select(LabeledExample))}
        assert kept == {("村里事", "admin:李书记"), ("非事项", "admin:李书记")}
    # Deciding again is refused; another village may not decide.
    await post_form(client, "/posts", f"/posts/{post_id}/register", {"kind": "村里事"})
    assert "处理过了" in (await client.get("/posts")).text


@sqlite_only
async def test_another_village_may_not_register_a_post(client: httpx.AsyncClient, app: App) -> None:
    with Session(app.engine) as session:
        post = Inbound(
            platform="local",
            chat="新联村说事群",
            message_id="u1",
            sender="local:王婶",
            sender_name="王婶",
            text="沟堵了",
            received_at=app.clock.now(),
            status="unsure",
        )
        session.add(post)
        session.commit()
        post_id = post.id
    await login(client, "赵书记")
    assert "沟堵了" not in (await client.get("/posts")).text
    await post_form(client, "/posts", f"/posts/{post_id}/register", {"kind": "村里事"})
    assert "不是您村里的" in (await client.get("/posts")).text
    with Session(app.engine) as session:
        assert session.get(Inbound, post_id).status == "unsure"  # type: ignore[union-attr]


async def test_stats_page_and_api_figures(
    client: httpx.AsyncClient, matters: Chat, app: App
) -> None:
    await say(matters, "张姐: 办结 1 已换新灯泡\n张大爷: 满意")
    await login(client, "陈镇长")
    page = await client.get("/stats?weeks=4")
    assert page.status_code == 200 and "<svg" in page.text and "各村办结率" in page.text
    s = (await client.get("/api/stats?weeks=4")).json()
    total = s["total"]
    assert total["new"] == 3 and total["closed"] == 1 and total["rated"] == 1
    assert total["closure_rate"] == pytest.approx(1 / 3) and total["satisfaction"] == 1.0
    assert total["on_time_rate"] == 1.0 and total["levels"] == {"group": 1}
    assert s["by_village"]["新联村"]["new"] == 2 and s["by_village"]["石桥村"]["new"] == 1
    assert s["by_kind"]["邻里事"]["new"] == 1 and s["by_person"]["张姐"]["closed"] == 1
    assert list(s["by_week"]) == ["2026-11-02", "2026-11-09", "2026-11-16", "2026-11-23"]
    assert s["by_week"]["2026-11-23"]["new"] == 3
    await login(client, "赵书记")  # one village: only its figures
    s = (await client.get("/api/stats?weeks=4")).json()
    assert s["total"]["new"] == 1 and list(s["by_village"]) == ["石桥村"]


@sqlite_only
async def test_a_closed_issue_offers_only_what_can_still_be_done(
    client: httpx.AsyncClient, matters: Chat, app: App
) -> None:
    await login(client, "李书记")
    page = (await client.get("/issues/1")).text
    for form in ("assign", "due", "kind", "close"):
        assert f'action="/issues/1/{form}"' in page
    await post_form(client, "/issues/1", "/issues/1/close", {"result": "已换新灯泡"})
    page = (await client.get("/issues/1")).text
    for form in ("assign", "due", "kind", "close"):
        assert f'action="/issues/1/{form}"' not in page, form
    assert 'action="/issues/1/reopen"' in page and 'action="/issues/1/note"' in page


@sqlite_only
async def test_the_menu_leads_to_the_qrcode_page_for_those_who_may_use_it(
    client: httpx.AsyncClient,
) -> None:
    """说事码 is in the navigation of a 书记 and a 镇领导 (who may print posters), and there it
    says where one is; a 网格员 does not see it."""
    for name in ("李书记", "陈镇长"):
        await login(client, name)
        assert '<a href="/qrcode">说事码</a>' in (await client.get("/issues")).text
        here = (await client.get("/qrcode")).text
        assert '<a href="/qrcode" class="on" aria-current="page">说事码</a>' in here
    await login(client, "张姐")
    assert 'href="/qrcode"' not in (await client.get("/issues")).text


async def test_a_forged_assignment_to_someone_outside_the_village_changes_nothing(
    client: httpx.AsyncClient, matters: Chat, app: App
) -> None:
    """The form sends a person's id; one of another village's people (石桥村's 赵书记) or a town
    mediator on a 村里事 is refused with the names that may be chosen, and nothing changes."""
    await login(client, "李书记")
    before = (issue(app, 1).owner_id, len(events(app, 1)), last_outbox_id(app))
    for name in ("赵书记", "吴律师"):
        r = await post_form(
            client, "/issues/1", "/issues/1/assign", {"person": str(person_id(app, name))}
        )
        assert r.status_code == 303
        page = (await client.get("/issues/1")).text
        assert f"没有“{name}”" in page and "可指派" in page
    assert (issue(app, 1).owner_id, len(events(app, 1)), last_outbox_id(app)) == before
