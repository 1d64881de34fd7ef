"""Learned tensors added to a sequence: a class token, a position table."""

from __future__ import annotations

KINDS: tuple = ()
