"""The request parser's speller picks the word `difflib.get_close_matches(word, vocabulary, n=1, cutoff)`
picks, without running difflib's matcher over the whole vocabulary."""

from __future__ import annotations

import difflib

from hypothesis import given, settings
from hypothesis import strategies as st

from homesim.simulation.ask_ai.spelling import Speller

_WORDS = st.text(alphabet="abcdeilnorst", min_size=1, max_size=9)


def _difflib(word: str, vocabulary: tuple[str, ...], cutoff: float) -> str | None:
    close = difflib.get_close_matches(word, vocabulary, n=1, cutoff=cutoff)
    return close[0] if close else None


@settings(max_examples=400, deadline=None)
@given(
    st.lists(_WORDS | st.text(max_size=6), max_size=40, unique=True),
    _WORDS | st.text(min_size=1, max_size=6),
    st.sampled_from([0.6, 0.75, 0.8, 0.9]),
)
def test_the_speller_picks_what_difflib_picks(vocabulary: list[str], word: str, cutoff: float) -> None:
    words = tuple(vocabulary)
    assert Speller(words).closest(word, cutoff) == _difflib(word, words, cutoff)


def test_the_speller_snaps_typos_to_a_homes_vocabulary() -> None:
    words = ("bedroom", "kitchen", "light", "lights", "sunset", "sunrise", "minutes", "turn", "tunr")
    speller = Speller(words)
    for typo in ("bedrom", "kitchn", "lihgt", "sunest", "minuets", "turm", "zzzz", "ligths"):
        assert speller.closest(typo, 0.8) == _difflib(typo, words, 0.8)
    assert speller.closest("bedrom", 0.8) == "bedroom"
    assert speller.closest("zzzz", 0.8) is None
