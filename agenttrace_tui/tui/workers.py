"""Store work in the explorer's workers: a StoreError ends the job and is reported, it never reaches Textual.

    @work(thread=True, exclusive=True, group="detail")
    def _load_detail(self, span_id: str) -> None:
        with failures_posted(self):
            detail, tool_links = self.loader.read_detail(span_id)
            self.post_message(DetailLoaded(span_id, detail, tool_links))
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

from textual.message_pump import MessagePump
from textual.worker import NoActiveWorker, get_current_worker

from agenttrace_tui.store import FilterError, StoreError
from agenttrace_tui.tui.messages import LoadFailed


@contextmanager
def store_errors(report: Callable[[StoreError], object]) -> Iterator[None]:
    """The block is a worker's store work: a StoreError ends it and is handed to `report` (called on the
    worker's thread: post a message, or go through `call_from_thread`)."""
    try:
        yield
    except StoreError as exc:
        report(exc)


def failures_posted(target: MessagePump, generation: int = 0) -> AbstractContextManager[None]:
    """A StoreError in the block is posted to `target` as LoadFailed, unless the worker was cancelled meanwhile
    (a newer job of its group took its place)."""

    def post(exc: StoreError) -> None:
        if not _cancelled():
            target.post_message(LoadFailed(str(exc), generation, isinstance(exc, FilterError)))

    return store_errors(post)


def _cancelled() -> bool:
    try:
        return get_current_worker().is_cancelled
    except NoActiveWorker:
        return False
