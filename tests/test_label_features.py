"""Hand-made features beside the embedding: negation scope and clause-level polarity."""

from __future__ import annotations

from feedbackloop.label.features import N_EXTRA, clause_features, extra_features, mark_negation


def test_words_after_a_negator_are_marked_until_the_next_punctuation() -> None:
    assert mark_negation("No problem at all, works fine") == "no neg_problem neg_at neg_all , works fine"


def test_negation_scope_ends_at_a_contrastive_word() -> None:
    assert mark_negation("It isn't cheap but it is good") == "it isn't neg_cheap but it is good"


def test_a_typographic_apostrophe_negates_like_a_plain_one() -> None:
    assert mark_negation("I didn\u2019t like it") == "i didn't neg_like neg_it"


def test_words_outside_ascii_stay_whole() -> None:
    assert mark_negation("Nicht schön, aber günstig") == "nicht schön , aber günstig"


def test_the_clause_after_but_keeps_its_own_polarity() -> None:
    minimum, maximum, first, last = clause_features(["Great screen, but the battery is terrible"])[0, :4]
    assert first > 0 > last
    assert (minimum, maximum) == (last, first)


def test_a_question_is_flagged() -> None:
    assert clause_features(["Does it play DVD audio?", "It plays DVD audio."])[:, 4].tolist() == [1.0, 0.0]


def test_extra_features_keep_the_vader_and_rating_columns_first() -> None:
    extra = extra_features(["Terrible, I hate it"], [1])
    assert extra.shape == (1, N_EXTRA)
    assert extra[0, 3] < 0  # VADER compound, read by the lexicon sentiment classifier and the cascade
    assert extra[0, 4] == 1.0  # one star
