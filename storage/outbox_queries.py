"""Moved to storage/outbox.py (one module for the outbox). Kept only so that importers not yet
updated (scheduler/sender.py, bot/cli.py, tests/scheduler/test_sender.py) still work: delete
once they import storage.outbox."""

from storage.outbox import (  # noqa: F401
    ERROR_LENGTH,
    FAILED,
    PENDING,
    SENDING,
    SENT,
    STATUSES,
    Db,
    claim_due,
    claims_by_host,
    count_by_status,
    list_failed,
    list_outbox,
    mark_failed,
    mark_retry,
    mark_sent,
    mark_sent_together,
    mark_wait,
    oldest_pending,
    release,
    retry_failed,
    unsent_for_issue,
)
