"""The news archive eval (eval/archive*.py) on invented rows: rows become Documents (ids, dates, outlet,
attribution), an index is built through RAG.add_documents one commit per batch with progress shown, a
rerun resumes, and the scaled index keeps the questions' sentences to their own documents."""

from __future__ import annotations

import json

import pytest

from eval import archive, archive_docs, archive_scale
from rag.config import Config
from rag.text import sha256

from .conftest import HashEmbedder, ScriptedGenerator, extractive

DOJ = [  # invented, shaped like doj-press-releases-2009-2018.jsonl (the scrape glues paragraphs with "None")
    {"id": 12, "date": "2012-05-02", "title": "Ohio Man  Sentenced\nfor Wire Fraud",
     "url": "https://www.justice.gov/opa/pr/ohio-man-sentenced",
     "text": "WASHINGTON  An Ohio man was sentenced today to 40 months in prison for wire fraud.NoneNone He "
             "must also pay $1.2 million in restitution. The case was brought in Columbus.None"},
    {"id": 7, "date": "2010-01-15", "title": "Acme Corp. Agrees to Pay $3 Million",
     "url": "https://www.justice.gov/opa/pr/acme", "text": "Acme Corp. agreed today to pay $3 million to settle "
     "claims that it overbilled the Navy. None The settlement resolves a whistleblower lawsuit filed in Texas."},
    {"id": 30, "date": "2012-05-02", "title": "Two Charged in Texas", "url": "https://www.justice.gov/opa/pr/two",
     "text": "Two Texas residents were charged today with running a fake charity. They face up to 20 years."},
]
WIKI = [  # invented, shaped like wikipedia-current-events-2002-2019.jsonl
    {"date": "2011-03-11", "url": "https://en.wikipedia.org/wiki/Portal:Current_events/2011_March_11",
     "categories": {"Disasters and accidents": ["A strong earthquake strikes off the coast of Zembla. (Reuters)",
                                                "Tsunami warnings are issued across the ocean. (AP)"],
                    "Sports": []}},
    {"date": "2004-07-01", "url": "https://en.wikipedia.org/wiki/Portal:Current_events/2004_July_1",
     "categories": {"Uncategorized": ["The parliament of Freedonia elects a new speaker after a long vote."]}},
]


def news_folder(tmp_path):
    folder = tmp_path / "news"
    folder.mkdir()
    for source, rows in (("doj", DOJ), ("wikipedia", WIKI)):
        (folder / archive_docs.FILES[source]).write_text("".join(json.dumps(r) + "\n" for r in rows))
    return folder


def test_a_press_release_becomes_a_document():
    d = archive_docs.doj_document(DOJ[0])
    assert (d.id, d.title, d.outlet, d.published, d.url) == (
        "doj-12", "Ohio Man Sentenced for Wire Fraud", "US Department of Justice", "2012-05-02", DOJ[0]["url"])
    assert "None" not in d.text and d.text.startswith("WASHINGTON An Ohio man") and "\n\nHe must also pay" in d.text
    assert d.sha256 == sha256(d.text) and d.source == "doj-press-releases-2009-2018.jsonl#12"


def test_a_current_events_day_becomes_a_document_with_its_attribution():
    d = archive_docs.wikipedia_document(WIKI[0])
    assert (d.id, d.title, d.outlet, d.published) == (
        "wiki-2011-03-11", "Current events, March 11, 2011", "Wikipedia Current events", "2011-03-11")
    assert d.author == "Wikipedia contributors, Portal:Current events/2011 March 11" and d.url == WIKI[0]["url"]
    assert d.text == ("## Disasters and accidents\n\nA strong earthquake strikes off the coast of Zembla. (Reuters)\n"
                      "Tsunami warnings are issued across the ocean. (AP)")  # an empty category leaves nothing
    assert not archive_docs.wikipedia_document(WIKI[1]).text.startswith("#")  # no "Uncategorized" heading


def test_the_archive_is_read_oldest_first_and_sliced_around_the_questions_documents(tmp_path):
    folder = news_folder(tmp_path)
    docs = archive_docs.read_archive(folder)
    assert [d.id for d in docs] == ["wiki-2004-07-01", "doj-7", "wiki-2011-03-11", "doj-12", "doj-30"]
    assert len({d.id for d in docs}) == len(docs)
    sliced = archive_docs.read_archive(folder, limit=2, first=("doj-30",))
    assert len(sliced) == 2 and "doj-30" in {d.id for d in sliced}
    with pytest.raises(archive_docs.DataMissing, match="--news PATH"):
        archive_docs.news_path(tmp_path / "nowhere")


def test_batches_commit_one_by_one_with_progress_and_a_rerun_resumes(tmp_path, capsys):
    docs = archive_docs.read_archive(news_folder(tmp_path))
    (tmp_path / "empty").mkdir()
    config = Config(gate="", corpus_dir=tmp_path / "empty", index_dir=tmp_path / "index")
    bot, first = archive.build("t", docs[:3], config, HashEmbedder(), batch_docs=2)
    assert (first.batches, first.runs, first.documents) == (2, 1, 3)
    assert [b["documents"] for b in first.per_batch] == [2, 1]
    assert first.per_batch[0]["chunks"] < first.per_batch[1]["chunks"] == first.chunks
    assert bot.index.version == "v-000003"  # the empty index, then one commit per batch
    assert first.texts_embedded > 0 and first.version_mb > 0 and first.statuses == {"added": 3}
    err = capsys.readouterr().err
    assert "t documents" in err and "t chunks" in err
    # a rerun skips what is indexed, adds the rest, and reports the batches of both runs
    bot, again = archive.build("t", docs, config, HashEmbedder(), batch_docs=2)
    assert (again.batches, again.runs, again.documents, again.statuses) == (3, 2, 5, {"added": 5})
    assert bot.index.version == "v-000004" and set(bot.index.documents) == {d.id for d in docs}
    assert again.build_s == pytest.approx(sum(b["seconds"] for b in again.per_batch))
    assert bot.retrieve("Which earthquake struck Zembla?").passages[0].doc.id == "wiki-2011-03-11"


def test_a_crash_loses_at_most_the_batch_being_written(tmp_path, monkeypatch):
    from rag import RAG

    docs = archive_docs.read_archive(news_folder(tmp_path))
    (tmp_path / "empty").mkdir()
    config = Config(gate="", corpus_dir=tmp_path / "empty", index_dir=tmp_path / "index")
    real, calls = RAG.add_documents, []

    def crash_on_the_second(self, paths, progress=False):
        calls.append(len(paths))
        if len(calls) == 2:
            raise KeyboardInterrupt  # the process dies while writing the second batch
        return real(self, paths, progress)

    monkeypatch.setattr(RAG, "add_documents", crash_on_the_second)
    with pytest.raises(KeyboardInterrupt):
        archive.build("t", docs, config, HashEmbedder(), batch_docs=2)
    monkeypatch.setattr(RAG, "add_documents", real)
    assert set(RAG.load(config, embedder=HashEmbedder()).index.documents) == {d.id for d in docs[:2]}
    bot, b = archive.build("t", docs, config, HashEmbedder(), batch_docs=2)
    assert (b.documents, b.batches, b.runs) == (5, 3, 2)  # 1 batch of the crashed run, 2 of the rerun


def test_measure_times_retrieval_and_answers_in_seconds_and_units(tmp_path):
    docs = archive_docs.read_archive(news_folder(tmp_path))
    (tmp_path / "empty").mkdir()
    config = Config(gate="", corpus_dir=tmp_path / "empty", index_dir=tmp_path / "index", generator="fake")
    bot, _ = archive.build("t", docs, config, HashEmbedder(), batch_docs=10)
    bot.set_generator(ScriptedGenerator(extractive), "fake")
    evidence = "An Ohio man was sentenced today to 40 months in prison for wire fraud."
    items = [{"id": "x1", "question": "How long was the Ohio man sentenced to for wire fraud?", "answers": ["40 months"],
              "answerable": True, "kind": "number", "doc_ids": ["doj-12"], "evidence": [evidence]},
             {"id": "x2", "question": "What did Acme agree to pay?", "answers": ["$3 million"], "answerable": True,
              "kind": "number", "doc_ids": ["doj-7"], "evidence": [], "as_of": "2009-12-31"}]
    m = archive.measure(bot, items, {"seconds": 2.0}, answers=True, generator="fake")
    assert m["questions"] == 2 and m["parts"]["retrieve"].p50_ms > 0
    assert m["retrieval_rows"][0]["evidence_rank"] is not None and m["retrieval_rows"][0]["doc_hit"]
    assert not m["retrieval_rows"][1]["doc_hit"]  # asked the day before Acme's release: it is not shown
    a = m["answers"]
    assert a["p50_unit"] == a["p50_s"] / 2.0 and a["rows"][0]["correct"] and a["rows"][1]["abstained"]
    assert bot.config.as_of == ""  # the day asked on is put back


def test_the_scaled_index_reaches_n_chunks_and_keeps_the_questions_sentences_to_their_documents(tmp_path):
    docs = archive_docs.read_archive(news_folder(tmp_path))
    (tmp_path / "empty").mkdir()
    config = Config(gate="", corpus_dir=tmp_path / "empty", index_dir=tmp_path / "index")
    bot, _ = archive.build("t", docs, config, HashEmbedder(), batch_docs=10)
    index, _, info = archive_scale.scaled_index(bot.index, 60, keep={"doj-12"}, index_type="flat")
    assert len(index.chunks) == info["chunks"] == 60 and info["archive_documents"] == 5
    filler = [d for d in index.documents.values() if d.id.startswith("filler-")]
    assert filler and all(d.published in {x.published for x in docs} for d in filler)
    own = archive_docs.doj_document(DOJ[0]).text
    assert not any("40 months in prison" in d.text for d in filler) and "40 months in prison" in own
    assert any("Zembla" in d.text for d in filler)  # other documents' sentences fill the rest


def test_the_questions_file_follows_the_eval_schema():
    items = [json.loads(line) for line in archive.QUESTIONS.read_text().splitlines() if line.strip()]
    assert len(items) == 30 and len({i["id"] for i in items}) == 30
    for i in items:
        assert set(i) >= {"id", "question", "answers", "answerable", "kind", "doc_ids", "evidence"}
        assert i["answerable"] == bool(i["answers"]) == bool(i["evidence"]) == bool(i["doc_ids"])
        assert len(i["evidence"]) <= 1  # one sentence quoted per question, no more
        if "as_of" in i:
            assert len(i["as_of"]) == 10 and i["as_of"][4] == i["as_of"][7] == "-"
    assert sum(not i["answerable"] for i in items) >= 3 and sum("as_of" in i for i in items) >= 3


def test_each_evidence_is_a_sentence_of_its_document_in_the_real_archive():
    from eval.metrics import alias_match
    from rag.text import sentence_spans

    try:
        folder = archive_docs.news_path()
    except archive_docs.DataMissing as exc:
        pytest.skip(str(exc))
    items = [json.loads(line) for line in archive.QUESTIONS.read_text().splitlines() if line.strip()]
    wanted = {d for i in items for d in i["doc_ids"]}
    docs = {}
    for source, make, key in (("doj", archive_docs.doj_document, "doj-{id}"),
                              ("wikipedia", archive_docs.wikipedia_document, "wiki-{date}")):
        for row in archive_docs.rows(folder, source):
            if key.format(**row) in wanted:
                d = make(row)
                docs[d.id] = d
    assert set(docs) == wanted
    for i in items:
        for e in i["evidence"]:
            sentences = {docs[d].text[a:b] for d in i["doc_ids"] for a, b in sentence_spans(docs[d].text)}
            assert e in sentences, i["id"]
            assert alias_match(e, i["answers"]), i["id"]
        if "as_of" in i:
            assert all(docs[d].published <= i["as_of"] for d in i["doc_ids"]), i["id"]
