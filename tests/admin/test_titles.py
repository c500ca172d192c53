"""The admin shows each person's title as the grid file writes it (issue 18): 村党支部书记,
书记兼主任, not only the duty the product reads from it."""

from __future__ import annotations

import httpx
import pytest

from tests.admin.conftest import login
from tests.conftest import Chat


@pytest.mark.asyncio
async def test_assign_lists_people_by_their_titles(
    client: httpx.AsyncClient, matters: Chat
) -> None:
    assert (await login(client, "李书记")).status_code == 303
    page = (await client.get("/issues/1")).text
    assert "李书记（村党支部书记）" in page and "张姐（网格员）" in page
    listing = (await client.get("/issues")).text
    assert "李书记（村党支部书记）" in listing
