"""The catalogue the fixture scripts are checked against."""

from __future__ import annotations

from pathlib import Path

from callcenter.ivr.validate import Catalogue

FIXTURES = Path(__file__).parents[2] / "fixtures" / "ivr"
PROMPTS = frozenset({"welcome", "menu", "invalid", "goodbye", "enter", "thanks", "closed"})
CATALOGUE = Catalogue(
    queues=frozenset({"repair", "products", "complaints"}),
    prompts={"zh": PROMPTS, "en": PROMPTS},
    documents=frozenset({"101", "102"}),
    transfer_numbers=frozenset({"+861012345678"}),
)
