"""Errors the store reports to users: one line each, no traceback."""

from __future__ import annotations


class StoreError(Exception):
    """A problem a user can act on (busy store, newer schema, bad SQL, bad filter)."""


class StoreBusyError(StoreError):
    """Another process held the store's lock for longer than we were willing to wait."""


class FilterError(StoreError):
    """A filter expression that does not parse; the message points at the bad token."""
