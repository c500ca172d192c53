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
