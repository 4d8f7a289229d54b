from rag.rewrite import entities, is_followup, rewrite, rule_rewrite

H_WHO = [("Who did Trump tap to lead the effort to end Russia's war?",
          "Steve Witkoff, a real estate developer with no diplomatic background [1].")]
H_IS = [("Who is Kirill Dmitriev?", "A Harvard-trained businessman who heads Russia's sovereign wealth fund [2].")]


def test_followups_are_detected_only_with_history():
    assert is_followup("How many times has he met Putin?", H_WHO)
    assert is_followup("And the European one?", H_WHO)
    assert not is_followup("How many times has he met Putin?", [])
    assert not is_followup("What did Rubio say in Geneva about the draft plan?", H_WHO)


def test_pronoun_resolves_to_the_person_the_answer_named():
    assert rule_rewrite("How many times has he met Putin?", H_WHO) == "How many times has Steve Witkoff met Putin?"


def test_pronoun_resolves_to_the_person_the_question_named():
    assert rule_rewrite("Where did he travel in late October?", H_IS) == "Where did Kirill Dmitriev travel in late October?"
    assert rule_rewrite("What did his fund do?", H_IS) == "What did Kirill Dmitriev’s fund do?"


def test_ellipsis_keeps_the_previous_question():
    h = [("What cap on Ukraine's military did the initial US draft propose?", "600,000 [1].")]
    assert rule_rewrite("What about the European counterproposal?", h).startswith("What cap on Ukraine's military")


def test_the_model_rewrite_is_used_when_plausible_and_ignored_when_not():
    model = lambda messages: "How many times has Steve Witkoff met Vladimir Putin?"
    assert rewrite("How many times has he met Putin?", H_WHO, model) == "How many times has Steve Witkoff met Vladimir Putin?"
    rambling = lambda messages: "NOT FOUND"
    assert rewrite("How many times has he met Putin?", H_WHO, rambling) == "How many times has Steve Witkoff met Putin?"
    assert rewrite("  Who is Witkoff?  ", None, model) == "Who is Witkoff?"  # no history: unchanged, no model call


def test_entities():
    assert entities("Did Steve Witkoff meet Vladimir Putin in Moscow?") == ["Steve Witkoff", "Vladimir Putin", "Moscow"]


def test_months_nationalities_and_titles_are_not_antecedents():
    assert entities("In late October, the Russian envoy met Senate Majority Leader Mitch McConnell") == ["Mitch McConnell"]
    h = [("Where did Dmitriev go in late October?", "Miami [1].")]
    assert rule_rewrite("Which congresswoman did he meet there?", h) == "Which congresswoman did Dmitriev meet there?"


def test_an_unchanged_model_rewrite_falls_back_to_the_rules():
    h = [("What cap on Ukraine's military did the initial US draft propose?", "600,000 [1].")]
    echo = lambda messages: "What about the European counterproposal?"
    assert rewrite("What about the European counterproposal?", h, echo).startswith("What cap on Ukraine's military")
