"""How figures read: cost with its unpriced calls, durations, token counts, rates.

Shared by the CLI and the TUI so that a number looks the same everywhere.
"""

from __future__ import annotations

from datetime import datetime

from agenttrace_tui.textsafe import sanitize


def cost(value: float | None, unpriced: int = 0) -> str:
    """`$0.4213`, or `$0.42 + 3 unpriced` when some calls have no price: never a silent $0."""
    if value is None:
        text = "—"
    elif value == 0:
        text = "$0"
    elif value < 0.0001:
        text = "<$0.0001"
    elif value < 0.01:
        text = f"${value:.4f}"
    elif value < 100:
        text = f"${value:.2f}"
    else:
        text = f"${value:,.0f}"
    if unpriced:
        return f"{text} + {unpriced:,} unpriced"
    return text


def cost_or_unpriced(value: float, unpriced: int) -> str:
    """`cost` for a group of calls, except when none has a price: then only `3 unpriced`, never `$0 + ...`."""
    if unpriced and value == 0:
        return f"{unpriced} unpriced"
    return cost(value, unpriced)


def cost_with_source(value: float | None, source: str | None, reported_usage: bool = True) -> str:
    """One span's cost and where it came from: `$0.0045 computed`, `unpriced` (never $0), `—` when none.
    `reported_usage`: False for a call with no token counts, whose cost is unknown for that reason."""
    if source == "unpriced":
        return "unpriced" if reported_usage else "unpriced: no usage reported"
    if value is None:
        return "—"
    return cost(value) + (f" {sanitize(source)}" if source else "")


def duration(ms: float | None) -> str:
    """Human durations: 850ms, 12.3s, 4m05s, 2h10m."""
    if ms is None:
        return "—"
    if ms < 1000:
        return f"{ms:.0f}ms"
    seconds = ms / 1000
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, seconds = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def count(value: int | float | None) -> str:
    """Thousands separators; 1.2M and 3.4k above a million and ten thousand."""
    if value is None:
        return "—"
    if value >= 1_000_000:
        return f"{value / 1_000_000:.1f}M"
    if value >= 10_000:
        return f"{value / 1000:.1f}k"
    return f"{int(value):,}"


def rate(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value * 100:.0f}%" if value >= 0.01 or value == 0 else f"{value * 100:.1f}%"


def timestamp(value: datetime | None) -> str:
    return "—" if value is None else value.strftime("%Y-%m-%d %H:%M")
