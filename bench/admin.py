"""Admin benchmark: the issue list, detail page and ledger export with many issues.

    .venv/bin/python bench/admin.py                      # 1,000,000 issues, SQLite and PostgreSQL
    .venv/bin/python bench/admin.py --issues 20000 --backend sqlite
    .venv/bin/python bench/admin.py --reuse              # keep the loaded databases between runs

Everything goes through the real ASGI app (httpx + ASGITransport, same event loop), logged in
as a 镇领导 (whole town) and as a 书记 (one village). Prints a Markdown section for
docs/benchmarks.md. PostgreSQL: TEST_DATABASE_URL's server (default postgres@127.0.0.1:5432).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
import psutil
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url
from sqlmodel import (
    Session,
    col,
    func,
    select,
)

from bot.app import App, build
from handlers.clock import FakeClock
from ports.settings import Settings
from storage.db import make_engine, upgrade
from storage.models import ChatGroup, Counter, Issue, Person, Village

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=TZ)
YEARS = 4
PASSWORD = "bench-password-1"
PG_URL = os.environ.get("TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
WORK = Path(tempfile.gettempdir()) / "shuoshi-bench"

VILLAGES = 28
GROUPS_PER_VILLAGE = 5
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡"
GIVEN = "建国明华秀英桂兰玉梅海军志强丽娟春生德福金凤小红大勇振华卫东晓燕秋菊"

PLACES = [
    "村口",
    "东头",
    "西头",
    "南边",
    "北坡",
    "小学门口",
    "卫生室旁",
    "祠堂前",
    "文化广场",
    "老桥边",
    "新村路",
    "三组",
    "五组",
    "七组",
    "水库下",
    "菜市场",
    "村委会后面",
    "村道拐弯处",
    "幼儿园对面",
    "河堤上",
    "老戏台",
    "晒谷场",
    "公交站",
    "养殖场边",
    "果园里",
    "茶园",
    "敬老院",
    "老街",
    "大槐树下",
    "停车场",
]
OBJECTS = [
    "路灯",
    "水管",
    "垃圾桶",
    "排水沟",
    "路面",
    "桥栏杆",
    "电线",
    "变压器",
    "自来水",
    "公厕",
    "护栏",
    "下水道",
    "健身器材",
    "宣传栏",
    "监控",
    "井盖",
    "围墙",
    "水渠",
    "涵洞",
    "路牌",
    "垃圾池",
    "化粪池",
    "电杆",
    "网线",
    "水泵",
    "广播",
    "消防栓",
    "台阶",
    "路沿石",
    "凉亭",
    "篮球架",
    "指示牌",
    "污水管",
    "水塔",
    "桥面",
    "田埂",
    "机耕路",
    "闸门",
    "堤坝",
    "树木",
]
PROBLEMS = [
    "坏了",
    "漏水",
    "堵了",
    "塌了",
    "断了",
    "没人管",
    "晚上不亮",
    "裂开了",
    "被冲垮",
    "积水严重",
    "有异味",
    "松动了",
    "倒了",
    "被偷了",
    "老化了",
    "一直响",
    "堆满了",
    "冒黑烟",
    "掉下来",
    "长满杂草",
    "结冰打滑",
    "歪了",
    "被占了",
    "生锈",
    "发臭",
]
TAILS = [
    "好几天了",
    "晚上很危险",
    "孩子上学不方便",
    "老人出门怕摔",
    "请尽快处理",
    "大家都很着急",
    "上次反映过还没修",
    "下雨天更严重",
    "影响大家出行",
    "希望村里管一管",
    "已经一个月了",
    "怕出事",
    "邻居也这么说",
    "拍了照片",
    "麻烦看一下",
    "昨天开始的",
    "过年前能修好吗",
    "车过不去",
    "味道很大",
    "蚊子特别多",
]
NEIGHBOUR = [
    "隔壁{a}家的水往我家院子里排",
    "{a}家把路堵了不让过",
    "邻居{a}占了我家的地",
    "{a}家的狗天天叫还咬人",
    "和{a}家因为宅基地吵起来了",
    "{a}家盖房子挡了我家的光",
    "{a}家的鸡跑到我家菜地里",
    "{a}家烧秸秆烟都到我家",
]
HOUSEHOLD = [
    "我一个人住屋顶漏雨",
    "家里老人生病想问医保报销",
    "低保的事想问一下",
    "孩子上学的补助怎么申请",
    "家里的电表好像坏了",
    "想申请危房改造",
    "残疾证办理要什么材料",
    "老人腿脚不便需要帮忙买药",
]

SEARCHES = {
    "two characters (路灯)": "路灯",
    "place (小学门口)": "小学门口",
    "phrase (排水沟堵了)": "排水沟堵了",
    "rare (宅基地)": "宅基地",
    "absent (火箭)": "火箭",
    "one character (狗)": "狗",
}


def grid_toml() -> str:
    rnd = random.Random(7)
    lines = [
        'timezone = "Asia/Shanghai"',
        'quiet_hours = "21:00-07:30"',
        "[town]",
        'name = "青石镇"',
        "[[town.people]]",
        'name = "陈镇长"',
        'role = "镇领导"',
        'ids = ["local:陈镇长"]',
    ]
    for v in range(VILLAGES):
        lines += ["[[villages]]", f'name = "村{v + 1:02d}"']
        names = []
        for p in range(7):
            name = rnd.choice(SURNAMES) + rnd.choice(GIVEN) + f"{v + 1:02d}{p}"
            role = "书记" if p == 0 else ("村干部" if p == 1 else "网格员")
            kinds = "[]" if p == 0 else '["村里事", "邻里事", "户里事"]'
            lines += [
                "[[villages.people]]",
                f'name = "{name}"',
                f'role = "{role}"',
                f"kinds = {kinds}",
                f'ids = ["local:{name}"]',
            ]
            names.append(name)
        for g in range(GROUPS_PER_VILLAGE):
            members = ", ".join(f'"{n}"' for n in names[1 + (g % 3) : 4 + (g % 3)])
            lines += [
                "[[villages.groups]]",
                f'name = "村{v + 1:02d}第{g + 1}组说事群"',
                f'chats = ["local:v{v + 1}g{g + 1}"]',
                f"members = [{members}]",
            ]
    return "\n".join(lines) + "\n"


def issue_text(rnd: random.Random, kind: str) -> str:
    if kind == "邻里事":
        body = rnd.choice(NEIGHBOUR).format(a=rnd.choice(SURNAMES) + "家")
    elif kind == "户里事":
        body = rnd.choice(HOUSEHOLD)
    else:
        body = rnd.choice(PLACES) + "的" + rnd.choice(OBJECTS) + rnd.choice(PROBLEMS)
    text = body + "，" + rnd.choice(TAILS)
    if rnd.random() < 0.05:
        text += f"，电话13{rnd.randint(0, 9)}{rnd.randint(10000000, 99999999)}"
    return text


def generate(
    n: int, grid: dict[str, Any], seed: int = 1
) -> Iterator[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """Issues in time order with their events: 93% 村里事, older ones closed."""
    rnd = random.Random(seed)
    span = timedelta(days=365 * YEARS).total_seconds()
    start = NOW - timedelta(days=365 * YEARS)
    deadlines = {"村里事": 7, "邻里事": 1, "户里事": 3}
    times = sorted(rnd.random() * span for _ in range(n))
    for number, offset in enumerate(times, 1):
        created = start + timedelta(seconds=offset)
        r = rnd.random()
        kind = "村里事" if r < 0.93 else ("邻里事" if r < 0.975 else "户里事")
        village = rnd.choice(grid["villages"])
        group = rnd.choice(village["groups"])
        owner = rnd.choice(group["members"])
        due = created + timedelta(days=deadlines[kind])
        age = (NOW - created).days
        s = rnd.random()
        if age > 30:
            status = "closed" if s < 0.95 else ("withdrawn" if s < 0.97 else "claimed")
        else:
            status = "closed" if s < 0.6 else ("claimed" if s < 0.85 else "open")
        reporter = rnd.choice(SURNAMES) + rnd.choice(GIVEN)
        closed_at = claimed_at = rating = settled = None
        if status in ("claimed", "closed"):
            claimed_at = created + timedelta(hours=rnd.uniform(0.2, 12))
        if status == "closed":
            closed_at = created + timedelta(days=deadlines[kind] * rnd.uniform(0.1, 1.3))
            closed_at = min(closed_at, NOW)
            if rnd.random() < 0.7:
                q = rnd.random()
                rating = "满意" if q < 0.8 else ("基本满意" if q < 0.95 else "不满意")
            q = rnd.random()
            settled = "group" if q < 0.35 else ("village" if q < 0.8 else "town")
        if status == "withdrawn":
            closed_at = created + timedelta(hours=rnd.uniform(1, 48))
        text_ = issue_text(rnd, kind)
        issue = {
            "id": number,
            "number": number,
            "village_id": village["id"],
            "group_id": group["id"],
            "kind": kind,
            "text": text_,
            "reporter": f"local:{reporter}",
            "reporter_name": reporter,
            "reporter_chat": f"local:{group['chat']}",
            "owner_id": owner["id"],
            "status": status,
            "created_at": created,
            "clock_start": created,
            "due_at": due,
            "claimed_at": claimed_at,
            "closed_at": closed_at,
            "result": "已处理好" if status == "closed" else None,
            "rating": rating,
            "rated_at": closed_at + timedelta(hours=2) if rating and closed_at else None,
            "level": settled or "group",
            "settled_level": settled,
            "reports": 1 + (rnd.random() < 0.03),
            "attachments": "[]",
        }
        events = [
            {
                "issue_id": number,
                "kind": "created",
                "actor": reporter,
                "at": created,
                "detail": kind,
            },
            {
                "issue_id": number,
                "kind": "assigned",
                "actor": "系统",
                "at": created,
                "detail": owner["name"],
            },
        ]
        if claimed_at:
            events.append(
                {
                    "issue_id": number,
                    "kind": "claimed",
                    "actor": owner["name"],
                    "at": claimed_at,
                    "detail": "",
                }
            )
        if issue["reports"] > 1:
            events.append(
                {
                    "issue_id": number,
                    "kind": "report",
                    "actor": "邻居",
                    "at": created + timedelta(hours=1),
                    "detail": text_,
                }
            )
        if status == "closed":
            events.append(
                {
                    "issue_id": number,
                    "kind": "closed",
                    "actor": owner["name"],
                    "at": closed_at,
                    "detail": "已处理好",
                }
            )
        yield issue, events


ISSUE_COLUMNS = [
    "id",
    "number",
    "village_id",
    "group_id",
    "kind",
    "text",
    "reporter",
    "reporter_name",
    "reporter_chat",
    "owner_id",
    "status",
    "created_at",
    "clock_start",
    "due_at",
    "claimed_at",
    "closed_at",
    "result",
    "rating",
    "rated_at",
    "level",
    "settled_level",
    "reports",
    "attachments",
]
EVENT_COLUMNS = ["issue_id", "kind", "actor", "at", "detail"]


def grid_of(engine: Engine) -> dict[str, Any]:
    from storage.models import GroupChat, GroupMember

    with Session(engine) as session:
        out: dict[str, Any] = {"villages": []}
        for v in session.exec(select(Village).order_by(col(Village.id))):
            groups = []
            for g in session.exec(select(ChatGroup).where(ChatGroup.village_id == v.id)):
                chat = session.exec(select(GroupChat).where(GroupChat.group_id == g.id)).one()
                members = session.exec(
                    select(Person)
                    .join(GroupMember, col(GroupMember.person_id) == col(Person.id))
                    .where(GroupMember.group_id == g.id)
                ).all()
                groups.append(
                    {
                        "id": g.id,
                        "chat": chat.chat_key.split(":", 1)[1],
                        "members": [{"id": p.id, "name": p.name} for p in members],
                    }
                )
            out["villages"].append({"id": v.id, "name": v.name, "groups": groups})
        return out


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


def load(engine: Engine, n: int, grid: dict[str, Any]) -> None:
    chunk = 20000
    issues: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        postgres = engine.dialect.name == "postgresql"

        def flush() -> None:
            if postgres:
                with cur.copy(f"COPY issue ({', '.join(ISSUE_COLUMNS)}) FROM STDIN") as copy:  # type: ignore[attr-defined]
                    for row in issues:
                        copy.write_row([row[c] for c in ISSUE_COLUMNS])
                with cur.copy(f"COPY event ({', '.join(EVENT_COLUMNS)}) FROM STDIN") as copy:  # type: ignore[attr-defined]
                    for row in events:
                        copy.write_row([row[c] for c in EVENT_COLUMNS])
            else:
                marks = ", ".join("?" for _ in ISSUE_COLUMNS)
                cur.executemany(
                    f"INSERT INTO issue ({', '.join(ISSUE_COLUMNS)}) VALUES ({marks})",
                    [[_sqlite_value(r[c]) for c in ISSUE_COLUMNS] for r in issues],
                )
                marks = ", ".join("?" for _ in EVENT_COLUMNS)
                cur.executemany(
                    f"INSERT INTO event ({', '.join(EVENT_COLUMNS)}) VALUES ({marks})",
                    [[_sqlite_value(r[c]) for c in EVENT_COLUMNS] for r in events],
                )
            raw.commit()
            issues.clear()
            events.clear()

        for issue, evs in generate(n, grid):
            issues.append(issue)
            events.extend(evs)
            if len(issues) >= chunk:
                flush()
                print(f"  loaded {issue['number']:,}", end="\r", flush=True)
        if issues:
            flush()
        cur.execute("DELETE FROM counter WHERE name = 'issue'")
        cur.execute(f"INSERT INTO counter (name, value) VALUES ('issue', {int(n)})")
        if postgres:
            cur.execute(f"SELECT setval('issue_id_seq', {int(n)})")
        raw.commit()
    finally:
        raw.close()
    print()


def prepare(backend: str, n: int, reuse: bool) -> tuple[str, Path, dict[str, float]]:
    """A database with n issues; its URL, grid file and the load timings."""
    WORK.mkdir(parents=True, exist_ok=True)
    grid_file = WORK / "grid.toml"
    grid_file.write_text(grid_toml(), encoding="utf-8")
    timings: dict[str, float] = {}
    if backend == "sqlite":
        path = WORK / f"admin-{n}.db"
        url = f"sqlite:///{path}"
        if reuse and path.exists():
            return url, grid_file, timings
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    else:
        name = f"shuoshi_bench_admin_{n}"
        url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
        server = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
        with server.connect() as conn:
            exists = conn.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
            ).first()
            if reuse and exists:
                server.dispose()
                return url, grid_file, timings
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        server.dispose()
    engine = make_engine(url)
    upgrade(engine)
    app = build(Settings(grid_file=grid_file, database_url=url), database_url=url, migrate=False)
    grid = grid_of(app.engine)
    t = time.perf_counter()
    load(engine, n, grid)
    timings["load"] = time.perf_counter() - t
    if backend == "sqlite":
        from storage.search import refresh_search_index

        t = time.perf_counter()
        with Session(engine) as session:
            refresh_search_index(session, batch=50000)
        timings["search index"] = time.perf_counter() - t
    t = time.perf_counter()
    if backend == "sqlite":
        with engine.connect() as conn:
            conn.execute(text("ANALYZE"))
            conn.commit()
    else:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    timings["analyze"] = time.perf_counter() - t
    app.engine.dispose()
    engine.dispose()
    return url, grid_file, timings


# --- measuring -------------------------------------------------------------------------------


def _ids(engine: Engine) -> dict[str, list[Any]]:
    from storage.models import GroupChat  # noqa: F401  (tables registered)

    with Session(engine) as session:
        return {
            "villages": list(session.exec(select(Village.id).order_by(col(Village.id)))),
            "groups": list(session.exec(select(ChatGroup.id).order_by(col(ChatGroup.id)))),
            "owners": list(
                session.exec(
                    select(Person.id)
                    .where(col(Person.village_id).is_not(None))
                    .order_by(col(Person.id))
                )
            ),
        }


def _people_with_passwords(app: App) -> tuple[str, str]:
    """A 镇领导 and the first village's 书记, with PASSWORD."""
    from admin.auth import set_password

    with Session(app.engine) as session:
        town = session.exec(select(Person).where(Person.role == "镇领导")).first()
        secretary = session.exec(
            select(Person).where(Person.role == "书记").order_by(col(Person.id))
        ).first()
        assert town is not None and secretary is not None
        for person in (town, secretary):
            set_password(session, person, PASSWORD, app.clock.now())
        session.commit()
        return town.name, secretary.name


async def _login(client: httpx.AsyncClient, name: str) -> None:
    import re

    page = await client.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert token is not None
    r = await client.post(
        "/login", data={"name": name, "password": PASSWORD, "csrf": token.group(1)}
    )
    assert r.status_code == 303, r.text[:300]


def _show(name: str, figures: tuple[float, float, float]) -> None:
    p50, p95, cpu = figures
    print(
        f"  {name:40} p50 {p50 * 1000:6.1f} ms  p95 {p95 * 1000:6.1f} ms  cpu {cpu * 1000:5.1f} ms",
        flush=True,
    )


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


class _PeakRss:
    """The highest resident memory of this process while it runs (sampled every 10 ms)."""

    def __init__(self) -> None:
        self.proc = psutil.Process()
        self.base = self.peak = self.proc.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.01):
            self.peak = max(self.peak, self.proc.memory_info().rss)

    def __enter__(self) -> _PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def growth_mb(self) -> float:
        return (self.peak - self.base) / 2**20


async def measure(url: str, grid_file: Path, samples: int, export_rows: int) -> dict[str, Any]:
    from admin.app import create_app

    settings = Settings(grid_file=grid_file, database_url=url, admin_secret="bench", data_dir=WORK)
    app = build(settings, clock=FakeClock(NOW), database_url=url, migrate=False)
    town_name, secretary_name = _people_with_passwords(app)
    ids = _ids(app.engine)
    with Session(app.engine) as session:
        total = session.exec(select(Counter.value).where(Counter.name == "issue")).one()
    web = create_app(app)
    rnd = random.Random(3)
    transport = httpx.ASGITransport(app=web)
    out: dict[str, Any] = {"lists": {}, "issues": total, "load": os.getloadavg()[0]}
    async with (
        httpx.AsyncClient(transport=transport, base_url="http://bench") as town,
        httpx.AsyncClient(transport=transport, base_url="http://bench") as secretary,
    ):
        await _login(town, town_name)
        await _login(secretary, secretary_name)
        days = 365 * YEARS - 31

        def month() -> str:
            start = (NOW - timedelta(days=rnd.randint(1, days) + 30)).date()
            return f"from={start}&to={start + timedelta(days=29)}"

        cases: dict[str, tuple[httpx.AsyncClient, Any]] = {
            "no filter (镇领导, whole town)": (town, lambda: ""),
            "no filter (书记, own village)": (secretary, lambda: ""),
            "village": (town, lambda: f"village={rnd.choice(ids['villages'])}"),
            "group": (town, lambda: f"group={rnd.choice(ids['groups'])}"),
            "kind": (town, lambda: f"kind={rnd.choice(['村里事', '邻里事', '户里事'])}"),
            "status": (
                town,
                lambda: (
                    f"status={rnd.choice(['open', 'claimed', 'closed', 'withdrawn', 'active'])}"
                ),
            ),
            "owner": (town, lambda: f"owner={rnd.choice(ids['owners'])}"),
            "overdue": (town, lambda: "overdue=1"),
            "date range (30 days)": (town, month),
            "sort by due": (town, lambda: "sort=due"),
            "page 20": (town, lambda: "page=20"),
        }
        for label, term in SEARCHES.items():
            cases[f"text: {label}"] = (town, lambda term=term: f"q={term}")
        for name, (client, query) in cases.items() if samples else ():
            times, cpu = [], []
            for i in range(samples + 2):
                path = "/issues?" + query()
                t, c = time.perf_counter(), time.process_time()
                r = await client.get(path)
                elapsed, used = time.perf_counter() - t, time.process_time() - c
                assert r.status_code == 200, (path, r.status_code, r.text[:300])
                if i >= 2:  # two warm-up requests
                    times.append(elapsed)
                    cpu.append(used)
            out["lists"][name] = (_p(times, 0.5), _p(times, 0.95), _p(cpu, 0.5))
            _show(name, out["lists"][name])
        times, cpu = [], []
        for _ in range(samples * 2):
            n = rnd.randint(1, total)
            t, c = time.perf_counter(), time.process_time()
            r = await town.get(f"/issues/{n}")
            times.append(time.perf_counter() - t)
            cpu.append(time.process_time() - c)
            assert r.status_code == 200
        if samples:
            out["detail"] = (_p(times, 0.5), _p(times, 0.95), _p(cpu, 0.5))
            _show("detail page", out["detail"])

    out["exports"] = await _exports(web, app, town_name, total, export_rows)
    out["load"] = (out["load"] + os.getloadavg()[0]) / 2
    app.engine.dispose()
    return out


async def _exports(
    web: Any, app: App, town_name: str, total: int, export_rows: int
) -> dict[tuple[str, int], tuple[float, float, float, int]]:
    """The ledger of the newest rows, over real HTTP from uvicorn on a loopback port (the
    in-process test transport would hold the whole body in memory), read in chunks and
    written to a temporary file: the process's memory is then the server's."""
    import socket

    import uvicorn
    from openpyxl import load_workbook

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(web, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        await asyncio.sleep(0.05)
    results: dict[tuple[str, int], tuple[float, float, float, int]] = {}
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=600) as client:
            await _login(client, town_name)
            for rows in sorted({export_rows // 5, export_rows}):
                with Session(app.engine) as session:
                    first = session.exec(
                        select(Issue.created_at).where(Issue.number == total - rows + 1)
                    ).one()
                    since = first.astimezone(TZ).date()
                    expected = session.exec(
                        select(func.count())
                        .select_from(Issue)
                        .where(
                            col(Issue.created_at)
                            >= datetime.combine(since, datetime.min.time(), TZ)
                        )
                    ).one()
                for fmt in ("xlsx", "csv"):
                    size = 0
                    with tempfile.TemporaryFile() as body:
                        with _PeakRss() as rss:
                            t, c = time.perf_counter(), time.process_time()
                            async with client.stream("GET", f"/export.{fmt}?from={since}") as r:
                                assert r.status_code == 200
                                async for chunk in r.aiter_bytes():
                                    size += len(chunk)
                                    body.write(chunk)
                            elapsed, cpu = time.perf_counter() - t, time.process_time() - c
                        counted = None
                        if fmt == "xlsx":
                            body.seek(0)
                            sheet = load_workbook(body, read_only=True)["台账"]
                            counted = sum(1 for _ in sheet.iter_rows(min_row=2, max_col=1))
                            assert counted == expected, (counted, expected)
                    results[(fmt, expected)] = (elapsed, cpu, rss.growth_mb, size)
                    print(
                        f"  export .{fmt} {expected:>7,} rows: {elapsed:6.2f} s "
                        f"(CPU {cpu:5.2f} s), {size / 2**20:5.1f} MB, "
                        f"peak RSS +{rss.growth_mb:5.1f} MB"
                        + (f" (read back {counted:,} rows)" if counted else ""),
                        flush=True,
                    )
    finally:
        server.should_exit = True
        thread.join(timeout=30)
    return results


def report(results: dict[str, dict[str, Any]], loads: dict[str, dict[str, float]]) -> str:
    backends = list(results)
    lines = [
        "## Admin",
        "",
        f"`.venv/bin/python bench/admin.py` on this machine ({os.cpu_count()} cores); "
        f"{next(iter(results.values()))['issues']:,} issues (4 years, 28 villages, 140 groups, "
        "93% 村里事, 95% of older ones closed), ~4 events each. Each list figure is the whole "
        "page through the ASGI app (log-in, filter counts, rows, HTML), logged in as a 镇领导 "
        "(whole town) unless said; parameters vary per request; 2 warm-up requests, then p50 / "
        'p95 in ms. Words and date ranges are counted up to 2,000 ("超过 2000 件").',
        "",
        "| list page | " + " | ".join(f"{b} p50 | p95 | CPU" for b in backends) + " |",
        "|---|" + "---:|---:|---:|" * len(backends),
    ]
    for name in results[backends[0]]["lists"] if "detail" in results[backends[0]] else ():
        cells = []
        for b in backends:
            p50, p95, cpu = results[b]["lists"][name]
            cells += [f"{p50 * 1000:.0f}", f"{p95 * 1000:.0f}", f"{cpu * 1000:.0f}"]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    cells = []
    for b in backends:
        p50, p95, cpu = results[b].get("detail", (0.0, 0.0, 0.0))
        cells += [f"{p50 * 1000:.0f}", f"{p95 * 1000:.0f}", f"{cpu * 1000:.0f}"]
    lines.append("| **detail page** (random #N) | " + " | ".join(cells) + " |")
    lines += [
        "",
        "| export | backend | rows | time | CPU | size | peak RSS growth |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for b in backends:
        for (fmt, rows), (elapsed, cpu, growth, size) in results[b]["exports"].items():
            lines.append(
                f"| .{fmt} | {b} | {rows:,} | {elapsed:.1f} s | {cpu:.1f} s | "
                f"{size / 2**20:.1f} MB | {growth:.0f} MB |"
            )
    if any(loads.values()):
        lines += [
            "",
            "Loading (not part of the targets): "
            + "; ".join(
                f"{b}: " + ", ".join(f"{k} {v:.0f} s" for k, v in t.items())
                for b, t in loads.items()
                if t
            )
            + ".",
        ]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--issues", type=int, default=1_000_000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--samples", type=int, default=30)
    parser.add_argument("--export-rows", type=int, default=100_000)
    parser.add_argument("--reuse", action="store_true", help="keep databases loaded earlier")
    parser.add_argument("--exports-only", action="store_true", help="skip the page timings")
    args = parser.parse_args()
    logging_quiet()
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    results: dict[str, dict[str, Any]] = {}
    loads: dict[str, dict[str, float]] = {}
    for backend in backends:
        print(f"{backend}: preparing {args.issues:,} issues")
        url, grid_file, loads[backend] = prepare(backend, args.issues, args.reuse)
        print(f"{backend}: measuring")
        results[backend] = asyncio.run(
            measure(
                url,
                grid_file,
                0 if args.exports_only else args.samples,
                min(args.export_rows, args.issues),
            )
        )
    print()
    print(report(results, loads))
    return 0


def logging_quiet() -> None:
    import logging

    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)


if __name__ == "__main__":
    raise SystemExit(main())
