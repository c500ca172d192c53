"""Smoke test and executable documentation of the Wechaty Puppet Service gRPC protocol.

Starts ``gateway.js`` with the mock puppet (plaintext gRPC on loopback) and talks to it the
way the bot's WeChat adapter does, asserting each protocol fact on the way:

1. open the ``Event`` server stream first (every call carries the metadata
   ``authorization: Wechaty <token>``), wait for its first HEARTBEAT, then call ``Start``;
2. log the bot in through the control endpoint -> ``EVENT_TYPE_LOGIN`` ``{"contactId": ...}``;
3. a villager talks in a room -> ``EVENT_TYPE_MESSAGE`` ``{"messageId": ...}``; fetch
   ``MessagePayload``, ``RoomPayload`` and ``ContactPayload``;
4. reply with ``MessageSendText`` (room id, text, mention ids): the reply comes back as a
   MESSAGE event of the bot's own and is listed by the control endpoint's ``GET /sent``;
5. image / voice messages: ``MessageFile`` returns a FileBox JSON string, inline base64 up to
   20 KB, otherwise a UUID box whose bytes come from the ``Download`` stream;
6. send a picture with ``MessageSendFile`` (a base64 FileBox JSON); a second ``Event`` stream
   is refused (ALREADY_EXISTS); a wrong token is refused (UNAUTHENTICATED).

Usage, from the repository root after ``npm ci`` in deploy/wechaty-gateway (needs ``node``
and the grpcio / protobuf pins from deploy/wechaty-gateway/README.md)::

    python deploy/wechaty-gateway/smoke_client.py
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import grpc

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))  # the repository root, for `bot.wechaty_pb`

from bot.wechaty_pb.wechaty import puppet_pb2_grpc  # noqa: E402
from bot.wechaty_pb.wechaty.puppet import (  # noqa: E402
    base_pb2,
    contact_pb2,
    download_upload_pb2,
    event_pb2,
    message_pb2,
    room_pb2,
)

EventType = event_pb2.EventType
# MessagePayloadResponse.type holds wechaty-puppet's MessageType numbers, NOT the values of
# the MessageType enum in message.proto (which says TEXT=6, IMAGE=5):
TEXT, IMAGE, AUDIO = 7, 6, 2
FILE_BOX_BASE64, FILE_BOX_UUID = 1, 7  # FileBox JSON "type"

TOKEN = "smoke-test-token"
METADATA = (("authorization", f"Wechaty {TOKEN}"),)
BOT_ID = "wxid_shuoshi_bot"
ROOM_ID = "village1@chatroom"
TINY_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_gateway(grpc_port: int, control_port: int) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "WECHATY_PUPPET": "wechaty-puppet-mock",
        "WECHATY_TOKEN": TOKEN,
        "WECHATY_PUPPET_SERVER_PORT": str(grpc_port),
        "WECHATY_PUPPET_SERVICE_NO_TLS": "true",
        "GATEWAY_CONTROL_PORT": str(control_port),
        "WECHATY_LOG": "warn",
    }
    cmd = ["node", str(HERE / "gateway.js")]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    for line in proc.stdout:  # blocks until the ready line, or EOF if the gateway died
        if line.startswith("wechaty-gateway ready "):
            print("gateway:", line.strip())
            return proc
    raise RuntimeError(f"gateway exited with {proc.wait()}")


class Control:
    """The mock gateway's HTTP control endpoint."""

    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"

    def __call__(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method)
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read())


async def next_event(events: asyncio.Queue[Any], wanted: int) -> dict[str, Any]:
    """Payload (decoded JSON) of the next event of type `wanted`; other events are skipped."""
    while True:
        ev = await asyncio.wait_for(events.get(), timeout=10)
        payload = json.loads(ev.payload) if ev.payload else {}
        print(f"  event {EventType.Name(ev.type)}: {payload}")
        if ev.type == wanted:
            return payload


async def run(grpc_port: int, control: Control) -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:
        stub = puppet_pb2_grpc.PuppetStub(channel)

        async def message(message_id: str) -> Any:
            req = message_pb2.MessagePayloadRequest(id=message_id)
            return await stub.MessagePayload(req, metadata=METADATA)

        async def file_bytes(message_id: str) -> bytes:
            req = message_pb2.MessageFileRequest(id=message_id)
            box = json.loads((await stub.MessageFile(req, metadata=METADATA)).file_box)
            print("  file_box:", {k: v if k != "base64" else "..." for k, v in box.items()})
            if box["type"] == FILE_BOX_BASE64:
                return base64.b64decode(box["base64"])
            assert box["type"] == FILE_BOX_UUID, box
            download = stub.Download(
                download_upload_pb2.DownloadRequest(id=box["uuid"]), metadata=METADATA
            )
            return b"".join([part.chunk async for part in download])

        # 1. The Event stream first, then Start.
        events: asyncio.Queue[Any] = asyncio.Queue()
        stream = stub.Event(event_pb2.EventRequest(), metadata=METADATA)

        async def pump() -> None:
            async for ev in stream:
                await events.put(ev)

        pump_task = asyncio.create_task(pump())
        await next_event(events, EventType.EVENT_TYPE_HEARTBEAT)  # "stream connect successfully"
        await stub.Start(base_pb2.StartRequest(), metadata=METADATA)
        version = await stub.Version(base_pb2.VersionRequest(), metadata=METADATA)
        print("Start ok, server puppet version", version.version)

        # 2. Contacts, bot login (-> LOGIN event), a room.
        control("POST", "/contacts", {"id": "wxid_zhang", "name": "张三"})
        control("POST", "/contacts", {"id": "wxid_li", "name": "李四"})
        control("POST", "/login", {"id": BOT_ID, "name": "说事"})
        assert await next_event(events, EventType.EVENT_TYPE_LOGIN) == {"contactId": BOT_ID}
        members = ["wxid_zhang", "wxid_li", BOT_ID]
        control("POST", "/rooms", {"id": ROOM_ID, "topic": "王家村村务群", "memberIds": members})

        # 3. A villager talks in the room, mentioning the bot.
        text = "@说事\u2005村口路灯坏了"
        body = {"from": "wxid_zhang", "roomId": ROOM_ID, "text": text, "mentionIds": [BOT_ID]}
        control("POST", "/messages", body)
        msg = await message((await next_event(events, EventType.EVENT_TYPE_MESSAGE))["messageId"])
        print("MessagePayload:", str(msg).replace("\n", " "))
        assert (msg.type, msg.text, msg.talker_id) == (TEXT, text, "wxid_zhang")
        assert (msg.room_id, msg.listener_id, list(msg.mention_ids)) == (ROOM_ID, "", [BOT_ID])
        print("  receive_time:", msg.receive_time.ToDatetime())
        req_room = room_pb2.RoomPayloadRequest(id=msg.room_id)
        room = await stub.RoomPayload(req_room, metadata=METADATA)
        print("RoomPayload:", str(room).replace("\n", " "))
        assert (room.topic, list(room.member_ids)) == ("王家村村务群", members)
        req_contact = contact_pb2.ContactPayloadRequest(id=msg.talker_id)
        talker = await stub.ContactPayload(req_contact, metadata=METADATA)
        print("ContactPayload:", str(talker).replace("\n", " "))
        assert talker.name == "张三"

        # 4. Reply in the room, mentioning the talker; it echoes back as our own MESSAGE.
        req_send = message_pb2.MessageSendTextRequest(
            conversation_id=room.id, text="@张三\u2005收到，已登记", mentional_ids=[talker.id]
        )
        sent = await stub.MessageSendText(req_send, metadata=METADATA)
        print("MessageSendText -> id", repr(sent.id))
        own = await message((await next_event(events, EventType.EVENT_TYPE_MESSAGE))["messageId"])
        assert (own.id, own.talker_id) == (sent.id, BOT_ID)
        last = control("GET", "/sent")[-1]
        print("control GET /sent:", last)
        assert (last["roomId"], last["text"], last["mentionIds"]) == (
            ROOM_ID,
            "@张三\u2005收到，已登记",
            ["wxid_zhang"],
        )

        # 5. A small picture in the room (inline base64), a big voice message in private (UUID).
        control("POST", "/messages", {"from": "wxid_li", "roomId": ROOM_ID, "type": "image"})
        img = await message((await next_event(events, EventType.EVENT_TYPE_MESSAGE))["messageId"])
        assert img.type == IMAGE and await file_bytes(img.id) == TINY_PNG
        voice_bytes = os.urandom(30_000)
        voice_b64 = base64.b64encode(voice_bytes).decode()
        control("POST", "/messages", {"from": "wxid_li", "type": "audio", "base64": voice_b64})
        voice = await message((await next_event(events, EventType.EVENT_TYPE_MESSAGE))["messageId"])
        print("voice:", voice.type, voice.filename, repr(voice.room_id), voice.listener_id)
        assert (voice.type, voice.room_id, voice.listener_id) == (AUDIO, "", BOT_ID)
        assert await file_bytes(voice.id) == voice_bytes

        # 6. Send a picture: FileBox JSON with type 1 (Base64).
        png_b64 = base64.b64encode(TINY_PNG).decode()
        box = json.dumps({"type": FILE_BOX_BASE64, "name": "chart.png", "base64": png_b64})
        req_file = message_pb2.MessageSendFileRequest(conversation_id=ROOM_ID, file_box=box)
        sent_file = await stub.MessageSendFile(req_file, metadata=METADATA)
        await next_event(events, EventType.EVENT_TYPE_MESSAGE)
        last = control("GET", "/sent")[-1]
        print("MessageSendFile -> id", repr(sent_file.id), "control GET /sent:", last)
        assert (last["type"], last["fileName"]) == ("file", "chart.png")

        # Only one Event stream at a time.
        try:
            async for _ in stub.Event(event_pb2.EventRequest(), metadata=METADATA):
                break
            raise AssertionError("second Event stream accepted")
        except grpc.aio.AioRpcError as e:
            print("second Event stream:", e.code().name, e.details())
            assert e.code() == grpc.StatusCode.ALREADY_EXISTS
        # A wrong token.
        try:
            bad = (("authorization", "Wechaty wrong"),)
            await stub.Version(base_pb2.VersionRequest(), metadata=bad)
            raise AssertionError("bad token accepted")
        except grpc.aio.AioRpcError as e:
            print("bad token:", e.code().name, e.details())
            assert e.code() == grpc.StatusCode.UNAUTHENTICATED

        # Shut down by cancelling the stream. (Stop would also stop the puppet: log it out.)
        stream.cancel()
        pump_task.cancel()
    print("smoke test OK")


def main() -> None:
    grpc_port, control_port = free_port(), free_port()
    proc = start_gateway(grpc_port, control_port)
    try:
        asyncio.run(run(grpc_port, Control(control_port)))
    finally:
        proc.terminate()
        proc.wait(timeout=10)


if __name__ == "__main__":
    main()
