"""Scheduler sweep benchmark: one sweep over a big database, where only some issues are due.

    .venv/bin/python bench/sweep.py                                  # SQLite and PostgreSQL
    .venv/bin/python bench/sweep.py --backend sqlite --sizes 100000:10000

Goal (issue 3): with 1,000,000 issues of which 10,000 are due, one sweep < 2 s on SQLite and on
PostgreSQL, and its cost grows with the number due, not the total. Each size is
`total:due`; the default runs 100k and 1M totals with 10k due (same work, 10× the table) and 1M
with 1k due (a tenth of the work).

The fixture is a deployment of 100 villages (a 书记 and four 网格员 each, one 镇领导). Of the
issues, 85 % are closed; the others are open with their next check in the future, except the
due ones, spread over the four stages (not claimed in 4 h, 75 % reminder, overdue, escalation;
the stages before the due one already sent). The schema is the migrated one with every index;
issue rows are loaded with COPY (PostgreSQL) or executemany (SQLite) with the secondary indexes
dropped and rebuilt afterwards. Then one `Scheduler.sweep()` is timed: claim the due issues,
record what is owed, move their next check, merge everything into one message per person.
Prints a Markdown section for docs/benchmarks.md. PostgreSQL: TEST_DATABASE_URL's server
(default postgres@127.0.0.1:5432), in a database of its own that is dropped afterwards.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import create_engine, insert, text
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session, SQLModel, col, func, select

# Run as a script, this file's folder comes first on sys.path, where bench/classifier.py would
# hide the `classifier` package: put the repository there instead.
sys.path[0] = str(Path(__file__).resolve().parent.parent)

from handlers.clock import FakeClock  # noqa: E402
from scheduler.config import SchedulerConfig  # noqa: E402
from scheduler.jobs import Scheduler  # noqa: E402
from storage.db import make_engine, upgrade  # noqa: E402
from storage.models import IssueCheck, JobRun, Outbox, Reminder  # noqa: E402

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 24, 10, 0, tzinfo=TZ)  # a Tuesday morning, outside the quiet hours
PG_URL = os.environ.get("TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
VILLAGES = 100
GRID_PER_VILLAGE = 4
ISSUE = SQLModel.metadata.tables["issue"]
TEXTS = [
    "村口路灯坏了好几天了",
    "隔壁老刘家的水往我家院子里排",
    "屋顶漏雨了",
    "三组那段水渠塌了",
    "邻居把路堵了不让过",
    "垃圾好几天没人拉了",
]


def grid(engine: Engine) -> tuple[list[int], dict[int, list[int]]]:
    """Villages, people and their accounts; returns the 网格员 ids and the ids per village."""
    tables = SQLModel.metadata.tables
    villages = [{"id": v, "name": f"村{v}", "active": True, "position": v} for v in range(1, 101)]
    people: list[dict[str, Any]] = [
        {
            "id": 1,
            "name": "镇长",
            "role": "镇领导",
            "village_id": None,
            "kinds": "",
            "active": True,
            "position": 0,
        }
    ]
    grid_ids: dict[int, list[int]] = {}
    for v in range(1, VILLAGES + 1):
        base = 1 + (v - 1) * (GRID_PER_VILLAGE + 1)
        people.append(
            {
                "id": base + 1,
                "name": f"书记{v}",
                "role": "书记",
                "village_id": v,
                "kinds": "",
                "active": True,
                "position": 0,
            }
        )
        grid_ids[v] = []
        for g in range(GRID_PER_VILLAGE):
            pid = base + 2 + g
            grid_ids[v].append(pid)
            people.append(
                {
                    "id": pid,
                    "name": f"网格员{v}-{g}",
                    "role": "网格员",
                    "village_id": v,
                    "kinds": "村里事,邻里事,户里事",
                    "active": True,
                    "position": g + 1,
                }
            )
    ids = [
        {"id": p["id"], "key": f"local:{p['name']}", "person_id": p["id"], "from_file": True}
        for p in people
    ]
    groups = [
        {"id": v, "village_id": v, "name": f"村{v}说事群", "active": True, "position": 0}
        for v in range(1, VILLAGES + 1)
    ]
    with engine.begin() as conn:
        conn.execute(insert(tables["village"]), villages)
        conn.execute(insert(tables["person"]), people)
        conn.execute(insert(tables["personid"]), ids)
        conn.execute(insert(tables["chatgroup"]), groups)
        # Sweeps before this moment never ran: no to-do or digest is caught up in the timing.
        conn.execute(insert(tables["jobrun"]), [{"job": "start", "period": "-", "at": NOW}])
    return [p for ps in grid_ids.values() for p in ps], grid_ids


def issue_rows(
    total: int, due: int, grid_ids: dict[int, list[int]], rng: random.Random
) -> Iterator[tuple[dict[str, Any], list[tuple[str, int, int]], datetime | None]]:
    """Issue rows (as column → value), for due ones the Reminder stages already sent, and the
    next check of the open ones."""
    due_ids = set(rng.sample(range(1, total + 1), due))
    for n in range(1, total + 1):
        village = rng.randint(1, VILLAGES)
        owner = rng.choice(grid_ids[village])
        secretary = 2 + (village - 1) * (GRID_PER_VILLAGE + 1)
        row: dict[str, Any] = {
            "id": n,
            "number": n,
            "village_id": village,
            "group_id": village,
            "kind": "邻里事",
            "text": TEXTS[n % len(TEXTS)],
            "reporter": f"local:村民{n % 5000}",
            "reporter_name": f"村民{n % 5000}",
            "reporter_chat": f"local:村{village}说事群",
            "owner_id": owner,
            "reports": 1,
            "attachments": "[]",
            "level": "group",
            "claimed_at": None,
            "closed_at": None,
            "result": None,
            "rating": None,
            "rated_at": None,
            "settled_level": None,
        }
        check: datetime | None = None  # the issue's next check (only open issues have one)
        sent: list[tuple[str, int, int]] = []  # (stage key, person id, cycle start stamp)
        if n in due_ids:
            stage = n % 4
            start = {
                0: NOW - timedelta(hours=4, minutes=10),  # not claimed in 4 h
                1: NOW - timedelta(hours=19),  # 75 % of one day passed an hour ago
                2: NOW - timedelta(hours=25),  # overdue for an hour
                3: NOW - timedelta(hours=49),  # overdue by the whole limit for an hour
            }[stage]
            due_at = start + timedelta(days=1)
            stamp = int(start.timestamp())
            row |= {
                "status": "open" if stage == 0 else "claimed",
                "claimed_at": None if stage == 0 else start + timedelta(minutes=30),
                "created_at": start,
                "clock_start": start,
                "due_at": due_at,
                "level": "village" if stage == 3 else "group",
            }
            check = NOW - timedelta(minutes=rng.randint(1, 59))
            if stage >= 2:
                sent.append((f"reminder:{n}:{stamp}", owner, stamp))
            if stage == 3:
                sent += [(f"overdue:{n}:{stamp}", owner, stamp)]
                sent += [(f"overdue:{n}:{stamp}", secretary, stamp)]
        elif rng.random() < 0.85:
            created = NOW - timedelta(days=rng.randint(2, 700), minutes=rng.randint(0, 1440))
            row |= {
                "status": "closed",
                "created_at": created,
                "clock_start": created,
                "due_at": created + timedelta(days=3),
                "claimed_at": created + timedelta(hours=1),
                "closed_at": created + timedelta(days=1),
                "result": "已办好",
                "settled_level": "group",
            }
        else:
            created = NOW - timedelta(hours=rng.randint(0, 48))
            row |= {
                "status": "claimed",
                "created_at": created,
                "clock_start": created,
                "due_at": created + timedelta(days=7),
                "claimed_at": created + timedelta(minutes=10),
            }
            check = NOW + timedelta(minutes=rng.randint(1, 7 * 1440))
        yield row, sent, check


def columns() -> list[str]:
    names = [c.name for c in ISSUE.columns]
    for c in ISSUE.columns:  # columns other features add must be nullable or defaulted
        default = scalar_default(c)
        if c.name not in KNOWN and not c.nullable and default is None:
            raise SystemExit(f"bench/sweep.py does not know how to fill issue.{c.name}")
    return names


KNOWN = {
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
}


def value(row: dict[str, Any], name: str) -> Any:
    if name in row:
        return row[name]
    return scalar_default(ISSUE.columns[name])


def scalar_default(column: Any) -> Any:
    default = column.default
    return getattr(default, "arg", None) if default is not None and default.is_scalar else None


def sqlite_stamp(v: Any) -> Any:
    # What SQLModel's UTCDateTime stores on SQLite: UTC, no offset.
    if isinstance(v, datetime):
        return v.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return v


def secondary_indexes(conn: Any, dialect: str) -> list[tuple[str, str]]:
    if dialect == "sqlite":
        rows = conn.execute(
            text(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'issue'"
                " AND sql IS NOT NULL"
            )
        ).all()
    else:
        rows = conn.execute(
            text(
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'issue' AND "
                "indexname NOT IN (SELECT conname FROM pg_constraint "
                "WHERE conrelid = 'issue'::regclass)"
            )
        ).all()
    return [(r[0], r[1]) for r in rows]


def load(engine: Engine, total: int, due: int, seed: int = 7) -> float:
    """Fill the database; the seconds it took."""
    t0 = time.perf_counter()
    rng = random.Random(seed)
    _, grid_ids = grid(engine)
    names = columns()
    dialect = engine.dialect.name
    with engine.begin() as conn:
        indexes = secondary_indexes(conn, dialect)
        for name, _ in indexes:
            conn.execute(text(f'DROP INDEX "{name}"'))
    reminders: list[dict[str, Any]] = []
    checks: list[tuple[int, Any]] = []
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        rows = issue_rows(total, due, grid_ids, rng)
        if dialect == "sqlite":
            sql = f"INSERT INTO issue ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"
            chunk: list[tuple[Any, ...]] = []
            for row, sent, check in rows:
                chunk.append(tuple(sqlite_stamp(value(row, n)) for n in names))
                reminders += [_sent(key, person, row) for key, person, _ in sent]
                if check is not None:
                    checks.append((row["id"], sqlite_stamp(check)))
                if len(chunk) == 50_000:
                    cur.executemany(sql, chunk)
                    chunk = []
            cur.executemany(sql, chunk)
            cur.executemany("INSERT INTO issuecheck VALUES (?, ?)", checks)
        else:
            # The rows are consistent by construction; per-row foreign-key checks on a million
            # rows would take longer than everything else (superuser only: the bench's server).
            cur.execute("SET session_replication_role = replica")
            with cur.copy(f"COPY issue ({', '.join(names)}) FROM STDIN") as copy:
                for row, sent, check in rows:
                    copy.write_row([value(row, n) for n in names])
                    reminders += [_sent(key, person, row) for key, person, _ in sent]
                    if check is not None:
                        checks.append((row["id"], check))
            with cur.copy("COPY issuecheck (issue_id, next_check_at) FROM STDIN") as copy:
                for check_row in checks:
                    copy.write_row(check_row)
            cur.execute("SELECT setval('issue_id_seq', (SELECT max(id) FROM issue))")
            cur.execute("SET session_replication_role = DEFAULT")
        raw.commit()
    finally:
        raw.close()
    with engine.begin() as conn:
        for _, definition in indexes:
            conn.execute(text(definition))
        if reminders:
            conn.execute(insert(SQLModel.metadata.tables["reminder"]), reminders)
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT")
        conn.execute(text("ANALYZE"))
    return time.perf_counter() - t0


def _sent(key: str, person: int, row: dict[str, Any]) -> dict[str, Any]:
    return {
        "key": f"{key}>{person}",
        "issue_id": row["id"],
        "person_id": person,
        "stage": key.split(":", 1)[0],
        "due_at": row["clock_start"],
        "created_at": row["clock_start"],
        "text": "",
        "image": None,
        "status": "queued",
        "outbox_id": None,
    }


def plan(engine: Engine) -> str:
    """How the database finds the due checks (the one query whose cost could depend on the
    table sizes; the issues are then read by primary key)."""
    query = (
        "SELECT issue_id FROM issuecheck WHERE next_check_at <= :now "
        "ORDER BY next_check_at LIMIT 20000"
    )
    now = NOW.astimezone(UTC)
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            rows = conn.execute(
                text("EXPLAIN QUERY PLAN " + query),
                {"now": now.strftime("%Y-%m-%d %H:%M:%S.%f")},
            ).all()
            return " / ".join(str(r[-1]) for r in rows)
        lines = conn.execute(text("EXPLAIN " + query + " FOR UPDATE SKIP LOCKED"), {"now": now})
        return " / ".join(r[0].strip() for r in lines.all())


def sweep_once(engine: Engine, due: int) -> dict[str, Any]:
    """One timed sweep (wall and this process's CPU time) on a fresh copy of the loaded data."""
    scheduler = Scheduler(engine, FakeClock(NOW), SchedulerConfig(), town="镇", charts=None)
    with engine.connect() as conn:  # a connection in the pool, as a running bot has
        conn.execute(text("SELECT 1"))
    t0, c0 = time.perf_counter(), time.process_time()
    result = scheduler.sweep()
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    with Session(engine) as session:
        left = session.exec(
            select(func.count()).select_from(IssueCheck).where(col(IssueCheck.next_check_at) <= NOW)
        ).one()
        owed = session.exec(
            select(func.count()).select_from(Reminder).where(Reminder.created_at == NOW)
        ).one()
        messages = session.exec(select(func.count()).select_from(Outbox)).one()
        jobs = session.exec(select(func.count()).select_from(JobRun)).one()
    engine.dispose()  # no connection left on the copy, which the next run replaces
    assert left == 0 and result.issues == due and jobs == 1, (left, result, jobs)
    return {"sweep": seconds, "cpu": cpu, "owed": owed, "messages": messages}


def run(backend: str, total: int, due: int, repeat: int) -> dict[str, Any]:
    """Load one database, then sweep `repeat` identical copies of it through one engine, as a
    running bot has one: the first sweep also fills SQLAlchemy's statement cache (reported as
    "first"), the others show the steady state; best and median of those are reported, since
    the machine may be busy with other work."""
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        if backend == "sqlite":
            source = Path(tmp) / "loaded.db"
            loader = make_engine(f"sqlite:///{source}")
            upgrade(loader)
            loaded = load(loader, total, due)
            explained = plan(loader)
            loader.dispose()  # the last connection checkpoints the WAL into the file
            copy = Path(tmp) / "run.db"
            engine = make_engine(f"sqlite:///{copy}")
            for _ in range(repeat + 1):
                shutil.copy(source, copy)
                # Written through to disk first: otherwise the sweep's first checkpoint would
                # also pay for flushing the whole fresh copy.
                with open(copy, "rb+") as f:
                    os.fsync(f.fileno())
                runs.append(sweep_once(engine, due))
        else:
            url, drop = pg_database()
            try:
                loader = make_engine(url)
                upgrade(loader)
                loaded = load(loader, total, due)
                explained = plan(loader)
                loader.dispose()
                copy_url, drop_copy = pg_database(template=url, suffix="_run")
                engine = make_engine(copy_url)
                for i in range(repeat + 1):
                    if i:
                        drop_copy()
                        copy_url, drop_copy = pg_database(template=url, suffix="_run")
                    runs.append(sweep_once(engine, due))
                drop_copy()
            finally:
                drop()
    times = sorted(r["sweep"] for r in runs[1:])
    return {
        "total": total,
        "due": due,
        "load": loaded,
        "first": runs[0]["sweep"],
        "best": times[0],
        "median": statistics.median(times),
        "cpu": min(r["cpu"] for r in runs[1:]),
        "owed": runs[0]["owed"],
        "messages": runs[0]["messages"],
        "plan": explained,
    }


def pg_database(template: str | None = None, suffix: str = "") -> tuple[str, Any]:
    name = f"shuoshi_bench_{os.getpid()}{suffix}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        source = f' TEMPLATE "{make_url(template).database}"' if template else ""
        conn.execute(text(f'CREATE DATABASE "{name}"{source}'))
    url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return url, drop


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument(
        "--sizes",
        default="100000:10000,1000000:10000,1000000:1000",
        help="comma-separated total:due",
    )
    parser.add_argument("--repeat", type=int, default=3, help="sweeps on identical copies")
    args = parser.parse_args()
    sizes = [tuple(int(x) for x in s.split(":")) for s in args.sizes.split(",")]
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    results: list[tuple[str, dict[str, Any]]] = []
    for backend in backends:
        for total, due in sizes:
            figures = run(backend, total, due, args.repeat)
            results.append((backend, figures))
            print(
                f"{backend:10} total {total:>9,} due {due:>6,}: "
                f"first sweep {figures['first']:.2f} s, then best {figures['best']:.2f} s"
                f", median {figures['median']:.2f} s, CPU {figures['cpu']:.2f} s "
                f"({figures['owed']:,} reminders owed, {figures['messages']:,} messages; "
                f"load {figures['load']:.0f} s; load average {os.getloadavg()[0]:.1f})",
                flush=True,
            )
    out = io.StringIO()
    out.write(
        "| backend | issues | due | first sweep | then: best | median | CPU (bot process) "
        "| reminders owed | messages |\n"
    )
    out.write("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
    for backend, f in results:
        out.write(
            f"| {backend} | {f['total']:,} | {f['due']:,} | {f['first']:.2f} s | "
            f"{f['best']:.2f} s | "
            f"{f['median']:.2f} s | {f['cpu']:.2f} s | {f['owed']:,} | {f['messages']:,} |\n"
        )
    print()
    print(out.getvalue())
    for backend, f in results[:: len(sizes)]:
        print(f"{backend} plan of the due query: {f['plan']}")


if __name__ == "__main__":
    main()
