"""Optional second opinion from an OpenAI-compatible chat endpoint (a DeepSeek or Qwen
deployment …) for the posts the local model is unsure of. Off unless LLM_BASE_URL and LLM_MODEL
are set. Any failure (timeout, HTTP error, an answer that names no label) falls back to the
local answer, so the bot never waits longer than `timeout` nor depends on the endpoint.
"""

from __future__ import annotations

import logging

import httpx

from classifier.base import MATTER_THRESHOLD, UNSURE_THRESHOLD, Classifier, Prediction
from storage.models import KINDS, NOT_MATTER

log = logging.getLogger(__name__)

TIMEOUT = 4.0  # seconds for the whole request
KIND_UNSURE = 0.5  # a matter whose kind is less sure than this is asked about too
LABELS = (*(k.value for k in KINDS), NOT_MATTER)

SYSTEM = (
    "你是村里“说事群”的登记员。把村民发的一条消息归为四类之一，只回答类名：\n"
    "村里事：公共或集体的事，涉及多户或公共设施（路、桥、路灯、饮水、垃圾、集体账目、征地、政策问大家的事、建议）；\n"
    "邻里事：两户或多户之间、两个村民小组之间的纠纷（宅基地、地界、排水、牲畜吃庄稼、噪音、欠钱、堵路）；\n"
    "户里事：一户自己的困难、申请或家庭内部矛盾（赡养、离婚、独居老人、生病、低保、开证明、自家危房）；\n"
    "非事项：问候、感谢、收到、闲聊、转发、广告、干部通知、跟帖没有新内容。\n"
    "谁受影响、谁和谁有矛盾决定类别，而不是话题词。"
)


def parse_label(answer: str) -> str | None:
    """The label the answer names first, or None."""
    found = [(answer.find(lab), lab) for lab in LABELS if lab in answer]
    return min(found)[1] if found else None


class SecondOpinion:
    """A `Classifier` that asks the endpoint only when `local` is unsure."""

    # A call may take seconds: messages are then decided one transaction each
    # (handlers.intake.receive_many), so no write lock is held while the endpoint thinks.
    slow = True

    def __init__(
        self,
        local: Classifier,
        base_url: str,
        api_key: str,
        model: str,
        *,
        timeout: float = TIMEOUT,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.local = local
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.client = httpx.Client(timeout=timeout, transport=transport)
        self.asked = 0
        self.failed = 0

    def unsure(self, p: Prediction) -> bool:
        if p.confidence >= 1.0 and p.matter >= 1.0:  # an explicit tag
            return False
        if UNSURE_THRESHOLD <= p.matter < MATTER_THRESHOLD:
            return True
        return p.matter >= MATTER_THRESHOLD and p.kind_confidence < KIND_UNSURE

    def ask(self, text: str) -> str | None:
        """The endpoint's label for `text`, None on any failure."""
        self.asked += 1
        try:
            r = self.client.post(
                self.url,
                headers=self.headers,
                json={
                    "model": self.model,
                    "temperature": 0,
                    "max_tokens": 10,
                    "messages": [
                        {"role": "system", "content": SYSTEM},
                        {"role": "user", "content": text[:1000]},
                    ],
                },
            )
            r.raise_for_status()
            answer = str(r.json()["choices"][0]["message"]["content"])
        except (httpx.HTTPError, ValueError, KeyError, IndexError, TypeError) as exc:
            self.failed += 1
            log.warning("second opinion unavailable (%s); using the local answer", exc)
            return None
        label = parse_label(answer)
        if label is None:
            self.failed += 1
            log.warning("second opinion named no label: %r", answer[:50])
        return label

    def predict(self, text: str) -> Prediction:
        p = self.local.predict(text)
        if not self.unsure(p):
            return p
        label = self.ask(text)
        if label is None:
            return p
        if label == NOT_MATTER:
            # Not registered; still kept for a cadre's look when the local model half believed it.
            return Prediction(NOT_MATTER, 1.0 - p.matter, p.matter, p.kind, p.kind_confidence)
        return Prediction(label, MATTER_THRESHOLD, max(p.matter, MATTER_THRESHOLD), label, 0.8)

    def close(self) -> None:
        self.client.close()
