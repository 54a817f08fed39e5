"""How `agenttrace stats` reads: rich tables, bars and a histogram, built once for the CLI and the TUI.

Only Rich here (no Textual), so the CLI can print the same renderables the explorer's dashboard shows.
Every untrusted string passes through `sanitize` and is wrapped in `Text`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

from agenttrace_tui import display
from agenttrace_tui.format import UNNAMED_SESSION
from agenttrace_tui.textsafe import sanitize

BAR_WIDTH: Final = 20
"""Cells of a full bar: long enough to compare rows by eye, short enough to leave room for the figures."""

_EIGHTHS: Final = " ▏▎▍▌▋▊▉"


def _bar(fraction: float | None, width: int = BAR_WIDTH) -> str:
    """A horizontal bar of block glyphs, in eighths of a cell: `█████▍`."""
    if fraction is None or fraction <= 0:
        return ""
    eighths = round(min(fraction, 1.0) * width * 8)
    full, part = divmod(eighths, 8)
    return "█" * full + (_EIGHTHS[part] if part else "") or "▏"


def _table(title: str, columns: Sequence[tuple[str, str]]) -> Table:
    table = Table(title=title, title_justify="left", title_style="bold", box=None, header_style="dim",
                  pad_edge=False)
    for column, justify in columns:
        table.add_column(column, justify=justify, no_wrap=True,  # type: ignore[arg-type]
                         overflow="ellipsis", max_width=48 if justify == "left" and column != "message" else None)
    return table


def _signed(delta: float | None, pct: float | None, render: Any, lower_is_better: bool = True) -> Text:
    """The difference from the first value: `+$0.0012 (+35%)`, green when better, red when worse."""
    if delta is None or delta == 0:
        return Text("")
    text = ("+" if delta > 0 else "−") + render(abs(delta))
    if pct is not None:
        text += f" ({'+' if pct > 0 else '−'}{abs(pct) * 100:.0f}%)"
    better = delta < 0 if lower_is_better else delta > 0
    return Text(text, style="green" if better else "red")


def stats_renderables(result: Any) -> list[RenderableType]:
    """The stats as rich renderables, top to bottom: printed by the CLI, shown by the TUI dashboard."""
    items: list[RenderableType] = []
    header = Text()
    header.append(f"{result.sessions:,} sessions", style="bold")
    header.append(
        f" · {result.spans:,} spans · {display.cost(result.cost_usd, result.unpriced)} · "
        f"{result.errors:,} errors ({display.rate(result.errors / result.spans if result.spans else 0)}) · "
        f"wall {display.duration(result.wall_ms)} summed"
    )
    items.append(header)
    if result.sessions == 0:
        return items

    per = result.cost_per_session
    items.append(Text(""))
    items.append(Text(
        f"Cost per session: p50 {display.cost(per['p50_usd'])} · p95 {display.cost(per['p95_usd'])} · "
        f"mean {display.cost(per['mean_usd'])} · max {display.cost(per['max_usd'])}"
        + (f" · {result.sessions_with_unpriced} sessions with unpriced calls" if result.sessions_with_unpriced else ""),
        style="bold",
    ))
    most = max((b.sessions for b in result.histogram), default=0)
    # Bin edges need the same precision throughout, else neighbouring bins read alike ($0.01 – $0.01).
    top_cost = max((b.high_usd for b in result.histogram), default=0.0)
    digits = 2 if top_cost >= 10 else 4 if top_cost >= 0.01 else 6
    for histogram_bin in result.histogram:
        line = Text(f"  ${histogram_bin.low_usd:.{digits}f} – ${histogram_bin.high_usd:.{digits}f} ")
        line.append(_bar(histogram_bin.sessions / most if most else 0), style="cyan")
        line.append(f" {histogram_bin.sessions}")
        items.append(line)

    titles = {"model": "model", "provider": "provider", "tool": "tool", "path_prefix": "path prefix",
              "session_name": "session name"}
    for dim, rows in result.cost_by.items():
        if not rows:
            continue
        items.append(Text(""))
        table = _table(f"Cost by {titles[dim]}", [(titles[dim], "left"), ("sessions", "right"), ("spans", "right"),
                                                   ("cost", "right"), ("share", "left")])
        for cost_row in rows:
            table.add_row(Text(sanitize(cost_row.key)), display.count(cost_row.sessions),
                          display.count(cost_row.spans),
                          display.cost(cost_row.cost_usd, cost_row.unpriced),
                          Text(_bar(cost_row.share), style="cyan"))
        items.append(table)

    for label, latency_rows in (("tool", result.latency_by_tool), ("path", result.latency_by_path)):
        if not latency_rows:
            continue
        items.append(Text(""))
        table = _table(f"Latency by {label} (share: busy time / sessions' wall time)",
                       [(label, "left"), ("count", "right"), ("p50", "right"), ("p95", "right"), ("p99", "right"),
                        ("max", "right"), ("busy", "right"), ("share", "right"), ("", "left")])
        for row in latency_rows:
            table.add_row(Text(sanitize(row.key)), display.count(row.count), display.duration(row.p50_ms),
                          display.duration(row.p95_ms), display.duration(row.p99_ms), display.duration(row.max_ms),
                          display.duration(row.busy_ms), display.rate(row.share_of_wall),
                          Text(_bar(row.share_of_wall), style="cyan"))
        items.append(table)

    items.append(Text(""))
    items.append(Text(f"Errors: {result.errors:,} of {result.spans:,} spans; "
                   f"{result.sessions_with_errors:,} of {result.sessions:,} sessions had errors", style="bold"))
    for label, error_rows in (("tool", result.errors_by_tool), ("path", result.errors_by_path)):
        if not error_rows:
            continue
        table = _table(f"Error rate by {label}", [(label, "left"), ("spans", "right"), ("errors", "right"),
                                                  ("rate", "right"), ("", "left")])
        for row in error_rows:
            table.add_row(Text(sanitize(row.key)), display.count(row.count), display.count(row.errors),
                          display.rate(row.error_rate), Text(_bar(row.error_rate), style="red"))
        items.append(table)
    if result.top_errors:
        table = _table("Top error messages (numbers, ids and quoted values masked)",
                       [("errors", "right"), ("sessions", "right"), ("message", "left")])
        for group in result.top_errors:
            table.add_row(display.count(group.errors), display.count(group.sessions),
                          Text(sanitize(group.fingerprint), style="red"))
        items.append(table)
    if result.recovery and result.recovery.errors:
        table = _table("Recovery (an error followed by a success on the same path or tool)",
                       [("Recovery-Strategy", "left"), ("sessions", "right"), ("errors", "right"),
                        ("recovered", "right"), ("rate", "right"), ("", "left")])
        for row in [*result.recovery_by_strategy, result.recovery]:
            table.add_row(Text(sanitize("all" if row.strategy == "*" else row.strategy),
                               style="bold" if row.strategy == "*" else ""),
                          display.count(row.sessions), display.count(row.errors), display.count(row.recovered),
                          display.rate(row.recovery_rate), Text(_bar(row.recovery_rate), style="green"))
        items.append(table)

    items.append(Text(""))
    items.append(Text("Bottlenecks", style="bold"))
    if result.slowest_tools:
        table = _table("Slowest tools (by p95)", [("tool", "left"), ("count", "right"), ("p95", "right"),
                                                  ("max", "right")])
        for row in result.slowest_tools:
            table.add_row(Text(sanitize(row.key)), display.count(row.count), display.duration(row.p95_ms),
                          display.duration(row.max_ms))
        items.append(table)
    items.append(Text(
        f"Repeated inputs (same path, same input, same session): {result.repeats:,} repeats, wasted "
        f"{display.cost(result.repeats_wasted_cost_usd, result.repeats_wasted_unpriced)}"
    ))
    if result.repeats_by_path:
        table = _table("", [("path", "left"), ("repeats", "right"), ("sessions", "right"), ("wasted", "right")])
        for repeat in result.repeats_by_path:
            table.add_row(Text(sanitize(repeat.path)), display.count(repeat.repeats),
                          display.count(repeat.sessions),
                          display.cost(repeat.wasted_cost_usd, repeat.wasted_unpriced))
        items.append(table)
    if result.expensive_paths:
        table = _table("Most expensive paths", [("path", "left"), ("spans", "right"), ("cost", "right"),
                                                ("per span", "right"), ("share", "left")])
        for cost_row in result.expensive_paths:
            table.add_row(Text(sanitize(cost_row.key)), display.count(cost_row.spans),
                          display.cost(cost_row.cost_usd, cost_row.unpriced),
                          display.cost((cost_row.cost_usd or 0) / cost_row.spans if cost_row.cost_usd else None),
                          Text(_bar(cost_row.share), style="cyan"))
        items.append(table)
    for title, total, flagged in (
        ("Hit the iteration limit", result.iteration_limit_sessions, result.iteration_limit),
        ("Needed a human", result.human_sessions, result.human),
    ):
        items.append(Text(f"{title}: {total:,} session{'s' if total != 1 else ''}"
                       + (f" ({display.rate(total / result.sessions)})" if total else "")))
        for session in flagged:
            items.append(Text(f"  {sanitize(session.session_id)}  {sanitize(session.name or UNNAMED_SESSION)}  "
                           f"{sanitize(session.reason)}", style="dim"))
        if total > len(flagged):
            items.append(Text(f"  … {total - len(flagged):,} more (--top N lists more)", style="dim"))

    if result.compare_by:
        items.append(Text(""))
        table = _table(f"Compare by {sanitize(result.compare_by)} (difference vs the first value)",
                       [("value", "left"), ("sessions", "right"), ("cost/session", "right"), ("", "left"),
                        ("p50 duration", "right"), ("", "left"), ("p95 duration", "right"), ("", "left"),
                        ("error rate", "right"),
                        ("", "left"), ("iterations/session", "right"), ("", "left")])
        for row in result.compare:
            d, p = row.diff, row.diff_pct
            table.add_row(
                Text(sanitize(row.value)), display.count(row.sessions),
                display.cost(row.cost_per_session, row.unpriced),
                _signed(d["cost_per_session"], p["cost_per_session"], display.cost),
                display.duration(row.p50_duration_ms),
                _signed(d["p50_duration_ms"], p["p50_duration_ms"], display.duration),
                display.duration(row.p95_duration_ms),
                _signed(d["p95_duration_ms"], p["p95_duration_ms"], display.duration),
                display.rate(row.error_rate),
                _signed(d["error_rate"], p["error_rate"], lambda v: f"{v * 100:.1f}pt"),
                f"{row.iterations_per_session:.1f}",
                _signed(d["iterations_per_session"], p["iterations_per_session"], lambda v: f"{v:.1f}"),
            )
        items.append(table)
    return items
