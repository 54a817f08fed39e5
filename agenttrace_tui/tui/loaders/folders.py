"""What the session screen knows of a session's path folders: those read so far, page by page.

A session opens with the root and its first page of sub-folders; opening a folder reads its first page, and a
"… N more folders" line the next. Nothing here queries: pages come from workers (Reader.folder_page) and are
added on the event loop.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from agenttrace_tui.store import FolderPage, NodeStats

PAGE_SIZE: Final = 200
"""Sub-folders (and spans) added per page: a folder of 50,000 sub-folders can't stall the event loop."""


@dataclass
class Folders:
    stats: dict[str, NodeStats] = field(default_factory=dict)  # every folder read so far, by path
    sub_folders: dict[str, int] = field(default_factory=dict)  # how many sub-folders each of them has in all
    loaded: dict[str, list[str]] = field(default_factory=dict)  # a folder → its sub-folders read so far, in order

    def add(self, page: FolderPage) -> None:
        """A page extends the folder's sub-folders read so far (pages come in order, an overlap is skipped)."""
        self.stats.update(page.stats)
        self.sub_folders.update(page.sub_folders)
        self.sub_folders[page.folder] = page.total
        known = self.loaded.setdefault(page.folder, [])
        seen = set(known)
        known.extend(path for path in page.children[max(0, len(known) - page.offset):] if path not in seen)

    def update(self, newer: Folders) -> None:
        """A fresh read of the same pages (a live refresh): its figures win; folders read meanwhile stay."""
        self.stats.update(newer.stats)
        self.sub_folders.update(newer.sub_folders)
        for folder, children in newer.loaded.items():
            known = self.loaded.setdefault(folder, [])
            seen = set(known)
            known.extend(path for path in children if path not in seen)

    def remaining(self, folder: str) -> int:
        """Sub-folders of `folder` not read yet (all of them when it was never opened)."""
        return max(0, self.sub_folders.get(folder, 0) - len(self.loaded.get(folder, ())))

    def needs_page(self, folder: str) -> bool:
        """Opening `folder` must read its first page of sub-folders first."""
        return folder not in self.loaded and self.sub_folders.get(folder, 0) > 0

    def pages(self) -> dict[str, int]:
        """Each folder whose sub-folders were read, with how many: what a live refresh reads again."""
        return {folder: len(children) for folder, children in self.loaded.items()}

