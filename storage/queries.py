"""Split into one module per concern: storage/issues.py (the list, counts, one issue),
storage/search.py (text search, who may read what), storage/figures.py (statistics),
storage/posts.py (kept posts, reports), storage/people.py (filter choices), storage/outbox.py
(outbox health) and storage/schedule.py (job runs).

Kept only so that importers not yet updated still work — admin/simchat.py, admin/readiness.py,
storage/copy.py, storage/migrations/env.py, bench/admin.py, tests/admin/test_privacy.py: delete
once they import the modules above."""

from datetime import datetime
from functools import partial

from sqlmodel import Session

from handlers.privacy import sees_text
from storage import search
from storage.inbox import local_conversation  # noqa: F401
from storage.outbox import buttons_of  # noqa: F401
from storage.outbox import oldest_pending as _oldest_pending
from storage.search import (  # noqa: F401
    SEARCH_OBJECTS,
    is_derived_table,
    not_search_object,
    readable,
    refresh_search_index,
)

# A reader with the privacy rule (storage.search.Reader takes it from its caller).
Reader = partial(search.Reader, sees_text=sees_text)


def oldest_pending(session: Session) -> datetime | None:
    """storage.outbox.oldest_pending(session=…) of every platform."""
    return _oldest_pending(session=session)
