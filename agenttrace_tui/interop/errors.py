"""The one error the converters raise internally: input that is JSON but not the expected shape."""

from __future__ import annotations


class ShapeError(ValueError):
    """A decoded request or body that does not have the expected shape; the message is one line."""
