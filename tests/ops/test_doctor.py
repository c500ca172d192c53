"""`shuoshi doctor`: says what is wrong and how to fix it, exits 1 on a problem."""

from __future__ import annotations

import io
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.cli import main
from ops.doctor import Doctor, report
from ports.settings import DEMO_GRID, Settings
from tests.ops.util import ThreadedBotApi

TOKEN = "123456:" + "A" * 35


def fonts(monkeypatch: pytest.MonkeyPatch, *names: str) -> None:
    """The fonts matplotlib knows, as if these were all the machine had."""
    from matplotlib import font_manager

    entries = [font_manager.FontEntry(fname=f"/fonts/{n}.otf", name=n) for n in names]
    monkeypatch.setattr(font_manager.fontManager, "ttflist", entries)
    monkeypatch.setattr(font_manager, "findSystemFonts", lambda *a, **k: [])


@pytest.fixture(autouse=True)
def cjk_font(monkeypatch: pytest.MonkeyPatch) -> None:
    """A CJK font as the container image has it, whatever this machine has: the other checks
    are the subject of the other tests."""
    fonts(monkeypatch, "DejaVu Sans", "Noto Sans CJK SC")


@pytest.fixture
def bot_api() -> Iterator[ThreadedBotApi]:
    fake = ThreadedBotApi()
    yield fake
    fake.close()


def check(settings: Settings, **kw: object) -> tuple[int, str]:
    out = io.StringIO()
    code = report(Doctor(settings, timeout=3, **kw).run(), out)  # type: ignore[arg-type]
    return code, out.getvalue()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_all_good(database_url: str, tmp_path: Path, bot_api: ThreadedBotApi) -> None:
    settings = Settings(
        database_url=database_url,
        grid_file=DEMO_GRID,
        data_dir=tmp_path,
        telegram_bot_token=TOKEN,
        telegram_base_url=bot_api.api.base_url,
    )
    code, out = check(settings)
    assert code == 0, out
    assert "✔ 数据库" in out and "结构是最新的" in out
    assert "token 有效：@shuoshi_test_bot" in out
    assert "隐私模式开着" in out  # the fake answers can_read_all_group_messages=false
    assert "正在使用演示网格" in out
    assert "✔ 中文字体" in out and "Noto Sans CJK SC" in out
    assert "一切正常" not in out and "没有问题" in out


def test_missing_cjk_font_is_a_problem_with_its_fix(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a CJK font the digest's chart shows boxes for every character."""
    fonts(monkeypatch, "DejaVu Sans")
    settings = Settings(database_url=database_url, grid_file=DEMO_GRID, data_dir=tmp_path)
    code, out = check(settings)
    assert code == 1
    line = next(x for x in out.splitlines() if "中文字体" in x)
    assert line.strip().startswith("✘") and "方框" in line
    assert "apt-get install fonts-noto-cjk" in out
    # Before each start (--quick) it is a reminder: the bot still runs, its charts show boxes.
    code, out = check(settings, quick=True)
    assert code == 0 and "! 中文字体" in out


def test_problems_and_what_to_do(tmp_path: Path, bot_api: ThreadedBotApi) -> None:
    blocked = tmp_path / "not-a-dir"
    blocked.write_text("")
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'new.db'}",  # never migrated
        grid_file=tmp_path / "grid.toml",
        data_dir=blocked,
        telegram_bot_token=TOKEN,
        telegram_base_url=bot_api.api.base_url,
        telegram_webhook_url="http://example.org/telegram/webhook",
        wechaty_puppet_service_endpoint=f"127.0.0.1:{free_port()}",
    )
    bot_api.run(bot_api.api.fail_next, "getMe", 401)
    code, out = check(settings)
    assert code == 1
    for words in (
        "网格文件  " + str(tmp_path / "grid.toml") + " 不存在",
        "不能写入",
        "运行 shuoshi db upgrade",
        "不是 https 地址",
        "Telegram 不认这个 token",
        "没有设 WECHATY_PUPPET_SERVICE_TOKEN",
        "连不上网关",
    ):
        assert words in out, words
    assert out.count("→ 怎么办：") >= 6
    assert TOKEN not in out


def test_quick_makes_no_platform_calls(database_url: str, tmp_path: Path) -> None:
    settings = Settings(
        database_url=database_url,
        grid_file=DEMO_GRID,
        data_dir=tmp_path,
        telegram_bot_token=TOKEN,
        telegram_base_url=f"http://127.0.0.1:{free_port()}/bot",  # nothing listens
    )
    code, out = check(settings, quick=True)
    assert code == 0, out
    bad = settings.model_copy(update={"telegram_bot_token": "not a token"})
    code, out = check(bad, quick=True)
    assert code == 1 and "格式不对" in out


def test_unreachable_database(tmp_path: Path) -> None:
    url = f"postgresql+psycopg://shuoshi:secret@127.0.0.1:{free_port()}/shuoshi"
    code, out = check(Settings(database_url=url, grid_file=DEMO_GRID, data_dir=tmp_path))
    assert code == 1 and "连不上" in out and "secret" not in out


def test_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'x.db'}")
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    assert main(["db", "upgrade"]) == 0
    assert main(["doctor", "--quick"]) == 0
    assert "说事自检" in capsys.readouterr().out


def _line(out: str, what: str) -> list[str]:
    return [x for x in out.splitlines() if what in x]


def test_speech_to_text_half_configured_is_named(database_url: str, tmp_path: Path) -> None:
    """ASR_BASE_URL without ASR_MODEL (or the other way round) leaves 语音转写 off without a
    word at start-up: the operator thinks voices are being transcribed."""
    base = Settings(database_url=database_url, grid_file=DEMO_GRID, data_dir=tmp_path)
    code, out = check(base, quick=True)
    assert code == 0 and "ASR" not in out  # off on purpose: nothing to say
    half = base.model_copy(update={"asr_base_url": "http://127.0.0.1:9000/v1"})
    code, out = check(half, quick=True)
    assert code == 0, out
    lines = _line(out, "语音转写")
    assert lines and lines[0].strip().startswith("!") and "ASR_MODEL" in out, out
    other = base.model_copy(update={"asr_model": "sensevoice"})
    assert "ASR_BASE_URL" in check(other, quick=True)[1]
    bad = base.model_copy(update={"asr_base_url": "127.0.0.1:9000", "asr_model": "whisper"})
    code, out = check(bad)
    assert code == 1 and "http://" in out, out
    assert check(bad, quick=True)[0] == 0  # before each start: a reminder, the bot still runs
    good = base.model_copy(update={"asr_base_url": "http://127.0.0.1:9000/v1", "asr_model": "w"})
    code, out = check(good, quick=True)
    assert any(x.strip().startswith("✔") for x in _line(out, "语音转写")), out


def test_qrcode_without_a_public_address_is_named(database_url: str, tmp_path: Path) -> None:
    """The 说事码 poster holds ADMIN_PUBLIC_URL; unset, its code points at this machine and the
    villagers' phones cannot open it."""
    base = Settings(database_url=database_url, grid_file=DEMO_GRID, data_dir=tmp_path)
    code, out = check(base, quick=True)
    lines = _line(out, "说事码")
    assert lines and lines[0].strip().startswith("!") and "ADMIN_PUBLIC_URL" in out, out
    ok = base.model_copy(update={"admin_public_url": "https://shuoshi.example.org"})
    code, out = check(ok, quick=True)
    assert code == 0 and not any(x.strip().startswith("!") for x in _line(out, "说事码")), out
    bad = base.model_copy(update={"admin_public_url": "shuoshi.example.org"})
    code, out = check(bad)
    assert code == 1 and "https://" in out, out
    assert check(bad, quick=True)[0] == 0


def test_web_chat_open_on_a_public_address_is_named(database_url: str, tmp_path: Path) -> None:
    """ADMIN_CHAT=true on an admin others can reach lets a logged-in account speak in the
    groups as anyone: worth a warning (a deliberate choice, so not a failure)."""
    base = Settings(database_url=database_url, grid_file=DEMO_GRID, data_dir=tmp_path)
    assert "ADMIN_CHAT" not in check(base, quick=True)[1]
    public = base.model_copy(update={"admin_host": "0.0.0.0", "admin_chat": True})
    code, out = check(public, quick=True)
    lines = _line(out, "模拟群聊")
    assert code == 0 and lines and lines[0].strip().startswith("!"), out
    assert "ADMIN_CHAT" in out
    local = base.model_copy(update={"admin_chat": True})
    assert not any(
        x.strip().startswith("!") for x in _line(check(local, quick=True)[1], "模拟群聊")
    )


def test_qrcode_switched_off_everywhere_needs_no_public_address(
    database_url: str, tmp_path: Path
) -> None:
    from datetime import UTC, datetime

    from storage.db import make_engine, session_scope
    from storage.people import active_villages
    from storage.reports import set_village_enabled
    from tests.ops.util import make

    make(database_url, migrate=False).engine.dispose()  # the demo grid's villages
    engine = make_engine(database_url)
    with session_scope(engine) as session:
        for village in active_villages(session=session):
            assert village.id is not None
            at = datetime.now(UTC)
            set_village_enabled(
                session=session, village_id=village.id, enabled=False, at=at, by="x"
            )
    engine.dispose()
    settings = Settings(database_url=database_url, grid_file=DEMO_GRID, data_dir=tmp_path)
    assert "ADMIN_PUBLIC_URL" not in check(settings, quick=True)[1]
