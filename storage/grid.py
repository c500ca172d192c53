"""The grid file (who is responsible for what) and its sync into the database.

Loading is idempotent: people and groups removed from the file are deactivated, never deleted,
so their history stays.
"""

from __future__ import annotations

import logging
import re
import tomllib
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any

from sqlmodel import Session, select

from storage.models import (
    KINDS,
    ChatGroup,
    GroupChat,
    GroupMember,
    Person,
    PersonId,
    Role,
    Team,
    TeamMember,
    Village,
)

log = logging.getLogger(__name__)

# What a title means for the product (its duty), for the titles villages and towns write. A
# title not in this table is a 村干部 (with a warning); `duty = "…"` beside a person's `role`
# overrides the table. README "网格文件" shows the same table.
DUTIES: dict[str, Role] = {
    **dict.fromkeys(
        ("镇领导", "镇长", "副镇长", "镇党委书记", "镇委书记", "党委书记", "党委副书记"),
        Role.TOWN_LEADER,
    ),
    **dict.fromkeys(("乡长", "副乡长", "乡党委书记", "街道主任", "包村领导"), Role.TOWN_LEADER),
    **dict.fromkeys(
        ("书记", "村书记", "支书", "党支部书记", "村党支部书记", "党总支书记", "村党总支书记"),
        Role.SECRETARY,
    ),
    # 一肩挑: most villages' 书记 is also the 村委会主任, and the file says so.
    **dict.fromkeys(
        (
            "书记兼主任",
            "书记兼村主任",
            "支书兼主任",
            "书记兼村委会主任",
            "村党支部书记兼村委会主任",
        ),
        Role.SECRETARY,
    ),
    **dict.fromkeys(
        ("村干部", "主任", "村主任", "村委会主任", "副主任", "副书记", "第一书记", "驻村干部"),
        Role.CADRE,
    ),
    **dict.fromkeys(
        ("委员", "村委委员", "会计", "报账员", "文书", "妇女主任", "治保主任", "监委会主任"),
        Role.CADRE,
    ),
    **dict.fromkeys(
        ("网格员", "网格长", "专职网格员", "组长", "村民小组长", "社长", "队长", "十户长"),
        Role.GRID,
    ),
    **dict.fromkeys(("楼长", "联户长", "志愿者"), Role.GRID),
    **dict.fromkeys(
        ("调解员", "人民调解员", "律师", "法律顾问", "民警", "辅警", "社工", "法官"),
        Role.MEDIATOR,
    ),
}
SAME_DAY = "当天"  # a deadline: before the quiet hours start that day (纠纷不过夜)
# A 当天 matter told with less than this left before the quiet hours is due the next evening:
# a dispute told at 20:40 cannot be settled by 21:00, and its town rung (one limit after the
# deadline) would reach the 镇领导 the next morning together with the village's overdue notice.
SAME_DAY_LEAST = timedelta(hours=2)

DEFAULT_DEADLINES = {"村里事": "7d", "邻里事": "1d", "户里事": "3d"}
# "7d", "12h", "1d12h", or as a village writes it: "7天", "12小时", "30分钟".
_DURATION = re.compile(
    r"^\s*(?:(\d+)\s*(?:d|天))?\s*(?:(\d+)\s*(?:h|个?小时))?\s*(?:(\d+)\s*(?:m|分钟|分))?\s*$"
)
# "21:00-07:30", also as a Chinese keyboard types it: "21：00 - 07：30", "21:00~07:30".
_QUIET = re.compile(r"^\s*(\d{1,2})[:：](\d{2})\s*[-－~～—至到]\s*(\d{1,2})[:：](\d{2})\s*$")


class GridError(ValueError):
    """A mistake in the grid file, naming the key where it is."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"网格文件错误 {key}: {message}")
        self.key = key


@dataclass
class PersonSpec:
    name: str
    role: str  # the duty (镇领导, 书记, 村干部, 网格员, 调解员): what the product acts on
    kinds: list[str]
    ids: list[str]
    key: str
    title: str = ""  # as written in the file (主任, 组长…); shown to people
    serves: list[str] = field(default_factory=list)  # a town mediator's villages (empty: all)
    duty_written: bool = False  # the file wrote `duty` (it says which one is the 书记)


@dataclass
class TeamSpec:
    """A villagers' group (组): `[[villages.teams]]`."""

    name: str
    aliases: list[str]
    people: list[str]  # names of the village's people (组长, 十户长…)
    key: str


@dataclass
class KindSettings:
    """One kind's settings: `[kinds.邻里事]` (deadline = "当天" | "1d" …). A new per-kind key
    (回访 days…) is a field here and a line in `_kind_settings`."""

    deadline: timedelta | None = None
    same_day: bool = False


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
    teams: list[TeamSpec] = field(default_factory=list)


@dataclass
class Grid:
    timezone: str
    quiet_hours: tuple[time, time]
    deadlines: dict[str, timedelta]
    town_name: str
    town_people: list[PersonSpec]
    villages: list[VillageSpec]
    extra: dict[str, Any] = field(default_factory=dict)  # other top-level tables (scheduler…)
    # Kinds whose deadline is 当天 (their `deadlines` entry is one day, the longest it can be).
    same_day: set[str] = field(default_factory=set)
    kinds: dict[str, KindSettings] = field(default_factory=dict)  # per-kind settings
    # What loads but deserves a look (an unknown title, a village without 书记): printed by
    # `shuoshi doctor` and logged at start-up, never a refusal.
    warnings: list[str] = field(default_factory=list)

    def due(self, kind: str, start: datetime) -> datetime:
        """The deadline of a matter of this kind started at `start`."""
        if kind in self.same_day:
            return same_day_due(start, self.quiet_hours[0], self.timezone)
        limit = self.deadlines.get(kind)
        return start + (limit if limit is not None else min(self.deadlines.values()))


def same_day_due(start: datetime, quiet_start: time, timezone: str) -> datetime:
    """当天: before the quiet hours start that day; a matter raised inside the quiet hours, or
    less than SAME_DAY_LEAST before them, is due when they next start (raised at 22:00 or
    20:40: tomorrow evening, at 06:00: this evening)."""
    from zoneinfo import ZoneInfo

    local = start.astimezone(ZoneInfo(timezone))
    due = local.replace(hour=quiet_start.hour, minute=quiet_start.minute, second=0, microsecond=0)
    while due - local < SAME_DAY_LEAST:  # a quiet start at 00:00 may need two steps
        due += timedelta(days=1)
    return due.astimezone(start.tzinfo)


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
    return [v.strip() for v in value]  # " 孙组长" is 孙组长: files are typed by hand


def duty_of(title: str) -> Role | None:
    """What a title means (DUTIES); None for a title not in the table."""
    return DUTIES.get(title.strip())


def _person(raw: Any, key: str, *, town: bool, warnings: list[str]) -> PersonSpec:
    if not isinstance(raw, dict):
        raise GridError(key, "应为表")
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        raise GridError(f"{key}.name", "缺少姓名")
    title = raw.get("role", Role.TOWN_LEADER if town else Role.GRID)
    if not isinstance(title, str) or not title.strip():
        raise GridError(f"{key}.role", '职务应为文字，如 "组长"')
    title = title.strip()
    duties = "、".join(r.value for r in Role)
    written = raw.get("duty")
    if written is not None:
        if written not in {r.value for r in Role}:
            raise GridError(f"{key}.duty", f"未知职责 '{written}'，可用：{duties}")
        duty = Role(written)
    elif town and duty_of(title) in (Role.SECRETARY, None, Role.CADRE, Role.GRID):
        # In the town a 书记 is the town's (镇党委书记); a town has no cadres or grid members
        # of a village, so what is no mediator there is one of the town's leaders.
        duty = Role.TOWN_LEADER
        if duty_of(title) != Role.SECRETARY:
            warnings.append(
                f"{key}.role: 镇里的职务 '{title}' 按镇领导对待；"
                f'不对时加一行 duty = "调解员"（或其他职责：{duties}）'
            )
    elif (found := duty_of(title)) is not None:
        duty = found
    else:
        duty = Role.CADRE
        warnings.append(
            f"{key}.role: 职务 '{title}' 不在常见职务表里，按村干部对待；"
            f'不对时加一行 duty = "…"（{duties}）'
        )
    kinds = _str_list(raw.get("kinds"), f"{key}.kinds")
    for k in kinds:
        if k not in KINDS:
            raise GridError(f"{key}.kinds", f"未知类别 '{k}'，可用：村里事、邻里事、户里事")
    ids = _str_list(raw.get("ids"), f"{key}.ids")
    for i in ids:
        if ":" not in i or not i.split(":", 1)[1]:
            raise GridError(f"{key}.ids", f"账号 '{i}' 应写成 平台:编号，如 telegram:10001")
    serves = _str_list(raw.get("villages"), f"{key}.villages")
    if serves and not town:
        raise GridError(f"{key}.villages", "只有镇里的人（如调解员）写服务哪几个村")
    return PersonSpec(
        name=name.strip(),
        role=duty.value,
        kinds=kinds,
        ids=ids,
        key=key,
        title=title,
        serves=serves,
        duty_written=written is not None,
    )


def _team(raw: Any, key: str, names: set[str]) -> TeamSpec:
    if not isinstance(raw, dict):
        raise GridError(key, "应为表")
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        raise GridError(f"{key}.name", '缺少组名，如 "三组"')
    aliases = [a.strip() for a in _str_list(raw.get("aliases"), f"{key}.aliases") if a.strip()]
    members = list(dict.fromkeys(_str_list(raw.get("people"), f"{key}.people")))  # once each
    for m in members:
        if m not in names:
            raise GridError(f"{key}.people", f"'{m}' 不是本村网格里的人（先写在 villages.people）")
    return TeamSpec(name=name.strip(), aliases=aliases, people=members, key=key)


def _kind_settings(raw: Any, key: str) -> KindSettings:
    if not isinstance(raw, dict):
        raise GridError(key, "应为表")
    out = KindSettings()
    for name, value in raw.items():
        if name == "deadline":
            out.same_day, out.deadline = _deadline(value, f"{key}.deadline")
        else:
            raise GridError(f"{key}.{name}", "未知设置，可用：deadline")
    return out


def _deadline(value: Any, key: str) -> tuple[bool, timedelta]:
    """A deadline as written: "7d", "12h", or 当天 (its limit: one day, the longest it is)."""
    if str(value).strip() == SAME_DAY:
        return True, timedelta(days=1)
    dur = parse_duration(str(value))
    if dur is None or dur <= timedelta(0):
        raise GridError(key, f"时限 '{value}' 应写成 7d（7天）、12h（12小时）或 当天")
    return False, dur


_BARE_KEY = re.compile(r"^(\s*)([^\s\"'#\[=][^=\"']*?)(\s*=)", re.M)
_HEADER = re.compile(r"^(\s*\[\[?)([^\]\"'#]+)(\]\]?)", re.M)


def _quote_unicode_keys(text: str) -> str:
    """TOML bare keys are ASCII only, but the grid file is written by people who type
    `村里事 = "7d"`; quote such keys before parsing instead of refusing the file."""

    def fix(m: re.Match[str]) -> str:
        key = m.group(2)
        if key.isascii():
            return m.group(0)
        return f'{m.group(1)}"{key}"{m.group(3)}'

    def fix_header(m: re.Match[str]) -> str:  # [kinds.邻里事] → [kinds."邻里事"]
        parts = [
            part if part.isascii() or part.startswith(('"', "'")) else f'"{part}"'
            for part in (x.strip() for x in m.group(2).split("."))
        ]
        return f"{m.group(1)}{'.'.join(parts)}{m.group(3)}"

    return _HEADER.sub(fix_header, _BARE_KEY.sub(fix, text))


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
    same_day: set[str] = set()
    warnings: list[str] = []
    raw_deadlines = {**DEFAULT_DEADLINES, **(raw.get("deadlines") or {})}
    for kind, value in raw_deadlines.items():
        if kind not in KINDS:
            raise GridError(f"deadlines.{kind}", "未知类别，可用：村里事、邻里事、户里事")
        today, deadlines[kind] = _deadline(value, f"deadlines.{kind}")
        if today:
            same_day.add(kind)
    kinds: dict[str, KindSettings] = {}
    raw_kinds = raw.get("kinds") or {}
    if not isinstance(raw_kinds, dict):
        raise GridError("kinds", "应为表，如 [kinds.邻里事]")
    for kind, table in raw_kinds.items():
        if kind not in KINDS:
            raise GridError(f"kinds.{kind}", "未知类别，可用：村里事、邻里事、户里事")
        kinds[kind] = settings = _kind_settings(table, f"kinds.{kind}")
        if settings.deadline is not None:
            deadlines[kind] = settings.deadline
            (same_day.add if settings.same_day else same_day.discard)(kind)
    town = raw.get("town") or {}
    town_people = [
        _person(p, f"town.people[{i}]", town=True, warnings=warnings)
        for i, p in enumerate(town.get("people") or [])
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
        if any(x.name == name.strip() for x in villages):
            raise GridError(f"{vkey}.name", f"村名 '{name}' 重复")
        spec = VillageSpec(name=name.strip())
        for pi, p in enumerate(v.get("people") or []):
            person = _person(p, f"{vkey}.people[{pi}]", town=False, warnings=warnings)
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
            gname = gname.strip()
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
        _check_secretary(spec, vkey, warnings)
        names = {p.name for p in spec.people}
        words: dict[str, str] = {}
        for ti, t in enumerate(v.get("teams") or []):
            team = _team(t, f"{vkey}.teams[{ti}]", names)
            for word in (team.name, *team.aliases):
                if words.get(word) == team.key:
                    raise GridError(
                        f"{team.key}.aliases", f"'{word}' 在本组写了两次（组名不用再写进别名）"
                    )
                if word in words:
                    raise GridError(f"{team.key}.aliases", f"'{word}' 与 {words[word]} 重复")
                words[word] = team.key
            spec.teams.append(team)
        villages.append(spec)
    village_names = {v.name for v in villages}
    for person in town_people:
        for served in person.serves:
            if served not in village_names:  # a village taken out of the file: not fatal
                warnings.append(f"{person.key}.villages: '{served}' 不是网格里的村，已忽略")
    known = {"timezone", "quiet_hours", "deadlines", "town", "villages", "kinds"}
    extra = {k: v for k, v in raw.items() if k not in known}
    return Grid(
        timezone=tz,
        quiet_hours=quiet,
        deadlines=deadlines,
        town_name=str(town.get("name", "")),
        town_people=town_people,
        villages=villages,
        extra=extra,
        same_day=same_day,
        kinds=kinds,
        warnings=warnings,
    )


def _check_secretary(spec: VillageSpec, vkey: str, warnings: list[str]) -> None:
    """Exactly one person per village has the 书记 duty: two are refused unless the file says
    which one (`duty = "书记"` on one of them: the others are cadres, with a warning); none
    loads, with a warning (overdue matters then reach only the town)."""
    secretaries = [p for p in spec.people if p.role == Role.SECRETARY]
    chosen = [p for p in secretaries if p.duty_written]
    if len(secretaries) > 1 and len(chosen) == 1:
        # The file says which one: the others' titles only look like a 书记's (老书记, 支书).
        for other in secretaries:
            if other is not chosen[0]:
                other.role = Role.CADRE.value
                warnings.append(
                    f"{other.key}.role: '{other.name}'（{other.title}）按村干部对待："
                    f"本村的书记是 '{chosen[0].name}'（写了 duty）"
                )
        secretaries = chosen
    if len(secretaries) > 1:
        a, b = secretaries[0], secretaries[1]
        raise GridError(
            f"{b.key}.duty",
            f"本村 '{a.name}'（{a.title}）和 '{b.name}'（{b.title}）都是书记职责，只能有一位；"
            '在另一位那里写 duty = "村干部"',
        )
    if not secretaries:
        warnings.append(f"{vkey}: 村 '{spec.name}' 没有书记职责的人：超期事项没有人督办")


def load_grid(path: str | Path, *, log_warnings: bool = True) -> Grid:
    """The grid file, parsed; its warnings are logged (start-up loads it through here), unless
    the caller reports them itself (`shuoshi doctor`)."""
    p = Path(path)
    if not p.is_file():
        raise GridError("GRID_FILE", f"找不到网格文件 {p}")
    grid = parse_grid(p.read_text(encoding="utf-8"))
    for warning in grid.warnings if log_warnings else ():
        log.warning("网格文件 %s: %s", p, warning)
    return grid


def _sync_person(
    session: Session, spec: PersonSpec, village_id: int | None, position: int
) -> Person:
    person = session.exec(
        select(Person).where(Person.village_id == village_id, Person.name == spec.name)
    ).first()
    if person is None:
        person = Person(name=spec.name, role=spec.role, village_id=village_id)
    person.role = spec.role
    person.title = spec.title or spec.role
    person.serves = "".join(f"|{v}" for v in spec.serves) + ("|" if spec.serves else "")
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
            # A 组's people take its matters first; the village pool is everyone else who
            # takes some kind (unless the file lists the members).
            in_teams = {name for t in vspec.teams for name in t.people}
            member_names = (
                gspec.members
                if gspec.members is not None
                else [p.name for p in vspec.people if p.kinds and p.name not in in_teams]
            )
            for mpos, mname in enumerate(member_names):
                session.add(
                    GroupMember(group_id=group.id, person_id=by_name[mname].id or 0, position=mpos)
                )
        _sync_teams(session, vspec, village.id, by_name)
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


def _sync_teams(
    session: Session, vspec: VillageSpec, village_id: int, by_name: dict[str, Person]
) -> None:
    """The village's 组: kept by name (a villager's Residence points at one), deactivated when
    the file drops them, their people rewritten."""
    existing = {t.name: t for t in session.exec(select(Team).where(Team.village_id == village_id))}
    for tpos, tspec in enumerate(vspec.teams):
        team = existing.pop(tspec.name, None) or Team(village_id=village_id, name=tspec.name)
        team.aliases = "".join(f"|{a}" for a in tspec.aliases) + ("|" if tspec.aliases else "")
        team.active = True
        team.position = tpos
        session.add(team)
        session.flush()
        for m in session.exec(select(TeamMember).where(TeamMember.team_id == team.id)):
            session.delete(m)
        for mpos, mname in enumerate(tspec.people):
            session.add(
                TeamMember(team_id=team.id or 0, person_id=by_name[mname].id or 0, position=mpos)
            )
    for gone in existing.values():
        if gone.active:
            gone.active = False
            session.add(gone)
