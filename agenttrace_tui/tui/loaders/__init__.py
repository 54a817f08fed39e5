"""What the explorer reads and the bookkeeping of what it has read, apart from the widgets: no Textual here.

Each read opens one Reader (`store.read()`), so the answers of one job agree, and blocks: the screens call these
from their workers and place what comes back on the event loop.
"""
