"""Binding a chat named by its title in the grid (`wechat-topic:…`) to the id seen first."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sqlmodel import Session, select

from bot.app import App
from storage.chat_binding import bind_by_topic, bound_chat, group_of_chat
from storage.grid import sync_grid
from storage.models import ChatGroup, GroupChat
from tests.wechat.conftest import wechat_grid


def test_the_first_room_with_the_topic_is_bound_and_stays_bound(
    make_app: Callable[..., App], tmp_path: Path
) -> None:
    app = make_app(grid=wechat_grid(tmp_path))
    grid = app.deps.grid
    with Session(app.engine) as session:
        assert group_of_chat(session, chat_key="wechat:a@chatroom") is None
        for topic in ("闲聊", "", "新联村说事群"):  # not named by topic in the grid
            assert not bind_by_topic(
                session, grid=grid, platform="wechat", chat="a@chatroom", topic=topic
            )
        group_id = bind_by_topic(
            session, grid=grid, platform="wechat", chat="a@chatroom", topic="石桥村说事群"
        )
        group = session.get(ChatGroup, group_id)
        assert group is not None and group.name == "石桥村说事群"
        assert group_of_chat(session, chat_key="wechat:a@chatroom") == group_id
        # A second room with the same topic is not bound: the title belongs to the first.
        assert not bind_by_topic(
            session, grid=grid, platform="wechat", chat="b@chatroom", topic="石桥村说事群"
        )
        assert bound_chat(session, grid=grid, platform="wechat", topic="石桥村说事群") == (
            "wechat:a@chatroom"
        )
        session.commit()

        # A restart syncs the grid again, which turns the binding off (the file does not name
        # the id); seeing the room again turns it back on, and still only that room.
        sync_grid(session, grid)
        session.commit()
        assert group_of_chat(session, chat_key="wechat:a@chatroom") is None
        assert not bind_by_topic(
            session, grid=grid, platform="wechat", chat="b@chatroom", topic="石桥村说事群"
        )
        assert (
            bind_by_topic(
                session, grid=grid, platform="wechat", chat="a@chatroom", topic="石桥村说事群"
            )
            == group_id
        )
        session.commit()
        rows = session.exec(select(GroupChat).where(GroupChat.group_id == group_id)).all()
        assert {r.chat_key for r in rows if r.active} == {
            "local:石桥村说事群",
            "wechat-topic:石桥村说事群",
            "wechat:a@chatroom",
        }


def test_rooms_the_file_names_by_id_do_not_count_as_a_binding(
    make_app: Callable[..., App], tmp_path: Path
) -> None:
    # 新联村说事群 lists wechat:20999@chatroom by id; a topic entry next to it still binds.
    grid_file = wechat_grid(tmp_path)
    text = grid_file.read_text(encoding="utf-8").replace(
        '"wechat:20999@chatroom"]', '"wechat:20999@chatroom", "wechat-topic:新联村二群"]'
    )
    grid_file.write_text(text, encoding="utf-8")
    app = make_app(grid=grid_file)
    with Session(app.engine) as session:
        group_id = bind_by_topic(
            session, grid=app.deps.grid, platform="wechat", chat="c@chatroom", topic="新联村二群"
        )
        group = session.get(ChatGroup, group_id)
        assert group is not None and group.name == "新联村说事群"
