"""End-to-end checks of the fake Bot API with a real python-telegram-bot Application."""

from __future__ import annotations

import asyncio
import datetime as dtm
import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest, Conflict, NetworkError, RetryAfter
from telegram.ext import (
    Application,
    ApplicationBuilder,
    BaseHandler,
    CallbackQueryHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from tests.telegram.fake_bot_api import FakeBotApi

TOKEN = "123:ABC"
GROUP = -100_555_0001
ALICE = 4201


@pytest.fixture(autouse=True)
def _ptb_timedelta(monkeypatch: pytest.MonkeyPatch) -> None:
    # PTB 22.x warns (an error under -W error) when a duration such as RetryAfter.retry_after
    # is read as int; opt in to datetime.timedelta as PTB 23 will return.
    monkeypatch.setenv("PTB_TIMEDELTA", "1")


@pytest_asyncio.fixture
async def server() -> AsyncIterator[FakeBotApi]:
    async with FakeBotApi() as fake:
        yield fake


def build_app(server: FakeBotApi) -> Application[Any, Any, Any, Any, Any, Any]:
    return (
        ApplicationBuilder()
        .token(TOKEN)
        .base_url(f"{server.url}/bot")
        .base_file_url(f"{server.url}/file/bot")
        .build()
    )


@asynccontextmanager
async def polling(
    server: FakeBotApi,
    handlers: Sequence[BaseHandler[Any, Any, Any]],
    errors: list[BaseException] | None = None,
) -> AsyncIterator[Application[Any, Any, Any, Any, Any, Any]]:
    app = build_app(server)
    for handler in handlers:
        app.add_handler(handler)
    if errors is not None:

        async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
            assert context.error is not None
            errors.append(context.error)

        app.add_error_handler(on_error)
    async with app:
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0, timeout=dtm.timedelta(seconds=5))
        await app.start()
        try:
            yield app
        finally:
            await app.updater.stop()
            await app.stop()


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.message is not None and update.message.text is not None
    await update.message.reply_text(f"收到：{update.message.text}")


async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None
    await query.answer(text=f"已选 {query.data}")
    await query.edit_message_text(f"你选了 {query.data}")


@pytest.mark.asyncio
async def test_echo_roundtrip_in_polling_mode(server: FakeBotApi) -> None:
    handler = MessageHandler(filters.TEXT & ~filters.COMMAND, echo)
    async with polling(server, [handler]) as app:
        assert app.bot.username == "shuoshi_test_bot"
        assert app.bot.id == 123
        posted = server.post_text(GROUP, ALICE, "村口路灯坏了", chat_title="幸福村")
        [reply] = await server.wait_sent(1)
    assert reply.method == "sendMessage"
    assert reply.chat_id == GROUP
    assert reply.text == "收到：村口路灯坏了"
    assert reply.reply_to_message_id == posted["message"]["message_id"]
    assert reply.message_id != posted["message"]["message_id"]
    assert reply.message["chat"] == {"id": GROUP, "type": "supergroup", "title": "幸福村"}
    # PTB confirmed the update on stop: nothing is pending any more.
    assert server.pending_updates == []
    assert [c.method for c in server.calls[:2]] == ["getMe", "deleteWebhook"]


@pytest.mark.asyncio
async def test_callback_query_is_answered_and_message_edited(server: FakeBotApi) -> None:
    async with polling(server, [CallbackQueryHandler(on_button)]) as app:
        keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("同意", callback_data="yes")]])
        sent = await app.bot.send_message(GROUP, "是否同意修路？", reply_markup=keyboard)
        assert sent.reply_markup == keyboard
        assert server.sent[-1].buttons == [[{"text": "同意", "callback_data": "yes"}]]
        update = server.press_button(GROUP, ALICE, sent.message_id, "yes")
        await server.wait_for(lambda: server.edits)
    [answer] = server.callback_answers
    assert answer.callback_query_id == update["callback_query"]["id"]
    assert answer.text == "已选 yes"
    assert server.edits[0].message_id == sent.message_id
    assert server.edits[0].text == "你选了 yes"


@pytest.mark.asyncio
async def test_429_surfaces_as_retry_after(server: FakeBotApi) -> None:
    errors: list[BaseException] = []
    handler = MessageHandler(filters.TEXT, echo)
    server.fail_next("sendMessage", status=429, retry_after=3)
    async with polling(server, [handler], errors):
        server.post_text(GROUP, ALICE, "第一条")
        await server.wait_for(lambda: errors)
        server.post_text(GROUP, ALICE, "第二条")
        [reply] = await server.wait_sent(1)
    [error] = errors
    assert isinstance(error, RetryAfter)
    assert error.retry_after == dtm.timedelta(seconds=3)
    assert reply.text == "收到：第二条"
    failed = server.calls_to("sendMessage")[0]
    assert failed.status == 429
    assert failed.response == {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 3",
        "parameters": {"retry_after": 3},
    }


@pytest.mark.asyncio
async def test_500_and_bad_markup_surface_as_errors(server: FakeBotApi) -> None:
    async with Bot(TOKEN, base_url=server.base_url, base_file_url=server.base_file_url) as bot:
        server.fail_next("sendMessage", status=500)
        with pytest.raises(NetworkError, match="Internal Server Error"):
            await bot.send_message(GROUP, "x")
        with pytest.raises(BadRequest, match=r"(?i)unsupported start tag"):
            await bot.send_message(GROUP, "1 < 2", parse_mode="HTML")
        ok = await bot.send_message(GROUP, "<b>报名</b> 1 &lt; 2", parse_mode="HTML")
        assert ok.text == "报名 1 < 2"
        with pytest.raises(BadRequest, match="not modified"):
            await bot.edit_message_text("报名 1 < 2", chat_id=GROUP, message_id=ok.message_id)


@pytest.mark.asyncio
async def test_get_file_downloads_registered_bytes(server: FakeBotApi) -> None:
    downloaded: list[bytes] = []

    async def on_photo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.message is not None
        tg_file = await update.message.photo[-1].get_file()
        downloaded.append(bytes(await tg_file.download_as_bytearray()))
        await update.message.reply_text(update.message.caption or "")

    payload = b"\xff\xd8\xff\xe0 fake jpeg \x00\x01"
    async with polling(server, [MessageHandler(filters.PHOTO, on_photo)]) as app:
        server.post_photo(GROUP, ALICE, payload, caption="水渠照片")
        [reply] = await server.wait_sent(1)
        # A document the bot uploads is downloadable as well.
        doc = await app.bot.send_document(GROUP, b"a,b\n1,2\n", filename="t.csv")
        assert doc.document is not None
        tg_file = await app.bot.get_file(doc.document.file_id)
        assert bytes(await tg_file.download_as_bytearray()) == b"a,b\n1,2\n"
    assert downloaded == [payload]
    assert reply.text == "水渠照片"
    assert server.sent[-1].file is not None and server.sent[-1].file.file_name == "t.csv"


@pytest.mark.asyncio
async def test_get_updates_offset_long_poll_and_redelivery(server: FakeBotApi) -> None:
    async with Bot(TOKEN, base_url=server.base_url, base_file_url=server.base_file_url) as bot:
        first = server.post_text(GROUP, ALICE, "/report@shuoshi_test_bot 一")
        second = server.post_text(GROUP, ALICE, "二")
        updates = await bot.get_updates(timeout=dtm.timedelta(seconds=0))
        assert [u.update_id for u in updates] == [first["update_id"], second["update_id"]]
        assert updates[0].message is not None
        assert updates[0].message.entities[0].type == "bot_command"
        # Confirming the first leaves only the second.
        updates = await bot.get_updates(offset=first["update_id"] + 1, timeout=0)
        assert [u.update_id for u in updates] == [second["update_id"]]

        # Long poll wakes as soon as an update is queued.
        loop = asyncio.get_running_loop()
        started = loop.time()
        poll = asyncio.create_task(
            bot.get_updates(offset=second["update_id"] + 1, timeout=dtm.timedelta(seconds=10))
        )
        await asyncio.sleep(0.2)
        third = server.post_text(GROUP, ALICE, "三")
        updates = await poll
        assert [u.update_id for u in updates] == [third["update_id"]]
        assert loop.time() - started < 2

        # Queuing an already confirmed update again redelivers it.
        server.queue_update(second)
        updates = await bot.get_updates(offset=third["update_id"] + 1, timeout=0)
        assert [u.update_id for u in updates] == [second["update_id"]]
        assert await bot.get_updates(offset=third["update_id"] + 1, timeout=0) == ()


@pytest.mark.asyncio
async def test_commands_are_recorded_with_scope(server: FakeBotApi) -> None:
    from telegram import BotCommand, BotCommandScopeAllGroupChats

    async with Bot(TOKEN, base_url=server.base_url, base_file_url=server.base_file_url) as bot:
        commands = [BotCommand("report", "报告一件事"), BotCommand("list", "查看事项")]
        scope = BotCommandScopeAllGroupChats()
        assert await bot.set_my_commands(commands, scope=scope, language_code="zh")
        assert await bot.get_my_commands(scope=scope, language_code="zh") == tuple(commands)
        assert await bot.get_my_commands() == ()
        assert await bot.delete_my_commands(scope=scope, language_code="zh")
    assert server.commands[0].scope == {"type": "all_group_chats"}
    assert server.commands[0].commands[0] == {"command": "report", "description": "报告一件事"}
    assert server.commands[1].method == "deleteMyCommands"


@pytest.mark.asyncio
async def test_webhook_push_with_secret_and_retry(server: FakeBotApi) -> None:
    received: list[tuple[str | None, dict[str, Any]]] = []
    statuses = [500]  # the first delivery fails, later ones succeed

    async def receive(request: web.Request) -> web.Response:
        received.append(
            (request.headers.get("X-Telegram-Bot-Api-Secret-Token"), await request.json())
        )
        return web.Response(status=statuses.pop(0) if statuses else 200)

    receiver = web.Application()
    receiver.router.add_post("/hook", receive)
    runner = web.AppRunner(receiver, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = runner.addresses[0][1]
        hook = f"http://127.0.0.1:{port}/hook"
        async with Bot(TOKEN, base_url=server.base_url, base_file_url=server.base_file_url) as bot:
            assert await bot.set_webhook(hook, secret_token="s3cret-token")
            update = server.post_text(GROUP, ALICE, "推送测试")
            await server.wait_for(lambda: any(d.ok for d in server.webhook_deliveries))
            info = await bot.get_webhook_info()
            assert info.url == hook
            assert info.pending_update_count == 0
            assert info.last_error_message == "Wrong response from the webhook: 500"
            with pytest.raises(Conflict):
                await bot.get_updates(timeout=0)
            assert await bot.delete_webhook()
            assert await bot.get_updates(timeout=0) == ()
    finally:
        await runner.cleanup()

    assert [d.status for d in server.webhook_deliveries] == [500, 200]
    assert [d.attempt for d in server.webhook_deliveries] == [1, 2]
    assert [secret for secret, _ in received] == ["s3cret-token", "s3cret-token"]
    assert received[1][1] == update
    parsed = Update.de_json(json.loads(json.dumps(received[1][1])), None)
    assert parsed.message is not None and parsed.message.text == "推送测试"


@pytest.mark.asyncio
async def test_raw_http_forms_and_unknown_methods(server: FakeBotApi) -> None:
    async with aiohttp.ClientSession() as session:
        url = f"{server.url}/bot{TOKEN}"
        async with session.get(f"{url}/getMe") as response:
            me = await response.json()
        assert me["ok"] and me["result"]["can_read_all_group_messages"] is False
        form = {"chat_id": str(GROUP), "text": "123", "reply_markup": '{"inline_keyboard": []}'}
        async with session.post(f"{url}/sendMessage", data=form) as response:
            sent = await response.json()
        assert sent["result"]["text"] == "123"
        async with session.post(f"{url}/sendMessage", json={"chat_id": GROUP}) as response:
            assert response.status == 400
        async with session.post(f"{url}/setChatMenuButton", json={}) as response:
            assert await response.json() == {"ok": True, "result": True}
        async with session.get(f"{server.url}/file/bot{TOKEN}/nope.jpg") as response:
            assert response.status == 404
    assert server.unknown_methods == ["setChatMenuButton"]
    assert server.sent[0].params["chat_id"] == GROUP
