"""The optional second opinion, against a fake OpenAI-compatible endpoint on loopback."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from classifier.base import MATTER_THRESHOLD, Prediction
from classifier.llm import SecondOpinion, parse_label


class FakeEndpoint:
    def __init__(self) -> None:
        self.answer = "邻里事"
        self.delay = 0.0
        self.status = 200
        self.requests: list[dict[str, object]] = []
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                endpoint.requests.append(
                    {"path": self.path, "body": body, "auth": self.headers.get("Authorization")}
                )
                time.sleep(endpoint.delay)
                payload = json.dumps(
                    {"choices": [{"message": {"role": "assistant", "content": endpoint.answer}}]}
                ).encode()
                try:
                    self.send_response(endpoint.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:  # the client gave up (timeout test)
                    pass

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def endpoint() -> Iterator[FakeEndpoint]:
    e = FakeEndpoint()
    yield e
    e.stop()


class Fixed:
    def __init__(self, p: Prediction) -> None:
        self.p = p

    def predict(self, text: str) -> Prediction:
        return self.p


UNSURE = Prediction("非事项", 0.55, 0.45, "村里事", 0.7)
SURE = Prediction("村里事", 0.95, 0.97, "村里事", 0.98)


def opinion(endpoint: FakeEndpoint, local: Prediction, timeout: float = 2.0) -> SecondOpinion:
    return SecondOpinion(Fixed(local), endpoint.url, "sk-test", "qwen-test", timeout=timeout)


def test_unsure_post_takes_the_endpoint_answer(endpoint: FakeEndpoint) -> None:
    clf = opinion(endpoint, UNSURE)
    p = clf.predict("老周家的牛又吃我麦子")
    assert p.label == "邻里事" and p.matter >= MATTER_THRESHOLD and p.kind == "邻里事"
    req = endpoint.requests[0]
    assert req["path"] == "/v1/chat/completions" and req["auth"] == "Bearer sk-test"
    body = req["body"]
    assert isinstance(body, dict) and body["model"] == "qwen-test"
    assert body["messages"][-1]["content"] == "老周家的牛又吃我麦子"
    clf.close()


def test_sure_posts_are_not_sent(endpoint: FakeEndpoint) -> None:
    clf = opinion(endpoint, SURE)
    assert clf.predict("村口路灯坏了") == SURE
    assert endpoint.requests == [] and clf.asked == 0
    clf.close()


def test_not_a_matter_answer_keeps_it_unregistered(endpoint: FakeEndpoint) -> None:
    endpoint.answer = "非事项"
    p = opinion(endpoint, UNSURE).predict("嗯嗯")
    assert p.label == "非事项" and p.matter == UNSURE.matter


def test_timeout_falls_back_to_the_local_answer(endpoint: FakeEndpoint) -> None:
    endpoint.delay = 1.5
    clf = opinion(endpoint, UNSURE, timeout=0.2)
    assert clf.predict("老周家的牛又吃我麦子") == UNSURE
    assert clf.failed == 1
    clf.close()


def test_errors_and_nonsense_fall_back(endpoint: FakeEndpoint) -> None:
    clf = opinion(endpoint, UNSURE)
    endpoint.status = 500
    assert clf.predict("x") == UNSURE
    endpoint.status, endpoint.answer = 200, "我不知道"
    assert clf.predict("x") == UNSURE
    assert clf.failed == 2
    clf.close()


def test_unreachable_endpoint_falls_back() -> None:
    clf = SecondOpinion(Fixed(UNSURE), "http://127.0.0.1:9/v1", "", "m", timeout=0.5)
    assert clf.predict("x") == UNSURE
    clf.close()


def test_parse_label() -> None:
    assert parse_label("类别：户里事。") == "户里事"
    assert parse_label("邻里事（也像村里事）") == "邻里事"
    assert parse_label("不好说") is None


def test_off_by_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.app import load_classifier
    from ports.settings import Settings

    monkeypatch.delenv("LLM_BASE_URL", raising=False)
    assert not isinstance(load_classifier(Settings(data_dir=tmp_path)), SecondOpinion)
    on = load_classifier(
        Settings(data_dir=tmp_path, llm_base_url="http://127.0.0.1:9", llm_model="m")
    )
    assert isinstance(on, SecondOpinion)
    on.close()
