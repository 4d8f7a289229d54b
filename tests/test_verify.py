import pytest

from rag.types import Document, Passage
from rag.grounding.conflict import find_conflict, measures
from rag.grounding.verify import is_refusal, split_answer, tidy, verify

DOC = Document("witkoff", "Witkoff To Moscow", "RFE/RL", "2025-11-26", "", (
    "In previous negotiations, Russia called for Ukraine’s military to be under 100, 000 personnel. "
    "The initial US draft would cap it at 600, 000. "
    "A real estate developer with no diplomatic background, Steve Witkoff is the man tapped by Trump. "
    "He’s met with Putin five times already, traveling to Moscow on his private jet."))
DOC2 = Document("orban", "Orban", "RFE/RL", "2025-10-17", "", (
    "The meeting would be hosted by Hungarian Prime Minister Viktor Orban. Orban welcomed the planned summit. "
    "On X, he described it as “great news” and declared, “We are ready!”"))
OTHER = Document("tribune", "Tribune", "Chicago Tribune (AP)", "2025-10-17", "",
                 "Trump began downplaying the prospects of Ukraine getting the missiles, which have a range of about 995 miles.")
THIRD = Document("drones", "Drones", "RFE/RL", "2025-10-17", "",
                 "Tomahawk missiles have a range of up to 2,500 kilometers—enough to reach Moscow from Ukraine.")


def passage(n, doc, needle):
    a = doc.text.index(needle)
    return Passage(n, doc, f"{doc.id}#0", a, a + len(needle), 1.0, a, a + len(needle))


P = [passage(1, DOC, "In previous negotiations, Russia called for Ukraine’s military to be under 100, 000 personnel."),
     passage(2, DOC, "The initial US draft would cap it at 600, 000."),
     passage(3, DOC, "Steve Witkoff is the man tapped by Trump. He’s met with Putin five times already, traveling to Moscow on his private jet.")]


def test_a_supported_answer_is_kept_and_tidied():
    v = verify("The initial US draft would cap it at 600, 000 personnel [2].", P, "What cap did the US draft set?")
    assert v.status == "verified"
    assert v.text == "The initial US draft would cap it at 600,000 personnel [2]."
    assert v.cited == (2,)


def test_a_wrong_citation_is_moved_to_the_passage_that_supports_it():
    v = verify("Russia wanted it under 100,000 personnel [2].", P, "What did Russia want?")
    assert v.status == "repaired" and v.cited == (1,)
    assert v.text.endswith("[1].")


def test_a_sentence_may_rest_on_two_passages_together():
    v = verify("Russia wanted under 100,000 personnel while the US draft would cap it at 600,000 [1] and [2].",
               P, "What sizes were proposed?")
    assert v.ok and v.cited == (1, 2), v


def test_a_missing_citation_is_added():
    v = verify("Witkoff has met Putin five times.", P, "How many times has Witkoff met Putin?")
    assert v.status == "repaired" and v.text == "Witkoff has met Putin five times [3]."


def test_a_citation_to_no_passage_is_dropped_and_repaired():
    v = verify("The draft would cap it at 600,000 [7].", P, "What cap?")
    assert v.ok and v.cited == (2,) and "[7]" not in v.text


def test_an_invented_number_fails():
    v = verify("The draft would cap it at 450,000 [2].", P, "What cap?")
    assert v.status == "failed" and "450000" in v.reason


def test_number_words_match_digits():
    assert verify("He met Putin 5 times [3].", P, "How many times?").ok


def test_names_from_the_question_are_allowed_even_misspelt():
    assert verify("Witkof met Putin five times [3].", P, "How often has Witkof met Putin?").ok


def test_a_capitalised_first_word_is_not_a_name():
    assert verify("Five times [3].", P, "How many times has Witkoff met Putin?").ok


@pytest.mark.parametrize("text", ["NOT FOUND", "The passages do not mention the population.", "",
                                  "I cannot determine that from the passages.", "There is no information about it."])
def test_refusals_are_recognised(text):
    assert is_refusal(text)
    assert verify(text, P, "What is the population of Kryvyi Rih?").status == "refused"


def test_sentences_keep_their_trailing_citations():
    assert split_answer("A is true [1]. B is also true. [2]") == ["A is true [1].", "B is also true. [2]"]
    assert tidy("cap  at 600, 000 [1 , 2] .") == "cap  at 600,000 [1, 2]."


def test_measures_and_conflicting_figures_across_articles():
    assert [(n, fam) for n, fam, _ in measures("a range of up to 2,500 kilometers")] == [("2500", "[length]")]
    assert measures("about 995 miles")[0][1] == measures("2,500 km")[0][1]  # one dimension, other units
    ps = [passage(1, OTHER, OTHER.text), passage(2, THIRD, THIRD.text)]
    q = "What is the range of a Tomahawk missile?"
    assert find_conflict("Tomahawks have a range of about 995 miles [1].", (1,), ps, q).n == 2
    # the same article, or a figure of another kind, is no conflict
    assert find_conflict("It would cap it at 600,000 [2].", (2,), P, "What cap?") is None
