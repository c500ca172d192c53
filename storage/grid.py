"""The grid file (who is responsible for what) and its sync into the database.

Loading is idempotent: people and groups removed from the file are deactivated, never deleted,
so their history stays.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from datetime import time, timedelta
from pathlib import Path
from typing import Any

from sqlmodel import Session, select

from storage.models import KINDS, ChatGroup, GroupChat, GroupMember, Person, PersonId, Role, Village

DEFAULT_DEADLINES = {"村里事": "7d", "邻里事": "1d", "户里事": "3d"}
_DURATION = re.compile(r"^\s*(?:(\d+)\s*d)?\s*(?:(\d+)\s*h)?\s*(?:(\d+)\s*m)?\s*$")
_QUIET = re.compile(r"^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$")


class GridError(ValueError):
    """A mistake in the grid file, naming the key where it is."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"网格文件错误 {key}: {message}")
        self.key = key


@dataclass
class PersonSpec:
    name: str
    role: str
    kinds: list[str]
    ids: list[str]
    key: str


@dataclass
class GroupSpec:
    name: str
    chats: list[str]
    members: list[str] | None
    key: str


@dataclass
class VillageSpec:
    name: str
    people: list[PersonSpec] = field(default_factory=list)
    groups: list[GroupSpec] = field(default_factory=list)


@dataclass
class Grid:
    timezone: str
    quiet_hours: tuple[time, time]
    deadlines: dict[str, timedelta]
    town_name: str
    town_people: list[PersonSpec]
    villages: list[VillageSpec]
    extra: dict[str, Any] = field(default_factory=dict)  # other top-level tables (scheduler…)


def parse_duration(text: str) -> timedelta | None:
    m = _DURATION.match(text)
    if not m or not any(m.groups()):
        return None
    d, h, mi = (int(g) if g else 0 for g in m.groups())
    return timedelta(days=d, hours=h, minutes=mi)


def _str_list(value: Any, key: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise GridError(key, '应为字符串列表，如 ["a", "b"]')
    return value


def _person(raw: Any, key: str, *, town: bool) -> PersonSpec:
    if not isinstance(raw, dict):
        raise GridError(key, "应为表")
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        raise GridError(f"{key}.name", "缺少姓名")
    role = raw.get("role", Role.TOWN_LEADER if town else Role.GRID)
    if role not in {r.value for r in Role}:
        raise GridError(
            f"{key}.role", f"未知角色 '{role}'，可用：{'、'.join(r.value for r in Role)}"
        )
    kinds = _str_list(raw.get("kinds"), f"{key}.kinds")
    for k in kinds:
        if k not in KINDS:
            raise GridError(f"{key}.kinds", f"未知类别 '{k}'，可用：村里事、邻里事、户里事")
    ids = _str_list(raw.get("ids"), f"{key}.ids")
    for i in ids:
        if ":" not in i or not i.split(":", 1)[1]:
            raise GridError(f"{key}.ids", f"账号 '{i}' 应写成 平台:编号，如 telegram:10001")
    return PersonSpec(name=name.strip(), role=str(role), kinds=kinds, ids=ids, key=key)


_BARE_KEY = re.compile(r"^(\s*)([^\s\"'#\[=][^=\"']*?)(\s*=)", re.M)


def _quote_unicode_keys(text: str) -> str:
    """TOML bare keys are ASCII only, but the grid file is written by people who type
    `村里事 = "7d"`; quote such keys before parsing instead of refusing the file."""

    def fix(m: re.Match[str]) -> str:
        key = m.group(2)
        if key.isascii():
            return m.group(0)
        return f'{m.group(1)}"{key}"{m.group(3)}'

    return _BARE_KEY.sub(fix, text)


def parse_grid(text: str) -> Grid:
    try:
        raw = tomllib.loads(_quote_unicode_keys(text))
    except tomllib.TOMLDecodeError as exc:
        raise GridError("(文件)", f"TOML 格式错误：{exc}") from exc
    tz = raw.get("timezone", "Asia/Shanghai")
    try:
        from zoneinfo import ZoneInfo

        ZoneInfo(tz)
    except Exception as exc:
        raise GridError("timezone", f"未知时区 '{tz}'") from exc
    qm = _QUIET.match(str(raw.get("quiet_hours", "21:00-07:30")))
    if not qm:
        raise GridError("quiet_hours", '应写成 "21:00-07:30"')
    try:
        a, b, c, d = (int(x) for x in qm.groups())
        quiet = (time(a, b), time(c, d))
    except ValueError as exc:
        raise GridError("quiet_hours", '时间不对，应写成 "21:00-07:30"') from exc
    deadlines: dict[str, timedelta] = {}
    raw_deadlines = {**DEFAULT_DEADLINES, **(raw.get("deadlines") or {})}
    for kind, value in raw_deadlines.items():
        if kind not in KINDS:
            raise GridError(f"deadlines.{kind}", "未知类别，可用：村里事、邻里事、户里事")
        dur = parse_duration(str(value))
        if dur is None or dur <= timedelta(0):
            raise GridError(f"deadlines.{kind}", f"时限 '{value}' 应写成 7d、12h 这样")
        deadlines[kind] = dur
    town = raw.get("town") or {}
    town_people = [
        _person(p, f"town.people[{i}]", town=True) for i, p in enumerate(town.get("people") or [])
    ]
    villages: list[VillageSpec] = []
    seen_ids: dict[str, str] = {p_id: p.key for p in town_people for p_id in p.ids}
    seen_chats: dict[str, str] = {}
    seen_groups: set[str] = set()
    if len(seen_ids) != sum(len(p.ids) for p in town_people):
        raise GridError("town.people", "有重复的账号")
    for vi, v in enumerate(raw.get("villages") or []):
        vkey = f"villages[{vi}]"
        name = v.get("name") if isinstance(v, dict) else None
        if not isinstance(name, str) or not name.strip():
            raise GridError(f"{vkey}.name", "缺少村名")
        if any(x.name == name for x in villages):
            raise GridError(f"{vkey}.name", f"村名 '{name}' 重复")
        spec = VillageSpec(name=name.strip())
        for pi, p in enumerate(v.get("people") or []):
            person = _person(p, f"{vkey}.people[{pi}]", town=False)
            if any(x.name == person.name for x in spec.people):
                raise GridError(f"{person.key}.name", f"'{person.name}' 在本村重复")
            for p_id in person.ids:
                if p_id in seen_ids:
                    raise GridError(f"{person.key}.ids", f"账号 '{p_id}' 与 {seen_ids[p_id]} 重复")
                seen_ids[p_id] = person.key
            spec.people.append(person)
        for gi, g in enumerate(v.get("groups") or []):
            gkey = f"{vkey}.groups[{gi}]"
            gname = g.get("name") if isinstance(g, dict) else None
            if not isinstance(gname, str) or not gname.strip():
                raise GridError(f"{gkey}.name", "缺少群名")
            if gname in seen_groups:
                raise GridError(f"{gkey}.name", f"群名 '{gname}' 重复")
            seen_groups.add(gname)
            chats = _str_list(g.get("chats"), f"{gkey}.chats")
            for chat_key in chats:
                if chat_key in seen_chats:
                    raise GridError(
                        f"{gkey}.chats", f"群账号 '{chat_key}' 与 {seen_chats[chat_key]} 重复"
                    )
                if ":" not in chat_key:
                    raise GridError(f"{gkey}.chats", f"群账号 '{chat_key}' 应写成 平台:编号")
                seen_chats[chat_key] = gkey
            members = g.get("members")
            if members is not None:
                members = _str_list(members, f"{gkey}.members")
                names = {p.name for p in spec.people}
                for m in members:
                    if m not in names:
                        raise GridError(f"{gkey}.members", f"'{m}' 不是本村网格里的人")
            spec.groups.append(GroupSpec(name=gname, chats=chats, members=members, key=gkey))
        villages.append(spec)
    known = {"timezone", "quiet_hours", "deadlines", "town", "villages"}
    extra = {k: v for k, v in raw.items() if k not in known}
    return Grid(
        timezone=tz,
        quiet_hours=quiet,
        deadlines=deadlines,
        town_name=str(town.get("name", "")),
        town_people=town_people,
        villages=villages,
        extra=extra,
    )


def load_grid(path: str | Path) -> Grid:
    p = Path(path)
    if not p.is_file():
        raise GridError("GRID_FILE", f"找不到网格文件 {p}")
    return parse_grid(p.read_text(encoding="utf-8"))


def _sync_person(
    session: Session, spec: PersonSpec, village_id: int | None, position: int
) -> Person:
    person = session.exec(
        select(Person).where(Person.village_id == village_id, Person.name == spec.name)
    ).first()
    if person is None:
        person = Person(name=spec.name, role=spec.role, village_id=village_id)
    person.role = spec.role
    person.kinds = ",".join(spec.kinds)
    person.active = True
    person.position = position
    session.add(person)
    session.flush()
    assert person.id is not None
    for key in spec.ids:
        pid = session.exec(select(PersonId).where(PersonId.key == key)).first()
        if pid is None:
            session.add(PersonId(key=key, person_id=person.id))
        elif pid.person_id != person.id:
            pid.person_id = person.id
            session.add(pid)
    # Ids taken out of the file go; ids linked with /bind stay.
    for pid in session.exec(
        select(PersonId).where(PersonId.person_id == person.id, PersonId.from_file)
    ).all():
        if pid.key not in spec.ids:
            session.delete(pid)
    return person


def sync_grid(session: Session, grid: Grid) -> None:
    """Make the database agree with the file; deactivate what the file no longer names."""
    active_people: set[int] = set()
    active_villages: set[int] = set()
    active_groups: set[int] = set()
    for pos, spec in enumerate(grid.town_people):
        active_people.add(_sync_person(session, spec, None, pos).id or 0)
    for vpos, vspec in enumerate(grid.villages):
        village = session.exec(select(Village).where(Village.name == vspec.name)).first()
        if village is None:
            village = Village(name=vspec.name)
        village.active = True
        village.position = vpos
        session.add(village)
        session.flush()
        assert village.id is not None
        active_villages.add(village.id)
        by_name: dict[str, Person] = {}
        for pos, pspec in enumerate(vspec.people):
            person = _sync_person(session, pspec, village.id, pos)
            by_name[person.name] = person
            active_people.add(person.id or 0)
        for gpos, gspec in enumerate(vspec.groups):
            group = session.exec(select(ChatGroup).where(ChatGroup.name == gspec.name)).first()
            if group is None:
                group = ChatGroup(name=gspec.name, village_id=village.id)
            group.village_id = village.id
            group.active = True
            group.position = gpos
            session.add(group)
            session.flush()
            assert group.id is not None
            active_groups.add(group.id)
            for chat in session.exec(select(GroupChat).where(GroupChat.group_id == group.id)):
                chat.active = chat.chat_key in gspec.chats
                session.add(chat)
            for key in gspec.chats:
                bound = session.exec(select(GroupChat).where(GroupChat.chat_key == key)).first()
                if bound is None:
                    bound = GroupChat(chat_key=key, group_id=group.id)
                bound.group_id = group.id
                bound.active = True
                session.add(bound)
            for m in session.exec(select(GroupMember).where(GroupMember.group_id == group.id)):
                session.delete(m)
            member_names = (
                gspec.members
                if gspec.members is not None
                else [p.name for p in vspec.people if p.kinds]
            )
            for mpos, mname in enumerate(member_names):
                session.add(
                    GroupMember(group_id=group.id, person_id=by_name[mname].id or 0, position=mpos)
                )
    for person in session.exec(select(Person)):
        if person.id not in active_people and person.active:
            person.active = False
            session.add(person)
    for village in session.exec(select(Village)):
        if village.id not in active_villages and village.active:
            village.active = False
            session.add(village)
    for group in session.exec(select(ChatGroup)):
        if group.id not in active_groups and group.active:
            group.active = False
            session.add(group)
    session.flush()
