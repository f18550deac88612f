"""The unit every segmentation backend classifies (kept apart so backends never import base)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Item:
    """One sentence to classify; ``passage`` groups consecutive speech."""

    id: str
    text: str
    passage: str = ""
