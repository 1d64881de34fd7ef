"""Normalizations and regularizers without a family of their own: group and RMS norm, layer scale,
stochastic depth, Keras' Normalization."""

from __future__ import annotations

KINDS: tuple = ()
