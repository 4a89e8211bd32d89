"""A caller's skills as the dialplan and the IVR hand them over (CC_SKILLS)."""

from __future__ import annotations

from callcenter.acd.call_control import parse_skills


def test_pairs_separated_by_semicolons_or_commas_bad_ones_skipped() -> None:
    assert parse_skills("billing:2;zh:1") == {"billing": 2, "zh": 1}
    assert parse_skills("billing:2,zh:1") == {"billing": 2, "zh": 1}  # an earlier engine's
    assert parse_skills("a:1;b:x;:3;c:99999;d") == {"a": 1}
    assert parse_skills("") == {}
