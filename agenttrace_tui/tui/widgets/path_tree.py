"""The session tree: folders from the session paths (or spans by parent), built lazily on expand.

Nothing below a collapsed node exists as a widget line: folders add their first page of sub-folders and the
first page of their spans when opened, and a wide folder has a "… N more folders" line after its sub-folders
and a "… N more" line after its spans, each loading the next page.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import ClassVar, Final

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from agenttrace_tui import display
from agenttrace_tui.format import path_prefixes
from agenttrace_tui.store import NodeStats, SpanRow
from agenttrace_tui.textsafe import sanitize
from agenttrace_tui.tui.loaders.folders import PAGE_SIZE, Folders

__all__ = ["PAGE_SIZE", "STALE_RUNNING_MS", "FolderRef", "MoreRef", "NodeData", "PathTree", "SpanRef"]

STALE_RUNNING_MS: Final = 24 * 3600 * 1000
"""A span started longer ago than this with no end is shown as unfinished, not as running."""

KIND_STYLE: Final = {
    "llm": "magenta", "tool": "cyan", "agent": "green", "retrieval": "yellow", "embedding": "blue", "other": "white",
}


@dataclass(frozen=True)
class FolderRef:
    path: str


@dataclass(frozen=True)
class SpanRef:
    row: SpanRow


@dataclass(frozen=True)
class MoreRef:
    """A "… N more" line: the next page of a folder's spans (path) or of a span's children (parent_id), or
    with `folders`, of a folder's sub-folders."""

    path: str | None
    parent_id: str | None
    offset: int
    remaining: int
    folders: bool = False


def _is_span_line(node: TreeNode[NodeData]) -> bool:
    """A span, or the "… N more" line after spans (not the one after sub-folders)."""
    data = node.data
    return isinstance(data, SpanRef) or (isinstance(data, MoreRef) and not data.folders)


NodeData = FolderRef | SpanRef | MoreRef


def folder_label(node: NodeStats) -> Text:
    label = Text()
    label.append(sanitize(node.path if node.path == "/" else node.name), style="bold red" if node.errors else "bold")
    label.append(f"  {node.spans} span{'s' if node.spans != 1 else ''}", style="dim")
    label.append(f" · {display.duration(node.busy_ms)}/{display.duration(node.wall_ms)}", style="dim")
    label.append(f" · {display.cost(node.cost_usd, node.unpriced)}", style="dim")
    if node.errors:
        label.append(f" · ✗ {node.errors}", style="red")
    if node.running:
        label.append(f" · {node.running} running", style="yellow")
    return label


def span_label(row: SpanRow) -> Text:
    label = Text()
    if row.status == "error":
        label.append("✗ ", style="bold red")
    elif row.in_progress:
        label.append("… ", style="yellow")
    label.append(f"{row.kind} ", style=KIND_STYLE.get(row.kind, "white"))
    label.append(sanitize(row.label), style="red" if row.status == "error" else "")
    if row.in_progress:  # no end yet: how long it has been running, by this machine's clock
        elapsed = (datetime.now(UTC).replace(tzinfo=None) - row.start_time).total_seconds() * 1000
        if elapsed <= STALE_RUNNING_MS:
            label.append(f"  running {display.duration(max(elapsed, 0.0))}", style="yellow")
        else:  # a writer that died long ago: "running for 40 days" would mislead
            label.append("  no end recorded", style="yellow")
    else:
        label.append(f"  {display.duration(row.duration_ms)}", style="dim")
    if row.cost_source == "unpriced":
        label.append(" · unpriced", style="yellow")
    elif row.cost_usd:
        label.append(f" · {display.cost(row.cost_usd)}", style="dim")
    if row.orphan:
        label.append(" · missing parent", style="yellow")
    if row.child_count:
        label.append(f" · {row.child_count} child{'ren' if row.child_count != 1 else ''}", style="dim")
    return label


class PathTree(Tree[NodeData]):
    """Expanding a node posts `NodeExpanded`; the session screen reads its rows in a worker (tui/loaders/) and
    hands them back (`ensure_subfolders`, `set_folder_spans`, `fill_children`, `add_page`): the tree only places
    them."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j", "cursor_down", "Down", show=False, id="tree.down"),
        Binding("k", "cursor_up", "Up", show=False, id="tree.up"),
        Binding("h,left", "collapse_or_parent", "Collapse", show=False, id="tree.collapse"),
        Binding("l,right", "expand_node", "Expand", show=False, id="tree.expand"),
        Binding("g", "scroll_home", "Top", show=False, id="tree.top"),
        Binding("G", "scroll_end", "Bottom", show=False, id="tree.bottom"),
        Binding("space", "toggle_node", "Toggle", show=False, id="tree.toggle"),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(Text("session"), id=id)
        self.folders = Folders()
        self._subfolders_added: set[str] = set()  # folders whose sub-folder lines were built
        self.causal = False
        self.guide_depth = 2
        self.auto_expand = False  # enter is ours: it opens a span's detail or loads "more"
        self.cursor_moved: Callable[[TreeNode[NodeData]], None] | None = None
        """Called in the same turn as the cursor lands on another line, so what the screen shows for that line
        (detail, timeline highlight, crumb) is drawn in the frame that moves the cursor: through the
        NodeHighlighted message it came a frame later (~17 ms on every j/k)."""

    # Building ----------------------------------------------------------------------------------------

    def show_paths(self, folders: Folders) -> None:
        self.causal = False
        self.folders = folders
        self._subfolders_added = set()
        self.clear()
        root_stats = folders.stats.get("/")
        if root_stats is None:
            self.root.set_label(Text("(no spans)"))
            return
        self.root.data = FolderRef("/")
        self.root.set_label(folder_label(root_stats))
        self.root.allow_expand = True

    def show_causal(self, root_label: Text) -> None:
        self.causal = True
        self.clear()
        self.root.data = None
        self.root.set_label(root_label)
        self.root.allow_expand = True

    def ensure_subfolders(self, node: TreeNode[NodeData]) -> None:
        """Lines for a folder's sub-folders read so far (no query, so it is immediate), after any already
        there and before its spans, then "… N more folders" when some are still unread."""
        data = node.data
        if not isinstance(data, FolderRef) or data.path not in self.folders.loaded:
            return
        self._subfolders_added.add(data.path)
        children = list(node.children)
        present = [c for c in children if isinstance(c.data, FolderRef)]
        shown = {c.data.path for c in present if isinstance(c.data, FolderRef)}
        more = [c for c in children if isinstance(c.data, MoreRef) and c.data.folders]
        remaining = self.folders.remaining(data.path)
        missing = [path for path in self.folders.loaded[data.path] if path not in shown]
        if not missing and len(more) == (1 if remaining else 0) and (
                not more or isinstance(more[0].data, MoreRef) and more[0].data.remaining == remaining):
            return
        for line in more:
            line.remove()
        after = present[-1] if present else None
        first_span = next((c for c in children if _is_span_line(c)), None)
        for path in missing:
            label = folder_label(self.folders.stats[path])
            if after is not None:
                after = node.add(label, FolderRef(path), allow_expand=True, after=after)
            elif first_span is not None:
                after = node.add(label, FolderRef(path), allow_expand=True, before=first_span)
            else:
                after = node.add(label, FolderRef(path), allow_expand=True)
        if remaining:
            label = Text(f"… {remaining:,} more folders (enter loads {min(PAGE_SIZE, remaining)})", style="dim italic")
            ref = MoreRef(data.path, None, len(self.folders.loaded[data.path]), remaining, folders=True)
            if after is not None:
                node.add_leaf(label, ref, after=after)
            elif first_span is not None:
                node.add_leaf(label, ref, before=first_span)
            else:
                node.add_leaf(label, ref)

    def set_folder_spans(self, node: TreeNode[NodeData], rows: list[SpanRow], total: int) -> None:
        """A folder's own spans (after its sub-folders), then "… N more". A shorter page than the one
        already shown is ignored, so a late first page can't undo a jump deeper into the folder."""
        shown = [c for c in node.children if _is_span_line(c)]
        if sum(isinstance(c.data, SpanRef) for c in shown) > len(rows):
            return
        for child in shown:
            child.remove()
        data = node.data
        assert isinstance(data, FolderRef)
        self._add_spans(node, rows, total, 0, path=data.path, parent_id=None)

    def fill_children(self, node: TreeNode[NodeData], rows: list[SpanRow], total: int, offset: int,
                      parent_id: str | None) -> None:
        """Causal view: a span's children (or the roots), one page."""
        if offset == 0:
            node.remove_children()
        self._add_spans(node, rows, total, offset, path=None, parent_id=parent_id)

    def add_page(self, more: TreeNode[NodeData], rows: list[SpanRow], total: int) -> None:
        """Replace a "… N more" line with the next page."""
        data = more.data
        assert isinstance(data, MoreRef)
        parent = more.parent
        assert parent is not None
        more.remove()
        self._add_spans(parent, rows, total, data.offset, path=data.path, parent_id=data.parent_id)

    def _add_spans(self, node: TreeNode[NodeData], rows: list[SpanRow], total: int, offset: int,
                   path: str | None, parent_id: str | None) -> None:
        for row in rows:
            expandable = self.causal and row.child_count > 0
            node.add(span_label(row), SpanRef(row), allow_expand=expandable)
        shown = offset + len(rows)
        if shown < total:
            remaining = total - shown
            label = Text(f"… {remaining:,} more (enter loads {min(PAGE_SIZE, remaining)})", style="dim italic")
            node.add_leaf(label, MoreRef(path, parent_id, shown, remaining))

    # Live updates (follow mode): new figures and spans, with expanded nodes and the cursor kept --------

    def update_paths(self, folders: Folders) -> None:
        """New figures for every folder read; new sub-folders appear under folders already opened."""
        self.folders.update(folders)
        if self.causal:
            return
        if self.root.data is None and "/" in self.folders.stats:  # the session had no spans when first shown
            self.show_paths(self.folders)
            return
        for node in list(self._all_nodes()):
            data = node.data
            if not isinstance(data, FolderRef) or data.path not in self.folders.stats:
                continue
            node.set_label(folder_label(self.folders.stats[data.path]))
            if data.path in self._subfolders_added:
                self.ensure_subfolders(node)

    def merge_spans(self, node: TreeNode[NodeData], rows: list[SpanRow], total: int,
                    path: str | None, parent_id: str | None) -> None:
        """A fresh first page of a node's spans: rows already shown get their new figures (a running span
        its end), new ones are placed in order, and "… N more" is redone; nothing shown is removed."""
        existing = {c.data.row.span_id: c for c in node.children if isinstance(c.data, SpanRef)}
        for more in [c for c in node.children if isinstance(c.data, MoreRef) and not c.data.folders]:
            more.remove()
        previous: TreeNode[NodeData] | None = None
        for row in rows:
            child = existing.get(row.span_id)
            if child is None:
                spans = [c for c in node.children if isinstance(c.data, SpanRef)]
                if previous is not None:
                    child = node.add(span_label(row), SpanRef(row), after=previous,
                                     allow_expand=self.causal and row.child_count > 0)
                elif spans:
                    child = node.add(span_label(row), SpanRef(row), before=spans[0],
                                     allow_expand=self.causal and row.child_count > 0)
                else:
                    child = node.add(span_label(row), SpanRef(row), allow_expand=self.causal and row.child_count > 0)
            else:
                child.data = SpanRef(row)
                child.set_label(span_label(row))
                if self.causal and row.child_count > 0:
                    child.allow_expand = True
            previous = child
        shown = sum(isinstance(c.data, SpanRef) for c in node.children)
        if shown < total:
            remaining = total - shown
            label = Text(f"… {remaining:,} more (enter loads {min(PAGE_SIZE, remaining)})", style="dim italic")
            node.add_leaf(label, MoreRef(path, parent_id, shown, remaining))

    def tick_running(self) -> None:
        """Running spans' elapsed time moves on: relabel the ones on screen lines."""
        for node in self.visible_nodes():
            if isinstance(node.data, SpanRef) and node.data.row.in_progress:
                node.set_label(span_label(node.data.row))

    def expanded_span_parents(self) -> Iterator[TreeNode[NodeData]]:
        """Expanded nodes whose spans are shown: folders (path view), or the root and spans (causal view)."""
        for node in self._all_nodes():
            if not node.is_expanded:
                continue
            if self.causal and (node.data is None or isinstance(node.data, SpanRef)):
                yield node
            elif not self.causal and isinstance(node.data, FolderRef):
                yield node

    def _all_nodes(self) -> Iterator[TreeNode[NodeData]]:
        stack: list[TreeNode[NodeData]] = [self.root]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(node.children)

    # Reading -----------------------------------------------------------------------------------------

    def visible_nodes(self) -> Iterator[TreeNode[NodeData]]:
        """The tree's lines top to bottom, as drawn: what the timeline mirrors."""
        stack: list[TreeNode[NodeData]] = [self.root]
        while stack:
            node = stack.pop()
            yield node
            if node.is_expanded:
                stack.extend(reversed(node.children))

    def holds(self, node: TreeNode[NodeData]) -> bool:
        """Whether `node` is still a line of this tree (a rebuild or a page replaces nodes)."""
        while node.parent is not None:
            if not any(sibling is node for sibling in node.parent.children):
                return False
            node = node.parent
        return node is self.root

    def folder_node(self, path: str) -> TreeNode[NodeData] | None:
        """The line of a folder, if the tree shows it (path view)."""
        if self.causal:
            return None
        node = self.root
        for prefix in path_prefixes(path)[1:]:
            found = next((c for c in node.children if isinstance(c.data, FolderRef) and c.data.path == prefix), None)
            if found is None:
                return None
            node = found
        return node if isinstance(node.data, FolderRef) and node.data.path == path else None

    def find(self, predicate: Callable[[NodeData | None], bool]) -> TreeNode[NodeData] | None:
        for node in self.visible_nodes():
            if predicate(node.data):
                return node
        return None

    def select_line_of(self, node: TreeNode[NodeData]) -> None:
        """Move the cursor to a node added or revealed in this same turn.

        Tree numbers its lines lazily (on idle); reading `_tree_lines` numbers them now, so the node's
        line is known before we move to it.
        """
        _ = self._tree_lines
        self.move_cursor(node)
        self.scroll_to_node(node)

    def watch_cursor_line(self, previous_line: int, line: int) -> None:
        previous = self._get_node(previous_line)
        super().watch_cursor_line(previous_line, line)
        node = self.cursor_node
        if self.cursor_moved is not None and node is not None and previous_line != line and node is not previous:
            self.cursor_moved(node)

    # Keys --------------------------------------------------------------------------------------------

    def action_collapse_or_parent(self) -> None:
        node = self.cursor_node
        if node is None:
            return
        if node.is_expanded:
            node.collapse()
        elif node.parent is not None:
            self.move_cursor(node.parent)

    def action_expand_node(self) -> None:
        node = self.cursor_node
        if node is not None and node.allow_expand and not node.is_expanded:
            node.expand()
