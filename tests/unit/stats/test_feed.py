"""The live feed's merge patches rebuild the engine's snapshots exactly."""

from __future__ import annotations

import copy
import json
import random
from typing import Any

from callcenter.stats.feed import Frame, apply_patch, merge_patch, without_nulls


def random_state(rng: random.Random, depth: int = 0) -> dict[str, Any]:
    state: dict[str, Any] = {}
    for _ in range(rng.randint(0, 6)):
        key = rng.choice("abcdefgh")
        kind = rng.random()
        if kind < 0.25 and depth < 3:
            state[key] = random_state(rng, depth + 1)
        elif kind < 0.4:
            state[key] = None
        elif kind < 0.6:
            state[key] = rng.randint(0, 3)
        elif kind < 0.75:
            state[key] = rng.choice([0.5, 1.0, 1, True, "x"])
        else:
            state[key] = [rng.randint(0, 2)]
    return state


def test_patches_rebuild_every_snapshot_of_a_random_sequence() -> None:
    rng = random.Random(7)
    for _ in range(300):
        client: dict[str, Any] = {}
        engine: dict[str, Any] = {}
        for _ in range(20):
            new = without_nulls(random_state(rng))
            patch = json.loads(json.dumps(merge_patch(engine, new)))
            apply_patch(client, patch)
            assert client == new
            engine = copy.deepcopy(new)


def test_an_unchanged_state_gives_an_empty_patch_and_types_count() -> None:
    state = {"a": {"b": 1, "c": [1]}, "d": 1.0}
    assert merge_patch(state, copy.deepcopy(state)) == {}
    assert merge_patch({"d": 1}, {"d": 1.0}) == {"d": 1.0}
    assert merge_patch({"a": {"b": 1}}, {}) == {"a": None}


def test_a_frame_makes_its_snapshot_text_once_and_only_on_demand() -> None:
    frame = Frame(3, {"a": 1}, {"a": 1})
    assert json.loads(frame.patch_text or "") == {"type": "patch", "seq": 3, "data": {"a": 1}}
    assert frame.snapshot_text() is frame.snapshot_text()
    assert Frame(1, {"a": 1}, None).patch_text is None
