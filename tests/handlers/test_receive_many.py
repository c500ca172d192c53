"""A burst handed over at once (`receive_many`) ends exactly as the same messages one by one."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import Session, col, select

from bot.app import App
from handlers.intake import receive, receive_many
from ports.messages import Incoming
from storage.models import Inbound as InboxRow
from storage.models import Issue, Outbox

BURST = [
    ("张大爷", "村口路灯坏了，晚上看不见路"),
    ("李婶", "收到"),
    ("老周", "#邻里事 邻居家的猪跑我地里把菜啃了"),
    ("王叔", "村口的路灯坏了好几天了，黑漆漆的"),  # the same light: linked to #1
    ("赵姨", "三组那段水渠塌了，过两天要放水灌溉了"),
]


# The first line's start of each message the bot queues, in order: the acknowledgment in the
# group and the owner's private notice for each matter, nothing for 收到, the duplicate's answer.
EXPECTED_TEXTS = [
    "已登记 #1【村里事】村",
    "新事项 #1【村里事】",
    "已登记 #2【邻里事】，",
    "新事项 #2【邻里事】",
    "已有 #1 登记此事，已",
    "#1 又有人反映（共2人",
    "已登记 #3【村里事】三",
    "新事项 #3【村里事】",
]


def burst(app: App, prefix: str = "b", posts: list[tuple[str, str]] = BURST) -> list[Incoming]:
    return [
        Incoming(
            platform="local",
            chat="新联村说事群",
            sender=name,
            sender_name=name,
            text=text,
            message_id=f"{prefix}{i}",
            at=app.clock.now(),
        )
        for i, (name, text) in enumerate(posts)
    ]


def outcome(app: App) -> tuple[list[tuple[int, str, int | None, int]], list[str], list[str]]:
    """Issues, the inbox's statuses and what the bot queued, in order."""
    with Session(app.engine) as session:
        issues = [
            (i.number, i.kind, i.owner_id, i.reports)
            for i in session.exec(select(Issue).order_by(col(Issue.number)))
        ]
        statuses = [r.status for r in session.exec(select(InboxRow).order_by(col(InboxRow.id)))]
        texts = [o.text for o in session.exec(select(Outbox).order_by(col(Outbox.id)))]
    return issues, statuses, texts


@pytest.mark.parametrize("together", [False, True], ids=["one by one", "together"])
def test_a_burst_ends_as_one_by_one(app: App, together: bool) -> None:
    if together:
        handled = receive_many(app.engine, app.deps, burst(app))
    else:
        handled = [receive(app.engine, app.deps, msg) for msg in burst(app)]
    assert [h.duplicate for h in handled] == [False] * len(BURST)
    issues, statuses, texts = outcome(app)
    assert [(n, kind, reports) for n, kind, _, reports in issues] == [
        (1, "村里事", 2),
        (2, "邻里事", 1),
        (3, "村里事", 1),
    ]
    assert statuses == ["matter", "chatter", "matter", "duplicate", "matter"]
    assert [t.split("\n")[0][:12] for t in texts] == EXPECTED_TEXTS


def test_numbers_go_on_after_a_burst(app: App) -> None:
    """A burst counts its matters' numbers on from the first it took and moves the counter on
    once: the next burst and the next lone post go on from there, none handed out twice."""
    receive_many(app.engine, app.deps, burst(app))
    receive_many(
        app.engine, app.deps, burst(app, "c", [("钱伯", "二组的桥栏杆断了，孩子上学危险")] * 2)
    )
    receive(app.engine, app.deps, burst(app, "d", [("孙嫂", "五组垃圾池满了好几天没人拉")])[0])
    issues, _, _ = outcome(app)
    assert [n for n, *_ in issues] == [1, 2, 3, 4, 5]


def test_a_redelivered_message_in_a_burst_is_handled_once(app: App) -> None:
    first = burst(app)
    receive(app.engine, app.deps, first[0])
    handled = receive_many(app.engine, app.deps, first)
    assert [h.duplicate for h in handled] == [True, False, False, False, False]
    issues, statuses, _ = outcome(app)
    assert len(issues) == 3 and len(statuses) == len(BURST)


def test_one_failing_message_loses_nothing_of_the_others(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = app.deps.classifier.predict

    def flaky(text: str) -> Any:
        if "水渠" in text:
            raise RuntimeError("model file is being replaced")
        return real(text)

    monkeypatch.setattr(app.deps.classifier, "predict", flaky)
    receive_many(app.engine, app.deps, burst(app))
    issues, statuses, _ = outcome(app)
    assert [n for n, *_ in issues] == [1, 2]  # the light and the pigs
    assert statuses[-1] == "new"  # kept, handled again at the next start
    monkeypatch.setattr(app.deps.classifier, "predict", real)

    from handlers.intake import resume_pending

    assert resume_pending(app.engine, app.deps) == 1
    issues, statuses, _ = outcome(app)
    assert [n for n, *_ in issues] == [1, 2, 3] and "new" not in statuses


def test_with_a_slow_classifier_each_message_gets_its_own_transaction(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An LLM's second opinion may take seconds: a burst's transaction would hold SQLite's write
    lock (taken by its first matter) while a later post waits, so a burst goes one by one."""
    commits: list[int] = []
    from sqlalchemy import event

    event.listen(app.engine, "commit", lambda conn: commits.append(1))
    monkeypatch.setattr(app.deps.classifier, "slow", True, raising=False)
    receive_many(app.engine, app.deps, burst(app))
    assert len(commits) == len(BURST)
    monkeypatch.setattr(app.deps.classifier, "slow", False, raising=False)
    receive_many(app.engine, app.deps, burst(app, prefix="c"))
    assert len(commits) == len(BURST) + 1


def test_a_conflict_that_is_not_a_redelivery_keeps_the_message(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A unique-key conflict elsewhere (say, two instances racing for something) must not be
    taken for a redelivered message: the post is kept as "new" and handled at the next start."""
    from sqlalchemy.exc import IntegrityError

    from handlers.intake import resume_pending
    from storage import writes

    real = writes.insert_issue

    def conflict(*args: Any, **kwargs: Any) -> int:
        raise IntegrityError("INSERT INTO issue", {}, Exception("UNIQUE constraint failed"))

    monkeypatch.setattr(writes, "insert_issue", conflict)
    [first, *_] = burst(app)
    handled = receive(app.engine, app.deps, first)
    assert not handled.duplicate and handled.inbound_id is not None
    issues, statuses, texts = outcome(app)
    assert (issues, statuses, texts) == ([], ["new"], [])

    monkeypatch.setattr(writes, "insert_issue", real)
    assert resume_pending(app.engine, app.deps) == 1
    issues, statuses, _ = outcome(app)
    assert [n for n, *_ in issues] == [1] and statuses == ["matter"]


def _history(app: App) -> tuple[list[tuple[int, str, int | None]], list[tuple[int, str]], int]:
    """Issues (number, status, owner), their events, and the scheduler's check rows."""
    from storage.models import Event, IssueCheck

    with Session(app.engine) as session:
        issues = [
            (i.number, i.status, i.owner_id)
            for i in session.exec(select(Issue).order_by(col(Issue.number)))
        ]
        events = [(e.issue_id, e.kind) for e in session.exec(select(Event).order_by(col(Event.id)))]
        checks = len(session.exec(select(IssueCheck)).all())
    return issues, events, checks


@pytest.mark.parametrize("together", [False, True], ids=["one by one", "together"])
def test_a_command_in_a_burst_sees_what_the_posts_before_it_wrote(app: App, together: bool) -> None:
    """A burst's events, queued messages and scheduler checks are written at its end, one
    statement per table: a claim and a status query in the burst still see the matter they
    name, its history and checks come out as one by one, and the messages keep their order."""
    msgs = burst(
        app,
        "c",
        [
            ("张大爷", "村口路灯坏了，晚上看不见路"),
            ("张姐", "认领 1"),
            ("张大爷", "查询 1"),
            ("赵姨", "三组那段水渠塌了，过两天要放水灌溉了"),
        ],
    )
    if together:
        receive_many(app.engine, app.deps, msgs)
    else:
        for msg in msgs:
            receive(app.engine, app.deps, msg)
    issues, events, checks = _history(app)
    assert [(n, status) for n, status, _ in issues] == [(1, "claimed"), (2, "open")]
    assert [kind for issue_id, kind in events if issue_id == 1] == [
        "created",
        "assigned",
        "claimed",
    ]
    assert checks == 2  # one scheduler check per active issue, none twice
    _, statuses, texts = outcome(app)
    assert statuses == ["matter", "command", "command", "matter"]
    # In the order they were queued: the claim's answer after the notices of #1, the status
    # answer showing the claim, then #2's (to 王哥, who has fewer open matters now).
    assert [t.split("\n")[0][:9] for t in texts] == [
        "已登记 #1【村里",
        "新事项 #1【村里",
        "#1 已由张姐认领",
        "#1【村里事】办理",
        "已登记 #2【村里",
        "新事项 #2【村里",
    ]
