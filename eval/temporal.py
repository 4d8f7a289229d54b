"""The temporal set (issue 16): questions whose right answer depends on the day they are asked.

    folder = materialize()                  # ~/.cache/rag-news/eval-sets/temporal-<hash>-v1/
    corpus/*.md                             # FOMC statements, the DOJ releases of some cases, distractors
    dev.jsonl, test.jsonl                   # questions: eval/questions.jsonl's schema plus the fields below
    score_temporal(item, answer, abstained) # {"correct", "stale", "future", "mentions_future"}

Built from the dated news in ../shared/datasets/news/ (or a folder given), once per content of its
files, with a fixed seed; nothing of it is kept in the repo. Each question is asked on `as_of`
(YYYY-MM-DD: run it with Config.as_of set to it): documents published after it are in the corpus but
must not be used. Besides id, question, answers, answerable, kind, doc_ids and evidence, an item has:

    as_of           the day it is asked on
    stale           aliases of other values true before the time asked about (the rate before the change)
    future          aliases of values stated only in documents published after as_of (the next change)
    future_doc_ids  those documents
    series          the unit of the dev/test split: an FOMC policy cycle or one DOJ case
    topic           what the value is of ("fomc-target", "doj-<first>-<last>"); set.json lists each
                    topic's documents with their dates and values
    source          fomc or doj
    period          on_date, change and unanswerable_before questions: the [first, last] day asked about

Kinds: latest (as_of soon after a change: the value then in force), after_as_of (as_of just before a
change: the older value; the newer one is `future`), on_date (the value in a month without a change),
change (the new value set in a month with one statement), value (a DOJ sentence), and the unanswerable
unanswerable_before (asked before the first report) and unanswerable_not_yet (a sentence not yet given
as of as_of). A DOJ case's value is its stage (charged, pleaded guilty, convicted, sentenced + term).
Every item is checked (`check`) before it is kept; an item that fails is dropped.

Scoring: `score_temporal`, not the plain alias rule: it compares numbers as values ("5-1/4 percent" is
"5.25%", and "4 percent" is not inside "4-1/4 percent", as eval/metrics.alias_match alone would find).

Sources and licences: FOMC statements (Federal Reserve) and DOJ press releases are works of the US
government, public domain in the US; Wikipedia's Portal:Current events is CC BY-SA 4.0, attributed in
each day's front matter ("Wikipedia contributors, Portal:Current events/<date>") and in set.json.
"""

from __future__ import annotations

import calendar
import datetime as dt
import hashlib
import json
import os
import random
import re
import shutil
import sys
import tempfile
from collections import Counter, defaultdict
from pathlib import Path

from eval import metrics
from eval.external import DataMissing, default_root
from eval import temporal_extract as tx

ROOT = Path(__file__).resolve().parents[1]  # the project
NEWS_DIR = ROOT.parent / "shared" / "datasets" / "news"
FILES = {"wikipedia": "wikipedia-current-events-2002-2019.jsonl", "fomc": "fomc-statements-1994-2016.jsonl",
         "doj": "doj-press-releases-2009-2018.jsonl"}
GET_IT = ("The temporal set is built from three JSON-lines files: Wikipedia's Portal:Current events 2002-2019 "
          "(CC BY-SA 4.0, from github.com/ianrastall/current-events-context), the FOMC's statements 1994-2016 "
          "(github.com/fomc/statements) and the Justice Department's press releases 2009-2018 "
          "(github.com/lennymd/news21-pressReleasesDOJ); see ../shared/datasets/README.md for their layout. "
          f"Put them in {NEWS_DIR} or pass folder=PATH")
FORMAT = 2  # of the cached folders: bump when build() changes what it writes (2: stages' noun forms)
SEED = 16  # issue 16
CASES = 20  # DOJ cases whose releases go in the corpus
DISTRACTORS = {"doj": 25, "wikipedia": 30}  # other releases and days, none about the set's topics
ALL_STATEMENTS_BEFORE = dt.date(2009, 1, 1)  # after it (the zero-bound years, long texts that restate one
#                                            value), only the statements within two of a change are kept
CHUNK_BUDGET = 1500  # estimated chunks of ~90 words: a 2-core laptop indexes this in minutes
LAST_DAY = {"fomc": dt.date(2016, 10, 31), "doj": dt.date(2018, 12, 31)}  # no as_of after: the data ends
PER_PART = {  # questions of each kind in each of dev and test
    "fomc": {"latest": 5, "after_as_of": 5, "on_date": 5, "change": 5, "unanswerable_before": 1},
    "doj": {"latest": 3, "after_as_of": 3, "value": 3, "on_date": 2, "unanswerable_not_yet": 2,
            "unanswerable_before": 1},
}
SERIES_CAP = {"fomc": 2, "doj": 2}  # FOMC: questions per (kind, value); DOJ: questions per case
OUTLETS = {"fomc": "Federal Reserve", "doj": "US Department of Justice", "wikipedia": "Wikipedia Current events"}
LICENCES = {"fomc": "public domain (work of the US federal government)",
            "doj": "public domain (work of the US federal government, 17 U.S.C. 105)",
            "wikipedia": "CC BY-SA 4.0"}
TOPIC_WORDS = re.compile(r"Federal Reserve|federal funds|interest rate|Open Market Committee|FOMC|Greenspan|Bernanke|"
                         r"Yellen|\bthe Fed\b", re.I)

Q_LATEST = ["What is the Federal Reserve's target for the federal funds rate?",
            "What is the FOMC's current target for the federal funds rate?",
            "Where is the Fed's federal funds rate target now?",
            "What is the latest target the Federal Open Market Committee has set for the federal funds rate?"]
Q_ON_DATE = ["What was the Fed's target for the federal funds rate in {month}?",
             "Where did the FOMC have its federal funds rate target in {month}?"]
Q_CHANGE = ["How did the FOMC change its target for the federal funds rate in {month}?",
            "What did the Federal Reserve do to its federal funds rate target in {month}?"]
Q_CASE = ["What is the latest in the case against {name}?", "Where does the case against {name} stand now?",
          "What is the current status of the federal case against {name}?"]
Q_CASE_ON = ["Where did the case against {name} stand in {month}?",
             "What stage was the federal case against {name} at in {month}?"]
Q_TERM = ["What sentence did {name} receive?", "How long a prison sentence did {name} get?"]


# ---------------------------------------------------------------- where the data is, and the cache

def temporal_path(folder: str | Path | None = None) -> Path:
    """The folder with the three news files: `folder`, else ../shared/datasets/news; DataMissing if absent."""
    chosen = Path(folder).expanduser() if folder else NEWS_DIR
    missing = [name for name in FILES.values() if not (chosen / name).is_file()]
    if missing:
        raise DataMissing(f"{', '.join(missing)} not found in {chosen}. {GET_IT}.")
    return chosen


def materialize(folder: str | Path | None = None, root: Path | None = None) -> Path:
    """The built set's folder, built (and its counts printed) if this content of the files was not built yet."""
    src = temporal_path(folder)
    digest = hashlib.sha256()
    for name in FILES.values():
        digest.update(name.encode() + b"\0" + (src / name).read_bytes())
    out = (root or default_root()) / f"temporal-{digest.hexdigest()[:16]}-v{FORMAT}"
    if (out / "set.json").is_file():
        return out
    docs, parts, meta = build(src)
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".temporal-", dir=out.parent))  # then renamed: never half-written
    (work / "corpus").mkdir()
    for doc in docs.values():
        (work / "corpus" / f"{doc['id']}.md").write_text(markdown(doc), encoding="utf-8")
    for part, rows in parts.items():
        (work / f"{part}.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
                                            encoding="utf-8")
    (work / "set.json").write_text(json.dumps(meta, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    try:
        os.rename(work, out)
    except OSError:  # another process built it first: theirs is the same
        if not (out / "set.json").is_file():
            raise
        shutil.rmtree(work, ignore_errors=True)
    return out


def markdown(doc: dict) -> str:
    head = {k: doc[k] for k in ("title", "outlet", "published", "url")}
    if doc["source"] == "wikipedia":
        head |= {"licence": "CC BY-SA 4.0", "attribution": doc["attribution"]}
    lines = "".join(f"{k}: {json.dumps(v, ensure_ascii=False)}\n" for k, v in head.items())
    return f"---\n{lines}---\n\n{doc['body']}\n"


# ---------------------------------------------------------------- scoring

def score_temporal(item: dict, answer_text: str, abstained: bool) -> dict:
    """Right when an accepted alias is in the answer (a decline is right exactly when unanswerable).
    An answer without one that gives a `stale` value is flagged stale, one that gives a `future` value
    future; `mentions_future` says a future value is given at all (even beside the right one).
    Numbers are compared as values: "5-1/4 percent", "5 1/4%" and "5.25 percent" are one.

    >>> item = {"answerable": True, "answers": ["2 percent"], "stale": ["2-1/4 percent"], "future": ["1 percent"]}
    >>> score_temporal(item, "The target is 2.25% [1].", False)
    {'correct': False, 'stale': True, 'future': False, 'mentions_future': False}
    >>> score_temporal(item, "It was cut from 2 1/4 to 2 percent [1].", False)["correct"]
    True
    """
    if abstained:
        return {"correct": not item["answerable"], "stale": False, "future": False, "mentions_future": False}
    text = tx.canon(answer_text)
    right = item["answerable"] and matches(text, item["answers"])
    stale, future = matches(text, item.get("stale") or []), matches(text, item.get("future") or [])
    return {"correct": right, "stale": stale and not right, "future": future and not right, "mentions_future": future}


def matches(text: str, aliases: list) -> bool:
    """eval/metrics.alias_match with numbers compared as values (tx.canon on both sides)."""
    if not aliases:
        return False
    if isinstance(aliases[0], list):
        return metrics.alias_match(tx.canon(text), [[tx.canon(a) for a in g] for g in aliases])
    return metrics.alias_match(tx.canon(text), [tx.canon(a) for a in aliases])


def flat(aliases: list) -> list[str]:
    return [a for g in aliases for a in g] if aliases and isinstance(aliases[0], list) else list(aliases)


# ---------------------------------------------------------------- the checks every item passes

def check(item: dict, docs: dict, topics: dict) -> list[str]:
    """What is wrong with an item ([] = nothing): evidence verbatim in its document, the answer in the
    evidence, the evidence document the newest of its topic on or before as_of (latest, after_as_of) or
    the time asked (on_date), future values only in documents after as_of, aliases that do not overlap."""
    bad = []
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", item["as_of"]):
        return [f"as_of {item['as_of']!r} is not YYYY-MM-DD"]
    as_of = dt.date.fromisoformat(item["as_of"])
    series = sorted(topics[item["topic"]], key=lambda e: e[1])
    known = [e for e in series if dt.date.fromisoformat(e[1]) <= as_of]
    if item["answerable"]:
        if not item["doc_ids"] or len(item["doc_ids"]) != len(item["evidence"]):
            return ["an answerable item needs a document and an evidence sentence for each"]
        for doc_id, quote in zip(item["doc_ids"], item["evidence"]):
            if doc_id not in docs or quote not in docs[doc_id]["body"]:
                bad.append(f"evidence not verbatim in {doc_id}")
            elif dt.date.fromisoformat(docs[doc_id]["published"]) > as_of:
                bad.append(f"{doc_id} is published after as_of")
        if not matches(" ".join(item["evidence"]), item["answers"]):
            bad.append("the answer is not in the evidence")
        end = dt.date.fromisoformat(item["period"][1]) if "period" in item else as_of
        if end > as_of:
            bad.append("the period asked about ends after as_of")
        newest = [e for e in series if dt.date.fromisoformat(e[1]) <= end]
        if item["kind"] in ("latest", "after_as_of", "on_date") and (not newest or newest[-1][0] != item["doc_ids"][0]):
            bad.append("the evidence is not the newest document of its topic at the time asked")
        if item["kind"] == "change":
            start = dt.date.fromisoformat(item["period"][0])
            inside = [e for e in series if start <= dt.date.fromisoformat(e[1]) <= end]
            earlier = [e for e in series if dt.date.fromisoformat(e[1]) < start]
            if [e[0] for e in inside] != item["doc_ids"] or not earlier or earlier[-1][2] == inside[0][2]:
                bad.append("the month asked about does not hold exactly one statement, one that changes the value")
        if item["kind"] == "on_date":
            start = dt.date.fromisoformat(item["period"][0])
            inside = {e[2] for e in series if start <= dt.date.fromisoformat(e[1]) <= end}
            if inside - {newest[-1][2]}:
                bad.append("the value changes within the period asked about")
    else:
        if item["doc_ids"] or item["evidence"]:
            bad.append("an unanswerable item has no evidence")
        if item["kind"] == "unanswerable_before":
            end = dt.date.fromisoformat(item["period"][1]) if "period" in item else as_of
            if any(dt.date.fromisoformat(e[1]) <= end for e in series):
                bad.append("a document of its topic exists by the time asked")
        if item["future"] and any(matches(docs[e[0]]["body"], item["future"]) for e in known):
            bad.append("a 'future' value is already in a document published by as_of")
    for doc_id in item["future_doc_ids"]:
        if dt.date.fromisoformat(docs[doc_id]["published"]) <= as_of:
            bad.append(f"future document {doc_id} is not after as_of")
    if item["future"] and not matches(" ".join(docs[d]["body"] for d in item["future_doc_ids"]), item["future"]):
        bad.append("the future value is in none of the future documents")
    for a in flat(item["answers"]):
        if matches(a, item["stale"] + item["future"]):
            bad.append(f"answer alias {a!r} contains a stale or future alias")
    if item["stale"] and not matches(" ".join(docs[e[0]]["body"] for e in known), item["stale"]):
        bad.append("no stale value is in a document published by as_of")
    for a in item["stale"] + item["future"]:
        if matches(a, flat(item["answers"])):
            bad.append(f"stale/future alias {a!r} contains an answer")
    return bad


# ---------------------------------------------------------------- building

def build(src: Path) -> tuple[dict, dict, dict]:
    """(documents by id, {"dev": items, "test": items}, set.json's meta) from the three files."""
    rng = random.Random(SEED)
    read = lambda key: [json.loads(line) for line in (src / FILES[key]).open(encoding="utf-8")]  # noqa: E731
    docs, topics, cands, rejected = {}, {}, [], Counter()
    fomc_docs, fomc_topic, fomc_cands = fomc_part(read("fomc"), rng)
    docs |= fomc_docs
    topics["fomc-target"] = fomc_topic
    cands += fomc_cands
    doj_rows = read("doj")
    doj_docs, doj_topics, doj_cands, names = doj_part(doj_rows, rng)
    docs |= doj_docs
    topics |= doj_topics
    cands += doj_cands
    docs |= distractors(doj_rows, read("wikipedia"), set(docs), names, rng)
    kept = []
    for c in cands:
        problems = check(c, docs, topics)
        rejected.update(problems[:1])
        if not problems:
            kept.append(c)
    parts = split_and_pick(kept, rng)
    chunks = sum(tx.estimate_chunks(d["body"]) for d in docs.values())
    meta = summary(src, docs, parts, topics, chunks, rejected, len(cands))
    print(f"temporal set: {len(docs)} documents {dict(meta['documents'])}, about {chunks} chunks; "
          f"{len(cands)} candidate questions, {len(cands) - len(kept)} rejected; "
          + "; ".join(f"{p} {len(rows)} {dict(Counter(r['kind'] for r in rows))}" for p, rows in parts.items()),
          file=sys.stderr)
    if chunks > CHUNK_BUDGET:
        raise ValueError(f"the temporal corpus would be about {chunks} chunks, over its budget of {CHUNK_BUDGET}: "
                         f"lower CASES or DISTRACTORS in eval/temporal.py")
    return docs, parts, meta


def _day(d: dt.date, n: int) -> dt.date:
    return d + dt.timedelta(days=n)


def _month(d: dt.date) -> str:
    return f"{calendar.month_name[d.month]} {d.year}"


def _month_span(year: int, month: int) -> tuple[dt.date, dt.date]:
    return dt.date(year, month, 1), dt.date(year, month, calendar.monthrange(year, month)[1])


def _item(source, kind, question, as_of, series, topic, *, answers=(), doc_ids=(), evidence=(), stale=(), future=(),
          future_doc_ids=(), period=None) -> dict:
    item = {"id": "", "question": question, "answers": list(answers), "answerable": bool(answers), "kind": kind,
            "doc_ids": list(doc_ids), "evidence": list(evidence), "as_of": as_of.isoformat(),
            "stale": list(dict.fromkeys(stale)), "future": list(dict.fromkeys(future)),
            "future_doc_ids": list(dict.fromkeys(future_doc_ids)), "series": series, "topic": topic, "source": source}
    if period:
        item["period"] = [period[0].isoformat(), period[1].isoformat()]
    return item


def fomc_part(rows: list[dict], rng: random.Random) -> tuple[dict, list, list]:
    """The statements that set or keep a target (one document each), the topic's timeline, and the
    candidate questions. A move that does not follow from the statement before (a statement missing
    from the data: 8 October 2008) leaves the days between them unknown: nothing is asked there."""
    all_dates = sorted({dt.date.fromisoformat(r["date"]) for r in rows})
    read = []  # (date, doc, Target, follows the statement before)
    for r in sorted(rows, key=lambda r: r["date"]):
        body = tx.reflow(r["text"])
        target = tx.fomc_target(body) if r["kind"] == "statement" else None
        if target is None:
            continue
        d = dt.date.fromisoformat(r["date"])
        doc = {"id": f"fomc-{d.isoformat()}", "title": f"FOMC statement, {d:%B} {d.day}, {d.year}",
               "outlet": OUTLETS["fomc"], "published": d.isoformat(), "url": r["url"], "body": body, "source": "fomc"}
        read.append((d, doc, target, bool(read) and tx.follows(read[-1][2].value, target)))
    unread = {d for d in all_dates if read[0][0] < d and d not in {s[0] for s in read}}  # no target read
    moves = [i for i in range(1, len(read)) if read[i][2].value != read[i - 1][2].value]
    keep = [i for i in range(len(read)) if read[i][0] < ALL_STATEMENTS_BEFORE or i == len(read) - 1
            or any(abs(i - m) <= 2 for m in moves)]
    steps = [(*read[k][:3], k > 0 and all(read[m][3] for m in range(prev + 1, k + 1)))  # the skipped ones only hold
             for prev, k in zip([-1] + keep, keep)]
    docs = {s[1]["id"]: s[1] for s in steps}
    timeline = [[s[1]["id"], s[0].isoformat(), tx.label(s[2].value)] for s in steps]
    cycle, direction, cycles = 0, 0, []
    for i, (d, _, t, _) in enumerate(steps):
        move = 0 if i == 0 else (t.value[1] > steps[i - 1][2].value[1]) - (t.value[1] < steps[i - 1][2].value[1])
        if move and direction and move != direction:
            cycle += 1
        direction = move or direction
        cycles.append(cycle)
    names = {c: f"fomc-{steps[cycles.index(c)][0].year}-{steps[len(cycles) - 1 - cycles[::-1].index(c)][0].year}"
             for c in set(cycles)}
    series = lambda i: names[cycles[i]]  # noqa: E731
    val = lambda i: steps[i][2].value  # noqa: E731

    def index_at(d):  # the newest step on or before d, or None
        found = [i for i, s in enumerate(steps) if s[0] <= d]
        return found[-1] if found else None

    def known(d):  # the value on day d is certain: no unexplained move before the next step
        i = index_at(d)
        return i is not None and (i + 1 == len(steps) or steps[i + 1][3] or d == steps[i][0])

    def before(i, n=2):  # distinct earlier values, newest first
        out = []
        for j in range(i - 1, -1, -1):
            if val(j) != val(i) and val(j) not in out:
                out.append(val(j))
        return out[:n]

    def after(d, exclude, n=2):  # the next values stated after d, and their first documents
        out, ids = [], []
        for s in steps:
            if s[0] > d and s[2].value != exclude and s[2].value not in out:
                out.append(s[2].value)
                ids.append(s[1]["id"])
        return out[:n], ids[:n]

    def aliases(values):
        return [a for v in values for a in tx.rate_aliases(v)]

    def ask(kind, question, as_of, i, stale, *, period=None, unanswerable=False):
        """A value both older and newer (the rate went 5, 5-1/4, back to 5) is `future` in an after_as_of
        question, which is about what comes next, and `stale` in the others."""
        fut, fut_ids = after(as_of, None if unanswerable else val(i))
        if kind == "after_as_of":
            stale = [v for v in stale if v not in fut]
        else:
            fut_ids = [x for v, x in zip(fut, fut_ids) if v not in stale]
            fut = [v for v in fut if v not in stale]
        doc = steps[i][1]
        return _item("fomc", kind, question, as_of, series(i), "fomc-target",
                     answers=() if unanswerable else tx.rate_aliases(val(i)),
                     doc_ids=() if unanswerable else [doc["id"]], evidence=() if unanswerable else [steps[i][2].sentence],
                     stale=aliases(stale), future=aliases(fut), future_doc_ids=fut_ids, period=period)

    out = []
    for i, (d, doc, t, _) in enumerate(steps):
        nxt = steps[i + 1][0] if i + 1 < len(steps) else min(_day(d, 40), LAST_DAY["fomc"])
        gap = (nxt - d).days
        if gap >= 3 and (i + 1 == len(steps) or steps[i + 1][3]) and before(i):
            as_of = _day(d, rng.randint(1, max(1, (gap - 1) // 2)))
            out.append(ask("latest", rng.choice(Q_LATEST), as_of, i, before(i)))
        gap_before = (d - steps[i - 1][0]).days if i else 0
        if i and t.value != val(i - 1) and steps[i][3] and gap_before >= 3:
            as_of = _day(d, -rng.randint(1, min(21, gap_before - 1)))
            out.append(ask("after_as_of", rng.choice(Q_LATEST), as_of, i - 1, before(i - 1)))
            month = {x for x in all_dates if (x.year, x.month) == (d.year, d.month)}
            if month == {d}:
                period = _month_span(d.year, d.month)
                as_of = _day(period[1], rng.randint(1, 30))
                out.append(ask("change", rng.choice(Q_CHANGE).format(month=_month(d)), as_of, i, [val(i - 1)],
                               period=period))
    first, last = steps[0][0], steps[-1][0]
    y, m = first.year, first.month
    while (y, m) < (last.year, last.month):
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
        start, end = _month_span(y, m)
        i, j = index_at(start), index_at(end)
        if not (known(start) and known(end)) or any(start <= x <= end for x in unread):
            continue
        if any(val(k) != val(i) for k in range(i, j + 1)) or any(not steps[k][3] for k in range(i + 1, j + 1)):
            continue
        as_of = min(_day(end, rng.randint(90, 1500)), LAST_DAY["fomc"])
        k = index_at(as_of)
        if val(k) == val(j) or not known(as_of):
            continue
        out.append(ask("on_date", rng.choice(Q_ON_DATE).format(month=_month(start)), as_of, j, before(j),
                       period=(start, end)))
    as_of = _day(first, -rng.randint(30, 200))
    out.append(ask("unanswerable_before", rng.choice(Q_LATEST), as_of, 0, [], unanswerable=True))
    y, m = divmod(first.year * 12 + first.month - 1 - rng.randint(12, 30), 12)
    start, end = _month_span(y, m + 1)
    item = ask("unanswerable_before", rng.choice(Q_ON_DATE).format(month=_month(start)), _day(first, rng.randint(400, 2000)),
               0, [], period=(start, end), unanswerable=True)
    out.append(item | {"future": [], "future_doc_ids": []})
    return docs, timeline, out


def doj_part(rows: list[dict], rng: random.Random) -> tuple[dict, dict, list, list]:
    """The releases of CASES cases (a seeded choice, three-stage cases first), their timelines, the
    candidate questions and the defendants' names."""
    cases, why = doj_cases(rows)
    print("DOJ: " + ", ".join(f"{k} {v}" for k, v in why.items()), file=sys.stderr)
    rng.shuffle(cases)
    cases.sort(key=lambda c: -min(len(c), 3))  # stable: three stages first, seeded order within
    cases = cases[:CASES]
    docs, topics, out = {}, {}, []
    for case in sorted(cases, key=lambda c: c[0][1].key):
        first, last = case[0][1].key
        topic = f"doj-{first}-{last}"
        name = case[0][1].name
        stages = []
        for row, rel, body in case:
            d = dt.date.fromisoformat(row["date"])
            doc = {"id": f"doj-{row['id']}", "title": " ".join(row["title"].split()), "outlet": OUTLETS["doj"],
                   "published": d.isoformat(), "url": row["url"], "body": body, "source": "doj"}
            docs[doc["id"]] = doc
            stages.append((d, doc, rel))
        topics[topic] = [[s[1]["id"], s[0].isoformat(), s[2].stage] for s in stages]
        out += case_questions(stages, name, topic, rng)
    return docs, topics, out, [c[0][1].key for c in cases]


def stage_answers(rel: tx.Release) -> list:
    if rel.stage == "sentenced":
        return [tx.STAGE_ALIASES["sentenced"], tx.term_aliases(rel.months)]
    return tx.STAGE_ALIASES[rel.stage]


def stage_future(rel: tx.Release) -> list[str]:
    """What must not be said before this release: its term, or its stage (not 'sentenced' alone, which
    'faces sentencing' and 'has not been sentenced' would also say)."""
    return tx.term_aliases(rel.months) if rel.stage == "sentenced" else tx.STAGE_ALIASES[rel.stage]


def case_questions(stages: list, name: str, topic: str, rng: random.Random) -> list[dict]:
    out, n = [], len(stages)
    last_day = LAST_DAY["doj"]

    def ask(kind, question, as_of, j, *, period=None, unanswerable=False, future_from=None, answers=None):
        d, doc, rel = stages[j]
        fut = [s for s in stages if s[0] > as_of] if future_from is None else future_from
        return _item("doj", kind, question, as_of, topic, topic,
                     answers=() if unanswerable else (answers or stage_answers(rel)),
                     doc_ids=() if unanswerable else [doc["id"]], evidence=() if unanswerable else [rel.sentence],
                     stale=[] if unanswerable else [a for s in stages[:j] for a in tx.STAGE_ALIASES[s[2].stage]],
                     future=[a for s in fut for a in stage_future(s[2])], future_doc_ids=[s[1]["id"] for s in fut],
                     period=period)

    d_last = stages[-1][0]
    if d_last < last_day:
        out.append(ask("latest", rng.choice(Q_CASE).format(name=name),
                       min(_day(d_last, rng.randint(1, 180)), last_day), n - 1))
    for j in range(n - 1):
        gap = (stages[j + 1][0] - stages[j][0]).days
        if gap < 3:
            continue
        if j:
            out.append(ask("latest", rng.choice(Q_CASE).format(name=name),
                           _day(stages[j][0], rng.randint(1, (gap - 1) // 2)), j))
        out.append(ask("after_as_of", rng.choice(Q_CASE).format(name=name),
                       _day(stages[j + 1][0], -rng.randint(1, min(30, gap - 1))), j))
        months = []
        day = dt.date(stages[j][0].year, stages[j][0].month, 1)
        while day < stages[j + 1][0]:
            start, end = _month_span(day.year, day.month)
            if start > stages[j][0] and end < stages[j + 1][0]:
                months.append((start, end))
            day = _day(end, 1)
        if months:
            period = rng.choice(months)
            as_of = min(_day(d_last, rng.randint(30, 365)), last_day)
            out.append(ask("on_date", rng.choice(Q_CASE_ON).format(name=name, month=_month(period[0])), as_of, j,
                           period=period, future_from=[]))
    for j, (d, doc, rel) in enumerate(stages):
        if rel.stage != "sentenced":
            continue
        term = tx.term_aliases(rel.months)
        out.append(ask("value", rng.choice(Q_TERM).format(name=name), min(_day(d, rng.randint(1, 365)), last_day), j,
                       answers=term))
        if j:
            gap = (d - stages[j - 1][0]).days
            if gap >= 3:
                out.append(ask("unanswerable_not_yet", rng.choice(Q_TERM).format(name=name),
                               _day(stages[j - 1][0], rng.randint(1, gap - 1)), j, unanswerable=True,
                               future_from=[stages[j]]))
    out.append(ask("unanswerable_before", rng.choice(Q_CASE).format(name=name),
                   _day(stages[0][0], -rng.randint(30, 365)), 0, unanswerable=True, future_from=stages[:1]))
    return out


def doj_cases(rows: list[dict]) -> tuple[list[list], Counter]:
    """Cases of one defendant each: [(row, Release, body)] in date order, kept only when clear: two or
    more releases, stages in order (charged, then pleaded or convicted, then sentenced) with no stage
    twice, under three years apart, a sentencing that recalls the plea or verdict, and no other release
    in the whole set naming the defendant (a co-defendant's release could say more than the case's own).
    Also how many releases and defendants were read, and why cases were left out."""
    groups, why = defaultdict(list), Counter()
    for row in rows:
        if tx.one_stage(row["title"]) is None:
            continue
        body = tx.clean_release(row["text"])
        rel = tx.doj_release(row["title"], body)
        if rel is not None:
            groups[rel.key].append((row, rel, body))
    why["releases about one defendant"] = sum(map(len, groups.values()))
    why["defendants"] = len(groups)
    valid = {}
    for key, group in groups.items():
        group.sort(key=lambda g: (g[0]["date"], g[0]["id"]))
        order = [tx.STAGE_ORDER[g[1].stage] for g in group]
        dates = [dt.date.fromisoformat(g[0]["date"]) for g in group]
        if len(group) < 2:
            continue
        said = {g[1].stage for g in group}
        recall = r"\b(?:pleaded|pled) guilty\b" if "pleaded" in said else r"\b(?:convicted|found guilty)\b"
        if order != sorted(set(order)) or len(set(dates)) != len(dates):
            why["left out: stages out of order or repeated"] += 1
        elif any((b - a).days > 1100 for a, b in zip(dates, dates[1:])):
            why["left out: releases over three years apart"] += 1
        elif "sentenced" in said and said & {"pleaded", "convicted"} and not re.search(recall, group[-1][2]):
            why["left out: the sentencing does not recall the plea or verdict"] += 1
        else:
            valid[key] = group
    wanted = {k for key in valid for k in key}
    naming = defaultdict(set)  # (first, last) -> ids of the releases with both words
    for row in rows:
        words = wanted & set(re.findall(r"[a-z]+", row["text"].lower()))
        for key in valid:
            if key[0] in words and key[1] in words:
                naming[key].add(row["id"])
    by_id = {r["id"]: r for r in rows}
    out = []
    for key, group in sorted(valid.items()):
        others = naming[key] - {g[0]["id"] for g in group}
        if any(tx.mentions(key, by_id[i]["text"]) for i in sorted(others)):
            why["left out: another release names the defendant"] += 1
        else:
            out.append(group)
    why["cases kept"] = len(out)
    return out, why


def distractors(doj_rows: list[dict], wiki_rows: list[dict], taken: set, names: list, rng: random.Random) -> dict:
    """DISTRACTORS releases and Wikipedia days that name none of the defendants and nothing about the Fed."""
    def clear(text):
        return not TOPIC_WORDS.search(text) and not any(tx.mentions(k, text) for k in names)

    docs = {}
    pool = [r for r in doj_rows if f"doj-{r['id']}" not in taken and 150 <= len(r["text"].split()) <= 400]
    rng.shuffle(pool)
    for row in pool:
        if len([d for d in docs if d.startswith("doj-")]) == DISTRACTORS["doj"]:
            break
        body = tx.clean_release(row["text"])
        if clear(body + row["title"]):
            docs[f"doj-{row['id']}"] = {"id": f"doj-{row['id']}", "title": " ".join(row["title"].split()),
                                        "outlet": OUTLETS["doj"], "published": row["date"], "url": row["url"],
                                        "body": body, "source": "doj"}
    pool = [r for r in wiki_rows if "1999-06-01" <= r["date"] <= "2018-12-31"]
    rng.shuffle(pool)
    for row in pool:
        if len([d for d in docs if d.startswith("wiki-")]) == DISTRACTORS["wikipedia"]:
            break
        body = "\n\n".join(f"## {cat}\n\n" + "\n".join(f"- {' '.join(e.split())}" for e in entries)
                           for cat, entries in row["categories"].items() if entries)
        if not 100 <= len(body.split()) <= 500 or not clear(body):
            continue
        d = dt.date.fromisoformat(row["date"])
        page = f"{d.year} {d:%B} {d.day}"
        docs[f"wiki-{row['date']}"] = {"id": f"wiki-{row['date']}", "title": f"Current events, {d:%B} {d.day}, {d.year}",
                                       "outlet": OUTLETS["wikipedia"], "published": row["date"], "url": row["url"],
                                       "body": body, "source": "wikipedia",
                                       "attribution": f"Wikipedia contributors, Portal:Current events/{page}"}
    return docs


def split_and_pick(cands: list[dict], rng: random.Random) -> dict[str, list[dict]]:
    """Series go whole to dev or test (seeded, balancing their candidate counts); then PER_PART questions
    of each kind are drawn in each part, at most SERIES_CAP from one case (DOJ) or one value (FOMC)."""
    parts = {"dev": [], "test": []}
    for source in PER_PART:
        weight = Counter(c["series"] for c in cands if c["source"] == source)
        order = sorted(weight)
        rng.shuffle(order)
        side, load = {}, {"dev": 0, "test": 0}
        for s in order:
            side[s] = min(load, key=lambda p: (load[p], p))
            load[side[s]] += weight[s]
        for part in parts:
            for kind, n in PER_PART[source].items():
                pool = [c for c in cands if c["source"] == source and c["kind"] == kind and side[c["series"]] == part]
                rng.shuffle(pool)
                used, seen = Counter(), {(c["question"], c["as_of"]) for c in parts[part]}
                cap_key = (lambda c: c["series"]) if source == "doj" else (lambda c: (c["kind"], str(c["answers"][:1])))
                for c in parts[part]:
                    if c["source"] == source:
                        used[cap_key(c)] += source == "doj"
                for c in pool:
                    if sum(x["kind"] == kind and x["source"] == source for x in parts[part]) == n:
                        break
                    if used[cap_key(c)] < SERIES_CAP[source] and (c["question"], c["as_of"]) not in seen:
                        used[cap_key(c)] += 1
                        seen.add((c["question"], c["as_of"]))
                        parts[part].append(c)
    for part, rows in parts.items():
        rows.sort(key=lambda c: (list(PER_PART[c["source"]]).index(c["kind"]), c["source"], c["as_of"], c["question"]))
        for n, row in enumerate(rows, 1):
            row["id"] = f"t{part[0]}{n:03d}"
    return parts


def summary(src, docs, parts, topics, chunks, rejected, candidates) -> dict:
    return {
        "scoring": "temporal", "source": str(src), "seed": SEED, "format": FORMAT,
        "files": {k: {"name": v, "sha256": hashlib.sha256((src / v).read_bytes()).hexdigest()} for k, v in FILES.items()},
        "licences": {OUTLETS[k]: v for k, v in LICENCES.items()},
        "attribution": "Wikipedia days: Wikipedia contributors, Portal:Current events/<date> (CC BY-SA 4.0), "
                       "https://en.wikipedia.org/wiki/Portal:Current_events ; FOMC statements: Board of Governors "
                       "of the Federal Reserve System; press releases: US Department of Justice, Office of Public "
                       "Affairs",
        "documents": dict(sorted(Counter(d["source"] for d in docs.values()).items())),
        "chunks_estimated": chunks,
        "questions": {p: dict(sorted(Counter(r["kind"] for r in rows).items())) for p, rows in parts.items()},
        "series": {p: sorted({r["series"] for r in rows}) for p, rows in parts.items()},
        "candidates": candidates, "rejected": dict(sorted(rejected.items())),
        "topics": dict(sorted(topics.items())),
    }
