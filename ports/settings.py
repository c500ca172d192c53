"""All settings, read once from the environment and .env (pydantic-settings)."""

from __future__ import annotations

import ipaddress
from pathlib import Path

from pydantic import model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent
DEMO_GRID = REPO_ROOT / "deploy" / "grid.demo.toml"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    database_url: str = "sqlite:///./data/shuoshi.db"
    grid_file: Path = DEMO_GRID
    data_dir: Path = Path("./data")
    log_level: str = "INFO"
    log_json: bool = False

    admin_host: str = "127.0.0.1"
    admin_port: int = 8000
    admin_secret: str = ""  # signs admin session cookies; generated into data_dir when empty
    admin_session_hours: int = 12  # a log-in lasts this long
    # The admin's address as people open it (https://… makes cookies Secure; its Origin is ours).
    admin_public_url: str = ""
    # Secure cookies; None: when ADMIN_PUBLIC_URL is https or the request came over HTTPS via a
    # trusted proxy.
    admin_secure_cookie: bool | None = None
    # Proxies whose X-Forwarded-For / -Proto are believed (addresses or networks); empty: nobody's.
    admin_trusted_proxies: str = ""
    # 模拟群聊 page. Unset: on when no platform is configured and the admin listens on a
    # loopback address only (see `_chat_off_when_reachable`); true/false forces it.
    admin_chat: bool | None = None

    telegram_bot_token: str = ""
    telegram_base_url: str = ""
    telegram_webhook_url: str = ""
    telegram_webhook_secret: str = ""

    wechaty_puppet_service_endpoint: str = ""
    wechaty_puppet_service_token: str = ""
    wechaty_puppet_service_no_tls_insecure_client: bool = False
    # With several instances one reads the gateway at a time (a lease in the database, renewed
    # every third of this); another takes over within 4/3 of it when the reader dies.
    wechat_lease_seconds: float = 30.0

    llm_base_url: str = ""
    llm_api_key: str = ""
    llm_model: str = ""

    # Speech to text for voice messages (语音转写), off unless ASR_BASE_URL and ASR_MODEL are set:
    # an OpenAI-compatible server (`POST {ASR_BASE_URL}/audio/transcriptions`, e.g. a local
    # whisper or SenseVoice at http://127.0.0.1:9000/v1). A voice message's words are then
    # classified like a typed post; without them (off, a failure, slower than the timeout) the
    # message is registered 待分类 for its owner to hear.
    asr_base_url: str = ""
    asr_api_key: str = ""
    asr_model: str = ""
    asr_language: str = "zh"  # a hint for the endpoint; empty: let it guess
    asr_timeout_seconds: float = 15.0  # the door waits at most this long for the words

    # Outbox sender (scheduler/sender.py). Tries before a message is left "failed" for
    # `shuoshi outbox --retry ID`; 429s, 5xx and timeouts each count one.
    outbox_max_tries: int = 8
    outbox_batch_size: int = 100  # rows claimed at a time; a second instance takes the next ones
    outbox_concurrency: int = 8  # sends on the wire at once (each chat still strictly in order)
    # A claimed row not marked sent by then is taken again (its sender died mid-send). Must be
    # well above the send timeout: rows the rate limits hold back longer are given back.
    outbox_lease_seconds: float = 120.0
    outbox_send_timeout_seconds: float = 30.0  # a send taking longer counts as a failed try
    outbox_poll_seconds: float = 1.0  # look for due rows this often when nobody calls wake()
    # Retries after a 5xx or timeout wait this long, doubling each try up to the maximum, with
    # jitter; a 429's retry_after is waited exactly instead.
    outbox_backoff_seconds: float = 2.0
    outbox_backoff_max_seconds: float = 600.0
    # Platform rate limits, counted per running process: with two `shuoshi run` on one
    # database, halve them. 0 switches a limit off.
    telegram_max_per_second: int = 30  # the whole bot (Telegram: about 30 messages/s)
    telegram_chat_max_per_second: int = 1  # any one chat, private or group
    telegram_group_max_per_minute: int = 20  # any one group chat
    wechat_max_per_second: int = 0  # the whole account; the puppet service may need one
    wechat_chat_max_per_second: int = 1  # any one chat; faster looks like a bot to WeChat
    wechat_room_max_per_minute: int = 20  # any one room (group chat)
    # Messages already waiting for one WeChat chat when its turn comes go out as one message
    # (each part keeps its @-mention), at most this many: a busy room's answers then arrive
    # together instead of one every 3 s under the room limit. 1 = never merged.
    wechat_merge_max: int = 10
    # Added to every window above: network jitter can bring two messages closer together at
    # the platform than they left here, and a limit kept to the millisecond then earns a 429.
    outbox_rate_margin_seconds: float = 0.05
    # PostgreSQL only. False lets the sender's claims and marks skip waiting for the disk
    # (synchronous_commit off, on its own connection only): about twice the rows/s when the
    # disk is slow, but if the database server itself crashes, what was sent in its last
    # fraction of a second may be sent once more after it restarts.
    outbox_synchronous_commit: bool = True
    daily_todo: bool = True

    @model_validator(mode="after")
    def _chat_off_when_reachable(self) -> Settings:
        """The web chat speaks as cadres and villagers: an admin others can reach (any address
        but loopback, as the container's 0.0.0.0) keeps it off unless ADMIN_CHAT=true says so,
        so a fresh deployment is not open before a platform is configured."""
        if self.admin_chat is None and not is_loopback(self.admin_host):
            self.admin_chat = False
        return self


def is_loopback(host: str) -> bool:
    """Whether an address to listen on is reachable from this machine only."""
    host = host.strip().strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name other than localhost: may resolve to anything
        return False
