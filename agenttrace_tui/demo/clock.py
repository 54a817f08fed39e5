"""A simulated wall clock: the demo's only source of time, so a seed always gives the same trace."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

DEMO_EPOCH: datetime = datetime(2025, 3, 3, 9, 0, 0, tzinfo=timezone.utc)
"""Where every demo file's clock starts (a Monday morning, UTC); fixed so samples never change by date."""


class FakeClock:
    """Wall-clock time that moves only when the demo says so (simulated latencies, think time).

    Time is kept in whole microseconds, the precision the SDK writes, so float rounding can never make
    two runs differ.
    """

    def __init__(self, start: datetime = DEMO_EPOCH) -> None:
        self._start = start
        self._elapsed_us = 0

    def now(self) -> datetime:
        """The current simulated time, timezone-aware UTC."""
        return self._start + timedelta(microseconds=self._elapsed_us)

    def timestamp(self) -> float:
        """The current simulated time as epoch seconds."""
        return self.now().timestamp()

    def __call__(self) -> datetime:
        return self.now()

    def advance(self, seconds: float) -> None:
        """Move time forward (a simulated latency); negative amounts are refused."""
        if seconds < 0:
            raise ValueError(f"a clock cannot go back: advance({seconds})")
        self._elapsed_us += round(seconds * 1_000_000)
