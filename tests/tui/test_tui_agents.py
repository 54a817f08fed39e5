"""The agent tree under a real Textual app: lines, selection, and untrusted names shown literally."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import App, ComposeResult
from textual.widgets import Static

from agenttrace_tui.store import AgentNode
from agenttrace_tui.tui.widgets.agent_tree import AgentTree, AgentTreeView

MARKUP = "[bold]x[/bold]"
CLEAR_SCREEN = "\x1b[2J"


def node(name: str, *, role: str | None = None, parent: str | None = None, llm: int = 0, tool: int = 0,
         errors: int = 0, cost: float = 0.0, unpriced: int = 0, busy: float = 0.0, wall: float = 0.0,
         start: float = 0.0, children: tuple[AgentNode, ...] = ()) -> AgentNode:
    return AgentNode(
        name=name, role=role, parent=parent, spans=llm + tool + 1, llm_calls=llm, tool_calls=tool, errors=errors,
        cost_usd=cost, unpriced=unpriced, busy_ms=busy, wall_ms=wall, first_start_ms=start, children=children,
    )


WRITER = node("writer", parent="research-agent", llm=1, unpriced=2, busy=250, wall=2000, start=7000)
RESEARCH = node("research-agent", role="researcher", parent="coordinator", llm=1, tool=2, errors=2, cost=0.6,
                busy=3500, wall=4000, start=3000, children=(WRITER,))
ROOTS = [
    node("coordinator", role="coordinator", llm=2, cost=0.25, unpriced=1, busy=3000, wall=8000, start=1000,
         children=(RESEARCH,)),
    node(MARKUP + CLEAR_SCREEN, role=MARKUP, tool=1, busy=100, wall=100, start=9000),
]


class AgentApp(App[None]):
    def __init__(self, roots: list[AgentNode]) -> None:
        super().__init__()
        self.roots = roots
        self.selected: list[str] = []

    def compose(self) -> ComposeResult:
        yield AgentTree(id="agents")

    def on_mount(self) -> None:
        self.query_one(AgentTree).show(self.roots)

    @on(AgentTree.AgentSelected)
    def _selected(self, event: AgentTree.AgentSelected) -> None:
        self.selected.append(event.name)


def screen_lines(app: AgentApp) -> list[str]:
    tree = app.query_one(AgentTreeView)
    return [tree.render_line(y).text for y in range(tree.size.height)]


async def test_lines_show_each_agents_figures() -> None:
    app = AgentApp(ROOTS)
    async with app.run_test(size=(140, 12)) as pilot:
        await pilot.pause()
        lines = [line.rstrip() for line in screen_lines(app)]
        coordinator, research, writer = lines[0], lines[1], lines[2]
        assert "coordinator (coordinator) · 2 calls (2 llm/0 tool) · $0.25 + 1 unpriced · 3.0s/8.0s" in coordinator
        assert "✗" not in coordinator
        assert "research-agent (researcher) · 3 calls (1 llm/2 tool) · $0.60 · 3.5s/4.0s · ✗ 2 errors" in research
        assert "writer · 1 call (1 llm/0 tool) · 2 unpriced · 250ms/2.0s" in writer  # never a bare $0
        assert "$0 " not in writer and not writer.endswith("$0")
        # Nesting: each sub-agent is indented further than its parent.
        indent = [len(line) - len(line.lstrip(" ├└│─▼▶━┣┗┃")) for line in lines[:3]]
        assert indent[0] < indent[1] < indent[2]
        # Errors are red.
        label = app.query_one(AgentTreeView).root.children[0].children[0].label
        assert isinstance(label, Text)
        assert any("red" in str(span.style) and "✗ 2" in label.plain[span.start:span.end] for span in label.spans)


async def test_enter_and_click_post_agent_selected() -> None:
    app = AgentApp(ROOTS)
    async with app.run_test(size=(140, 12)) as pilot:
        await pilot.pause()
        app.query_one(AgentTree).tree_view.focus()
        await pilot.press("enter")
        await pilot.press("j", "enter")
        await pilot.press("j", "j", "enter")
        await pilot.press("k", "k", "k", "enter")
        await pilot.pause()
        assert app.selected == ["coordinator", "research-agent", MARKUP + CLEAR_SCREEN, "coordinator"]
        # A click on the writer's line (line 2) selects it; the tree stays open.
        assert await pilot.click(AgentTreeView, offset=(20, 2))
        await pilot.pause()
        assert app.selected[-1] == "writer"
        assert len(screen_lines(app)[3].strip()) > 0  # the fourth agent is still shown


async def test_markup_and_control_sequences_are_shown_literally() -> None:
    app = AgentApp(ROOTS)
    async with app.run_test(size=(140, 12)) as pilot:
        await pilot.pause()
        line = screen_lines(app)[3]
        assert "[bold]x[/bold]␛[2J ([bold]x[/bold])" in line
        assert "\x1b" not in "".join(screen_lines(app))


async def test_messages_instead_of_a_tree() -> None:
    app = AgentApp([])
    async with app.run_test(size=(100, 8)) as pilot:
        await pilot.pause()
        message = app.query_one("#agents-message", Static)
        assert message.display and not app.query_one(AgentTreeView).display
        assert "No agents" in str(message.render())
        widget = app.query_one(AgentTree)
        widget.show_message("Loading " + MARKUP + CLEAR_SCREEN)
        await pilot.pause()
        assert str(message.render()) == "Loading [bold]x[/bold]␛[2J"
        widget.show(ROOTS)
        await pilot.pause()
        assert app.query_one(AgentTreeView).display and not message.display
        assert "coordinator" in screen_lines(app)[0]
