"""Whatever is typed into a URL (huge numbers, dates of the years 1 and 9999, a lone surrogate,
NUL, other scripts' digits, very long values), every route of the admin, the API and Open311
answers with a 4xx or a clean page, never a 500. The routes are the app's own, so a route added
later is covered without changing this test."""

from __future__ import annotations

import re
from urllib.parse import quote

import httpx
import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.routing import Mount, Route

from bot.app import App
from tests.admin.conftest import PASSWORD, csrf_of, login
from tests.conftest import Chat

pytestmark = pytest.mark.asyncio

# Written as they travel in a URL (already percent-encoded where needed).
VALUES = {
    "huge": "99999999999999999999999",
    "huge-negative": "-99999999999999999999999",
    "int32-plus-one": "2147483648",
    "int64-plus-one": "9223372036854775808",
    "year-1": "0001-01-01",
    "year-9999": "9999-12-31",
    "year-9999-time": "9999-12-31T23:59:59%2B14:00",
    "lone-surrogate": "%ED%A0%80",
    "nul": "%00",
    "other-digits": quote("١٢³"),
    "long": "9" * 2000,
    "float": "1e309",
}
# What the routes read from the query string (declared or through the list filter).
QUERY = [
    *("page", "per_page", "village", "group", "owner", "kind", "status", "overdue", "from", "to"),
    *("q", "sort", "weeks", "until", "next", "as", "service_request_id", "service_code"),
    *("start_date", "end_date", "api_key"),
]


def _query_names(dependant: Dependant) -> list[str]:
    names = [p.alias for p in dependant.query_params]
    for sub in dependant.dependencies:
        names += _query_names(sub)
    return names


def _targets(web: FastAPI) -> list[tuple[str, str, list[str], list[str]]]:
    """(method, path, path parameters, declared query parameters) of every route."""
    found = []
    for context in iter_route_contexts(web.routes):
        route, path = context.original_route, context.path
        if isinstance(route, Mount) or path is None:
            continue
        names = re.findall(r"{(\w+)(?::\w+)?}", path)
        declared: list[str] = []
        if isinstance(route, APIRoute):
            declared = sorted(set(_query_names(route.dependant)))
        methods = sorted(route.methods or ()) if isinstance(route, (APIRoute, Route)) else ["GET"]
        found += [(m, path, names, declared) for m in methods if m != "HEAD"]
    return found


def _fill(path: str, names: list[str], hostile: str | None) -> str:
    """The path with `hostile` in the parameter named by it, "1" in the others."""
    for name in names:
        value = hostile if hostile is not None and name == names[0] else "1"
        path = re.sub(r"\{" + name + r"(?::\w+)?\}", lambda _, v=value: v, path)
    return path


@pytest.mark.parametrize("value", VALUES.values(), ids=VALUES.keys())
async def test_no_url_input_answers_500(
    web: FastAPI, client: httpx.AsyncClient, matters: Chat, app: App, value: str
) -> None:
    await login(client, "陈镇长")  # the town: every page and every village is open to them
    token = csrf_of((await client.get("/issues")).text)
    form = {"csrf": token, "text": "好", "result": "好", "reason": "", "person": "1"}
    form |= {"kind": "村里事", "due": "3天", "name": "陈镇长", "password": PASSWORD}
    form |= {"message": "1", "label": "认领", "group": "新联村说事群", "village": value}
    targets = _targets(web)
    assert len(targets) > 25
    seen: list[tuple[str, str, int]] = []

    async def send(method: str, url: str) -> None:
        if method == "GET":
            r = await client.get(url)
        else:
            r = await client.request(method, url, data=form)
        seen.append((method, url[:80], r.status_code))
        assert r.status_code < 500, (method, url[:200], r.status_code, r.text[:300])

    for method, path, names, declared in targets:
        if path == "/logout":
            continue  # would end the session the other requests use
        every = "&".join(f"{q}={value}" for q in QUERY)
        if method == "GET":
            await send(method, f"{_fill(path, names, None)}?{every}")
            for q in declared:  # one at a time: one refused parameter hides no other
                await send(method, f"{_fill(path, names, None)}?{q}={value}")
        for i in range(len(names)):  # each path parameter in turn
            rotated = names[i:] + names[:i]
            await send(method, _fill(path, rotated, value))
    for mount in ("/static/", "/api/docs-assets/"):
        await send("GET", mount + value)
    assert any(code == 200 for _, _, code in seen)  # the session held: pages were answered
