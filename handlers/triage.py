"""A person decides the posts the bot is unsure of (分流 by a human): nothing a villager says is
dropped without someone seeing it.

An unsure post (status "unsure": a problem signal, or a matter probability between the low and
the group threshold) gets no answer in the group yet. Its card goes privately to the group's
first pool member who takes the likely kind: the post, who said it, the guessed kind, and
[登记] [不是事项] (on WeChat and the local chat the keywords `登记 帖5` / `不是 帖5`). The card
is a held scheduler row (table reminder, stage "triage"), so the scheduler merges a person's
cards into one message, at most one per few minutes, and keeps them out of the quiet hours
(scheduler/notices.py). 登记 registers the post as if the bot had been sure: the villager gets
the usual acknowledgment in the group, as a reply to their post. A card nobody answered in 4
hours goes into the village 书记's daily to-do (scheduler/periodic.py). Every answer is kept
as a labeled example (handlers/register.py).
"""

from __future__ import annotations

import re
from datetime import timedelta

from handlers import register, texts
from handlers.actions import Actor, Ctx, Outcome
from handlers.directory import GroupInfo
from handlers.privacy import short
from storage import schedule
from storage.models import KINDS, Kind, Person

STAGE = "triage"
# Cards wait this long for company before they go out: all of a person's cards of a few
# minutes arrive as one message (a busy group would otherwise buzz a phone for every post).
GATHER = timedelta(minutes=3)
# A card unanswered this long goes into the 书记's daily to-do.
UNANSWERED = timedelta(hours=4)
BUTTONS_PER_MESSAGE = 4  # cards with buttons in one merged message (Telegram keeps rows short)

# "登记 帖5", "登记帖5 户里事", "不是 帖 5": only with the 帖 number, so that a villager's
# "不是，我是说…" stays a post.
_ANSWER = re.compile(r"^\s*(登记|不是|不是事项)\s*帖\s*([0-9]{1,9})\s*(村里事|邻里事|户里事)?\s*$")


def parse_answer(text: str) -> tuple[bool, int, str | None] | None:
    """(register?, post number, kind chosen) from a keyword answer to a card; else None."""
    m = _ANSWER.match(text)
    if m is None:
        return None
    return m.group(1) == "登记", int(m.group(2)), m.group(3)


def card_person(ctx: Ctx, group: GroupInfo, kind: str) -> Person | None:
    """The group's first pool member who takes the likely kind (else the pool's first)."""
    members = ctx.deps.directory.pool(ctx.session, village_id=group.village_id, group_id=group.id)
    takers = [p for p in members if kind in p.kind_list()]
    return next(iter(takers or members), None)


def send_card(
    ctx: Ctx, *, post_id: int, group: GroupInfo, sender_name: str, text: str, kind: str
) -> bool:
    """Owe the card for an unsure post to its person (merged and sent by the scheduler)."""
    person = card_person(ctx, group, kind)
    if person is None or person.id is None:
        return False
    card = texts.TRIAGE_CARD.format(
        post=post_id,
        name=sender_name,
        group=group.name,
        kind=kind if kind in KINDS else Kind.VILLAGE,
        text=short(text, 80),
    )
    row = schedule.reminder_row(
        key=f"{STAGE}:{post_id}>{person.id}@{ctx.platform}",
        person_id=person.id,
        stage=STAGE,
        due_at=ctx.now,
        created_at=ctx.now,
        text=card,
    )
    schedule.owe(session=ctx.session, rows=[row])
    return True


def buttons_for(post_ids: list[int]) -> list[tuple[str, str]]:
    """The buttons of a message holding these cards (the first few; the text names the
    keywords for all)."""
    out: list[tuple[str, str]] = []
    for post_id in post_ids[:BUTTONS_PER_MESSAGE]:
        out.append((texts.TRIAGE_BUTTON_REGISTER.format(post=post_id), f"reg:{post_id}"))
        out.append((texts.TRIAGE_BUTTON_DISMISS.format(post=post_id), f"notm:{post_id}"))
    return out


def answer(ctx: Ctx, actor: Actor, *, register_it: bool, post_id: int, kind: str | None) -> Outcome:
    """A card's answer: register the post (as the guessed kind unless one is named) or mark
    it as not a matter. Who may: the grid of the post's village (handlers/register.py)."""
    if not register_it:
        return register.dismiss_post(ctx, post_id, actor)
    chosen = kind or register.guessed_kind(ctx, post_id)
    return register.register_post(ctx, post_id, chosen, actor)


def platform_of(key: str) -> str:
    """Where a card's post was said ("triage:5>3@wechat" → wechat): the card goes there."""
    return key.rpartition("@")[2] if "@" in key else ""


def post_id_of(key: str) -> int | None:
    """The post a card's scheduler row is about ("triage:5>3@wechat" → 5)."""
    if not key.startswith(STAGE + ":"):
        return None
    number = key[len(STAGE) + 1 :].split(">", 1)[0]
    return int(number) if number.isdigit() else None
