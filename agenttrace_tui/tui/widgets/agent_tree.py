"""A session's agent tree: coordinator → sub-agents, one line per agent with its own figures.

Each line: `name (role) · N calls (llm/tool) · cost · busy/wall · ✗ errors`. The cost never reads a bare $0
when calls have no price (`3 unpriced`, `$0.42 + 3 unpriced`). Enter on an agent line, or a click, posts
`AgentTree.AgentSelected` with the agent's name. A session has a handful of agents: the whole tree is built
and expanded at once.

Keys (ids `agents.*`): j/k down/up, g/G top/bottom, enter select.

Agent names and roles come from agents: each passes through `sanitize` into a `Text`, so markup stays text
and control characters become visible stand-ins.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Static, Tree
from textual.widgets.tree import TreeNode

from agenttrace_tui import display
from agenttrace_tui.store import AgentNode
from agenttrace_tui.textsafe import sanitize


def agent_label(agent: AgentNode) -> Text:
    """One agent's line: name (role) · calls · cost · busy/wall · errors (red)."""
    label = Text()
    label.append(sanitize(agent.name), style="bold red" if agent.errors else "bold")
    if agent.role:
        label.append(f" ({sanitize(agent.role)})", style="italic")
    calls = agent.calls
    label.append(
        f" · {calls:,} call{'s' if calls != 1 else ''} ({agent.llm_calls:,} llm/{agent.tool_calls:,} tool)",
        style="dim",
    )
    label.append(f" · {display.cost_or_unpriced(agent.cost_usd, agent.unpriced)}", style="dim")
    label.append(f" · {display.duration(agent.busy_ms)}/{display.duration(agent.wall_ms)}", style="dim")
    if agent.errors:
        label.append(f" · ✗ {agent.errors:,} error{'s' if agent.errors != 1 else ''}", style="red")
    return label


class AgentTreeView(Tree[str]):
    """The tree itself: node data is the agent's name."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j", "cursor_down", "Down", show=False, id="agents.down"),
        Binding("k", "cursor_up", "Up", show=False, id="agents.up"),
        Binding("g", "scroll_home", "Top", show=False, id="agents.top"),
        Binding("G", "scroll_end", "Bottom", show=False, id="agents.bottom"),
    ]

    def action_scroll_home(self) -> None:
        self.cursor_line = 0

    def action_scroll_end(self) -> None:
        self.cursor_line = max(0, self.last_line)


class AgentTree(Widget):
    """The agents of one session as a tree, or a message when there is nothing to show."""

    DEFAULT_CSS = """
    AgentTree { height: auto; max-height: 100%; }
    AgentTree > AgentTreeView { height: auto; max-height: 100%; }
    AgentTree > #agents-message { color: $text-muted; padding: 0 1; }
    """

    class AgentSelected(Message):
        """An agent line was chosen (enter or click)."""

        def __init__(self, name: str) -> None:
            super().__init__()
            self.name = name

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._roots: list[AgentNode] = []

    def compose(self) -> ComposeResult:
        tree = AgentTreeView("agents", id="agents-tree")
        tree.show_root = False
        tree.auto_expand = False  # a click selects; the tree stays open
        tree.display = False
        yield tree
        yield Static("", id="agents-message")

    @property
    def tree_view(self) -> AgentTreeView:
        """The inner Textual tree (focus it to use the keys)."""
        return self.query_one("#agents-tree", AgentTreeView)

    @property
    def roots(self) -> list[AgentNode]:
        return self._roots

    def show(self, roots: list[AgentNode]) -> None:
        """Draw these root agents and their sub-agents, all expanded; a message when there are none."""
        self._roots = list(roots)
        if not roots:
            self.show_message("No agents: no span of this session carries an Agent-Name property.")
            return
        tree = self.tree_view
        tree.clear()

        def add(parent: TreeNode[str], agent: AgentNode) -> None:
            if agent.children:
                node = parent.add(agent_label(agent), data=agent.name, expand=True)
                for child in agent.children:
                    add(node, child)
            else:
                parent.add_leaf(agent_label(agent), data=agent.name)

        for root in roots:
            add(tree.root, root)
        tree.root.expand()
        self.query_one("#agents-message", Static).display = False
        tree.display = True
        tree.cursor_line = 0

    def show_message(self, text: str) -> None:
        """A line of text instead of the tree (loading, no agents, an error)."""
        message = self.query_one("#agents-message", Static)
        message.update(Text(sanitize(text)))
        message.display = True
        self.tree_view.display = False

    @on(Tree.NodeSelected, "#agents-tree")
    def _selected(self, event: Tree.NodeSelected[str]) -> None:
        event.stop()
        if event.node.data is not None:
            self.post_message(self.AgentSelected(event.node.data))
