import pytest

from rag.text import content_terms, normalize, numbers, sentence_spans, words


def test_normalize_joins_spaced_thousands_and_straightens_quotes():
    assert normalize("cap it at 600, 000 “in peacetime”") == 'cap it at 600,000 "in peacetime"'
    # a comma followed by a space and a short number is a list, not a thousands group
    assert normalize("1, 2 and 3") == "1, 2 and 3"


def test_numbers_are_digit_strings_without_separators():
    assert numbers("under 100, 000 personnel, 2,500 kilometers, 46th month") == {"100000", "2500", "46"}
    assert numbers("no digits here") == set()


def test_words_and_terms():
    assert words("Ukraine’s 100, 000 troops") == ["ukraine", "s", "100000", "troops"]
    assert content_terms("The missiles were launched") == ["missil", "launch"]
    assert content_terms("he met Putin") == ["meet", "putin"]  # irregular verb joined to its base


def spans(text):
    return [text[a:b] for a, b in sentence_spans(text)]


def test_abbreviations_and_initials_do_not_end_sentences():
    text = "He spoke at the U.N. General Assembly. Files on John F. Kennedy were given."
    assert spans(text) == ["He spoke at the U.N. General Assembly.", "Files on John F. Kennedy were given."]


def test_a_single_letter_after_a_lowercase_word_ends_a_sentence():
    text = "he said in a post to X. Sixth Time’s A Charm?"
    assert spans(text) == ["he said in a post to X.", "Sixth Time’s A Charm?"]


def test_quotations_are_not_split():
    text = "“They attacked us. They don’t intend to stop,” Zelenskyy added. Next one."
    assert spans(text) == ["“They attacked us. They don’t intend to stop,” Zelenskyy added.", "Next one."]


def test_markdown_markup_stays_outside_spans_and_offsets_are_exact():
    text = "**Bold Heading Here**\n\n### Sub heading\nBody sentence one. *Stay tuned.*"
    got = sentence_spans(text)
    assert [text[a:b] for a, b in got] == ["Bold Heading Here", "Sub heading", "Body sentence one.", "Stay tuned."]


@pytest.mark.parametrize("text", ["", "   ", "\n\n", "***", "🙂"])
def test_empty_or_symbol_only_text_has_no_sentences(text):
    assert sentence_spans(text) == []


def test_emoji_and_one_sentence():
    assert spans("Peace talks resume 🙂 in Geneva") == ["Peace talks resume 🙂 in Geneva"]
