"""A message whose handling fails every time is set aside, and the operator sees it: `shuoshi
inbox` (and `--retry`), `shuoshi doctor --quick` and /metrics. Issue 14, item 1."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import Session, select

from bot.app import App
from bot.cli import main
from handlers import intake
from handlers.clock import FakeClock
from ops import metrics
from ops.doctor import Doctor, report
from ports.messages import Incoming
from ports.settings import DEMO_GRID, Settings
from storage import inbox
from storage.models import Inbound as InboxRow
from tests.ops.test_metrics import get


class Broken:
    def predict(self, text: str) -> object:
        raise OverflowError("date value out of range")


def failing_post(app: App, message_id: str = "always-bad") -> int:
    """A post whose handling fails (the classifier raises until `app.deps.classifier` is put
    back): recorded with its first failure. Its inbox id."""
    app.deps.classifier = Broken()  # type: ignore[assignment]
    msg = Incoming(
        platform="local",
        chat="新联村说事群",
        sender="张大爷",
        sender_name="张大爷",
        text="后山的水塘堤坝裂了",
        message_id=message_id,
        at=app.clock.now(),
    )
    handled = intake.receive(app.engine, app.deps, msg)
    assert handled.inbound_id is not None
    return handled.inbound_id


def retry_until_set_aside(app: App) -> None:
    assert isinstance(app.clock, FakeClock)
    for _ in range(inbox.MAX_TRIES):
        app.clock.advance(timedelta(hours=1))
        intake.retry_due(app.engine, app.deps)


def _set_aside(app: App) -> int:
    good = app.deps.classifier
    row_id = failing_post(app)
    retry_until_set_aside(app)
    app.deps.classifier = good
    return row_id


def test_set_aside_message_is_listed_flagged_and_can_be_retried(
    app: App, database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    row_id = _set_aside(app)
    metrics.install()
    body = metrics.exposition(app.engine, app.clock)
    assert get(body, "shuoshi_inbox_failed") == 1 and get(body, "shuoshi_inbox_unhandled") == 0

    settings = Settings(database_url=database_url, grid_file=DEMO_GRID, data_dir=tmp_path)
    out = io.StringIO()
    code = report(Doctor(settings, quick=True).run(), out)
    assert code == 1 and "已搁置" in out.getvalue() and "shuoshi inbox" in out.getvalue()

    env = {"DATABASE_URL": database_url, "GRID_FILE": str(DEMO_GRID), "DATA_DIR": str(tmp_path)}
    with pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            mp.setenv(key, value)
        assert main(["inbox"]) == 0
        listing = capsys.readouterr().out
        assert f"#{row_id} 已搁置" in listing and "OverflowError" in listing
        assert "水塘" not in listing  # who and when, never what was written
        assert main(["inbox", "--retry", str(row_id)]) == 0
    assert intake.retry_due(app.engine, app.deps) == 1  # the running bot picks it up
    with Session(app.engine) as session:
        assert session.exec(select(InboxRow).where(InboxRow.id == row_id)).one().status not in (
            "new",
            "failed",
        )
