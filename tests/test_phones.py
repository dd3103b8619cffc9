"""Phone numbers: the per-shape fast path gives exactly what the full parser gives."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crm_store.errors import ValidationError
from crm_store.records import contact_points

phone_like = st.builds(
    lambda plus, groups, sep: ("+" if plus else "") + sep.join(groups),
    st.booleans(),
    st.lists(st.text("0123456789", min_size=1, max_size=5), min_size=1, max_size=5),
    st.sampled_from([" ", "-", ".", ""]),
)


@settings(max_examples=3000, deadline=None)
@given(raw=phone_like, region=st.sampled_from(["TW", "US", "JP", "GB", "HK"]))
def test_fast_path_matches_the_full_parser(raw: str, region: str) -> None:
    contact_points._e164.cache_clear()
    assert contact_points._fast_e164(raw, region) == contact_points._e164(raw, region)


@pytest.mark.parametrize(
    ("raw", "region", "e164"),
    [
        ("0912-345-678", "TW", "+886912345678"),
        ("(02) 2345-6789", "TW", "+886223456789"),
        ("+886 (0) 2 2345 6789", "TW", "+886223456789"),
        ("+1 (415) 555-0100", "TW", "+14155550100"),
        ("415 555 0100", "US", "+14155550100"),
        ("03-1234-5678", "JP", "+81312345678"),
    ],
)
def test_known_numbers(raw: str, region: str, e164: str) -> None:
    assert contact_points.to_e164("phone", raw, region) == e164


@pytest.mark.parametrize("raw", ["call me", "12", "+", "0912-345-678 ext. abc!"])
def test_not_a_phone_number(raw: str) -> None:
    with pytest.raises(ValidationError, match="phone"):
        contact_points.to_e164("phone", raw, "TW")
