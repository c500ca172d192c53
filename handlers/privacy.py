"""Masking of mobile, landline and ID-card numbers in everything shown to a group, digests,
tracking pages and exports."""

from __future__ import annotations

import re

from storage.models import PRIVATE_KINDS, Kind, Role

# Mainland mobile numbers (1[3-9]x, 11 digits) and 18-character resident ID numbers, also when
# written with spaces or dashes, but not inside a longer run of digits.
_ID_CARD = re.compile(r"(?<![0-9])([1-9]\d{5})(\d{8})(\d{3}[0-9Xx])(?![0-9])")
_MOBILE = re.compile(r"(?<![0-9])(1[3-9]\d)[\s-]?(\d{4})[\s-]?(\d{4})(?![0-9])")
# Landlines: an area code (0 and 2–3 digits, maybe in brackets) and a 7–8 digit number, as
# 0571-88886666, (010)12345678, 0571 8888 6666; the area code and the last four stay.
_LANDLINE = re.compile(r"(?<![0-9])([(（]?0\d{2,3}[)）]?)[\s-]?(\d{3,4})[\s-]?(\d{4})(?![0-9])")


def mask(text: str) -> str:
    text = _ID_CARD.sub(lambda m: m.group(1) + "********" + m.group(3), text)
    text = _MOBILE.sub(lambda m: f"{m.group(1)}****{m.group(3)}", text)
    return _LANDLINE.sub(lambda m: f"{m.group(1)}-****{m.group(3)}", text)


def short(text: str, limit: int = 30) -> str:
    """The matter in a few words, masked, on one line."""
    one_line = " ".join(mask(text).split())
    return one_line if len(one_line) <= limit else one_line[: limit - 1] + "…"


def privacy_kind(kind: str, group_stub: bool = False) -> str:
    """The kind as privacy counts it: a 村里事 the group sees only as a stub (the bot was unsure
    it is not a household's or a dispute's matter) is private like 待分类 until its kind is
    confirmed."""
    return Kind.UNSORTED if group_stub and kind not in PRIVATE_KINDS else kind


def sees_text(
    issue_kind: str,
    *,
    reporter: str,
    owner_id: int | None,
    village_id: int,
    viewer_key: str | None,
    viewer_person_id: int | None,
    viewer_role: str | None,
    viewer_village_id: int | None,
    invited: bool = False,
) -> bool:
    """Whether a viewer may read an issue's own words. A 村里事 is read by whoever may see the
    issue at all; a household's or a dispute's text only by the person who reported it, its
    owner, its village's 书记 and the 镇领导: every other cadre and grid member sees the stub
    (number, kind, status), as the group does. Written once: the chat, the admin, the API.
    `invited`: a mediator the owner or the leaders asked to help settle it (邀请, issue 18),
    who is sent its words with the invitation and reads them from then on, as its owner does."""
    if issue_kind not in PRIVATE_KINDS or invited:
        return True
    if viewer_role == Role.TOWN_LEADER:
        return True
    if viewer_key is not None and viewer_key == reporter:
        return True
    if viewer_person_id is not None and viewer_person_id == owner_id:
        return True
    return viewer_role == Role.SECRETARY and viewer_village_id == village_id
