"""台账导出: the .xlsx opened with openpyxl, the .csv with its BOM, both for the current filter."""

from __future__ import annotations

import csv
import io
from datetime import datetime

import httpx
import pytest
from openpyxl import load_workbook

from bot.app import App
from tests.admin.conftest import login, say
from tests.conftest import Chat

pytestmark = pytest.mark.asyncio

HEADER = ["编号", "类别", "村", "群", "内容", "反映人", "负责人", "状态", "登记时间", "限期"]


async def test_xlsx_is_the_filtered_ledger(
    client: httpx.AsyncClient, matters: Chat, app: App
) -> None:
    await say(matters, '老周: =HYPERLINK("http://x","点我") 村口的桥栏杆断了')
    await login(client, "李书记")  # 新联村: #1, #2 and #4
    r = await client.get("/export.xlsx")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert "filename*=UTF-8''" in r.headers["content-disposition"]
    wb = load_workbook(io.BytesIO(r.content))
    ws = wb["台账"]
    rows = list(ws.iter_rows(values_only=True))
    assert list(rows[0][: len(HEADER)]) == HEADER
    assert [row[0] for row in rows[1:]] == [4, 2, 1]  # newest first, like the list
    by_number = {row[0]: row for row in rows[1:]}
    assert by_number[2][1] == "邻里事" and by_number[2][2] == "新联村"
    assert "138****5678" in by_number[2][4] and "13812345678" not in by_number[2][4]
    assert by_number[1][6] == "张姐" and by_number[1][7] == "待认领"
    created = by_number[1][8]
    assert isinstance(created, datetime) and (created.year, created.month, created.day) == (
        2026,
        11,
        23,
    )
    assert ws["I2"].number_format == "yyyy-mm-dd hh:mm"
    assert ws.freeze_panes == "A2"
    assert ws.column_dimensions["E"].width == 48
    assert ws["A1"].font.bold
    formula = by_number[4][4]
    assert (
        formula.startswith("=HYPERLINK")
        and ws[f"E{[r[0] for r in rows].index(4) + 1}"].data_type == "s"
    )
    # The current filter, as in the list.
    r = await client.get("/export.xlsx?kind=邻里事")
    rows = list(load_workbook(io.BytesIO(r.content))["台账"].iter_rows(values_only=True))
    assert [row[0] for row in rows[1:]] == [2]


async def test_csv_has_a_bom_and_the_same_rows(
    client: httpx.AsyncClient, matters: Chat, app: App
) -> None:
    await login(client, "陈镇长")
    r = await client.get("/export.csv?sort=old")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert r.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[0][: len(HEADER)] == HEADER
    assert [row[0] for row in rows[1:]] == ["1", "2", "3"]
    assert rows[1][8] == "2026-11-23 09:00" and rows[3][2] == "石桥村"
    assert "13812345678" not in r.content.decode("utf-8-sig")


def _as_csv(value: object) -> str:
    """A cell of the .xlsx as the .csv writes it."""
    if isinstance(value, datetime):
        return f"{value:%Y-%m-%d %H:%M}"
    return "" if value is None else str(value)


async def test_xlsx_and_csv_agree_cell_by_cell(
    client: httpx.AsyncClient, matters: Chat, app: App
) -> None:
    """The ledger is the official record: the sheet shows the village's local times (here
    09:00 and 11:30 in Asia/Shanghai, 01:00 and 03:30 UTC), as the .csv and the page do."""
    await say(matters, "@at 2026-11-23 11:30\n张姐: 办结 1 已换新灯泡")
    await login(client, "陈镇长")
    sheet = await client.get("/export.xlsx?sort=old")
    text = await client.get("/export.csv?sort=old")
    from_xlsx = [
        [_as_csv(v) for v in row]
        for row in load_workbook(io.BytesIO(sheet.content))["台账"].iter_rows(values_only=True)
    ]
    from_csv = list(csv.reader(io.StringIO(text.content.decode("utf-8-sig"))))
    assert len(from_xlsx) == len(from_csv) == 4
    for row_x, row_c in zip(from_xlsx, from_csv, strict=True):
        assert row_x == row_c
    first = dict(zip(from_csv[0], from_csv[1], strict=True))
    assert (first["登记时间"], first["办结时间"]) == ("2026-11-23 09:00", "2026-11-23 11:30")
