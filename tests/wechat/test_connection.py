"""The gRPC connection: TLS as Wechaty does it, the heartbeat watchdog, SCAN/LOGIN, send errors."""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Callable, Iterator
from dataclasses import replace
from types import SimpleNamespace

import grpc
import pytest

from bot.wechat import (
    PLATFORM,
    WechatTransport,
    _send_error,
    status_view,
    strip_mention,
    strip_quote,
)
from bot.wechat_client import (
    LOGIN,
    LOGOUT,
    SCAN,
    ClientOptions,
    NotConnected,
    PuppetClient,
    backoff_delay,
    qr_link,
)
from bot.wechat_tls import server_name_from_token
from bot.wechaty_pb.wechaty.puppet import base_pb2
from ports.doors import PermanentError, TransientError
from storage.models import Outbox
from tests.wechat.conftest import Gateway, fast_options, require_gateway, until

M = "\u2005"


# --- pure functions -------------------------------------------------------------------------
def test_strip_mention() -> None:
    assert strip_mention(f"@说事{M}村口路灯坏了", ["说事"]) == "村口路灯坏了"
    assert strip_mention(f"村口路灯坏了 @说事{M}", ["说事"]) == "村口路灯坏了"
    assert strip_mention(f"@说事助手{M}@说事 认领 3", ["说事", "说事助手"]) == "认领 3"
    assert strip_mention(f"@张姐{M}路灯坏了", ["说事"]) == f"@张姐{M}路灯坏了"  # someone else
    assert strip_mention("me@说事.com 发邮件", ["说事"]) == "me@说事.com 发邮件"
    # The puppet says the bot was mentioned, but its name here is not known (yet).
    assert strip_mention(f"@小说{M}路灯坏了", [], mentioned=True) == "路灯坏了"


def test_strip_quote() -> None:
    rule = "- - - - - - - - - - - - - - -"
    quoted = f"「说事：#3 已办结：已修好 请评价：满意 / 基本满意 / 不满意」\n{rule}\n1"
    assert strip_quote(quoted) == "1"
    assert strip_quote("路灯坏了\n- - - - - -\n好几天了") == "路灯坏了\n- - - - - -\n好几天了"
    assert strip_quote("认领 3") == "认领 3"


def test_qr_link_and_server_name() -> None:
    assert qr_link("https://login.weixin.qq.com/l/abc=") == (
        "https://wechaty.js.org/qrcode/https%3A%2F%2Flogin.weixin.qq.com%2Fl%2Fabc%3D"
    )
    assert server_name_from_token("insecure_0d3c-11") == "insecure"
    assert server_name_from_token("Puppet_Paimon_0d3c") == "puppet_paimon"
    assert server_name_from_token("0d3c11ef") == "insecure"  # no prefix: the default cert's


def test_backoff_grows_with_jitter_up_to_the_cap() -> None:
    rng = random.Random(7)
    delays = [backoff_delay(n, 1.0, 60.0, rng) for n in range(12)]
    for n, d in enumerate(delays):
        ceiling = min(60.0, 2.0**n)
        assert ceiling / 2 <= d <= ceiling
    assert len({round(d, 6) for d in delays[8:]}) == 4  # capped, yet not all the same


def rpc_error(code: grpc.StatusCode, details: str = "") -> grpc.aio.AioRpcError:
    return grpc.aio.AioRpcError(code, grpc.aio.Metadata(), grpc.aio.Metadata(), details)


def test_send_errors_tell_the_sender_what_to_do() -> None:
    assert isinstance(_send_error(rpc_error(grpc.StatusCode.UNAVAILABLE)), TransientError)
    assert isinstance(_send_error(rpc_error(grpc.StatusCode.DEADLINE_EXCEEDED)), TransientError)
    assert isinstance(_send_error(NotConnected("down")), TransientError)
    assert isinstance(_send_error(rpc_error(grpc.StatusCode.NOT_FOUND)), PermanentError)
    logged_out = _send_error(rpc_error(grpc.StatusCode.UNKNOWN, "Error: not logged in"))
    assert isinstance(logged_out, TransientError) and logged_out.retry_after == 30
    other = _send_error(rpc_error(grpc.StatusCode.UNKNOWN, "Error: boom"))
    assert type(other) is RuntimeError  # retried, counting its tries


# --- events, without a gateway ----------------------------------------------------------------
@pytest.mark.asyncio
async def test_scan_login_and_logout_events(caplog: pytest.LogCaptureFixture) -> None:
    published: list[dict[str, object]] = []
    client = PuppetClient(
        ClientOptions(endpoint="127.0.0.1:1", token="t"),
        on_status=lambda status: published.append(status.as_dict()),
    )
    caplog.set_level(logging.INFO, logger="bot.wechat_client")

    def event(kind: int, payload: dict[str, object]) -> SimpleNamespace:
        return SimpleNamespace(type=kind, payload=json.dumps(payload))

    await client._dispatch(event(SCAN, {"qrcode": "https://login.weixin.qq.com/l/x", "status": 2}))
    link = "https://wechaty.js.org/qrcode/https%3A%2F%2Flogin.weixin.qq.com%2Fl%2Fx"
    assert client.status.qr_url == link and client.status.scan_status == "waiting"
    assert any(link in r.getMessage() for r in caplog.records)
    assert published[-1]["qr_url"] == link
    view = status_view(client.status)
    assert view["qr"] == link and not view["logged_in"]  # the admin page shows it as a link

    await client._dispatch(event(LOGIN, {"contactId": "wxid_bot"}))
    assert (client.self_id, client.status.logged_in, client.status.qr_url) == (
        "wxid_bot",
        True,
        None,
    )
    assert "qr" not in status_view(client.status)
    assert any("logged in as wxid_bot" in r.getMessage() for r in caplog.records)

    await client._dispatch(event(LOGOUT, {"contactId": "wxid_bot", "data": "kicked"}))
    assert not client.status.logged_in and not client.logged_in.is_set()
    assert any("logged out" in r.getMessage() for r in caplog.records)


@pytest.mark.asyncio
async def test_sending_while_disconnected_is_a_transient_error(
    make_app: Callable[..., object],
) -> None:
    from bot.app import App, wechat_door

    app = make_app()
    assert isinstance(app, App)
    bot = wechat_door(app, ClientOptions(endpoint="127.0.0.1:1", token="t"))
    row = Outbox(
        platform=PLATFORM,
        chat="r@chatroom",
        text="hi",
        created_at=app.clock.now(),
        not_before=app.clock.now(),
    )
    with pytest.raises(TransientError):
        await WechatTransport(bot).send(row)
    with pytest.raises(NotConnected):
        await bot.client.call("Version", base_pb2.VersionRequest())


# --- through a gateway of our own, served with TLS ---------------------------------------------
@pytest.fixture(scope="module")
def tls_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    require_gateway()
    gw = Gateway(tmp_path_factory.mktemp("tls-gateway"), tls=True)
    gw.start()
    yield gw
    gw.stop()


@pytest.mark.asyncio
async def test_tls_with_wechatys_root_ca(tls_gateway: Gateway) -> None:
    gw = tls_gateway
    client = PuppetClient(fast_options(gw))
    runner = asyncio.create_task(client.run())
    try:
        await until(client.connected.is_set, what="a TLS session")
        version = await client.call("Version", base_pb2.VersionRequest())
        assert version.version
    finally:
        await client.stop()
        await runner

    # The server's certificate names "insecure": another name must fail the handshake.
    wrong = PuppetClient(replace(fast_options(gw), server_name="wechaty.example.org"))
    runner = asyncio.create_task(wrong.run())
    try:
        await until(lambda: wrong.status.reconnects >= 2, what="refused handshakes")
        assert not wrong.connected.is_set() and wrong.sessions == 0
    finally:
        await wrong.stop()
        await runner


@pytest.mark.asyncio
async def test_a_silent_gateway_is_left_and_reconnected(tls_gateway: Gateway) -> None:
    gw = tls_gateway
    options = replace(
        fast_options(gw),
        ding_interval=0.3,  # the mock answers a Ding 1 s later
        silence_timeout=2.5,
        call_timeout=1.0,
        connect_timeout=1.0,
    )
    client = PuppetClient(options)
    runner = asyncio.create_task(client.run())
    try:
        await until(client.connected.is_set, what="the first session")
        await asyncio.sleep(1.5)  # Ding/DONG keep a healthy session open
        assert client.sessions == 1 and client.status.reconnects == 0
        gw.pause()  # the process hangs: no DONG, no answer
        try:
            await until(lambda: not client.connected.is_set(), timeout=10, what="the watchdog")
        finally:
            gw.resume()
        await until(lambda: client.sessions == 2, timeout=20, what="a new session")
        assert client.status.reconnects >= 1 and client.connected.is_set()
    finally:
        await client.stop()
        await runner


@pytest.mark.asyncio
async def test_a_qr_code_shown_before_the_bot_connected_reaches_it(gateway: Gateway) -> None:
    gateway.control("POST", "/reset", {})
    qr = "https://login.weixin.qq.com/l/before"
    gateway.control("POST", "/scan", {"qrcode": qr, "status": 2})  # nobody listens yet
    client = PuppetClient(fast_options(gateway))
    runner = asyncio.create_task(client.run())
    try:
        await until(lambda: client.status.qr_url, what="the SCAN replayed on Start")
        assert client.status.qr_url == qr_link(qr) and client.status.scan_status == "waiting"
        gateway.control("POST", "/login", {"id": "wxid_shuoshi_bot"})
        await until(lambda: client.status.logged_in, what="LOGIN")
        assert client.status.qr_url is None
    finally:
        await client.stop()
        await runner
