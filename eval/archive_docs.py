"""The real news archive as Documents: the Justice Department's press releases and Wikipedia's
current-events days, read from ../shared/datasets/news/ (or a folder given), never copied into the repo.

    >>> row = {"id": 7, "date": "2011-03-02", "title": "Ohio Man  Sentenced", "url": "https://www.justice.gov/opa/pr/x",
    ...        "text": "WASHINGTON  A man was sentenced today.NoneNone He will serve 5 years.None"}
    >>> d = doj_document(row)
    >>> (d.id, d.title, d.outlet, d.published, d.text)
    ('doj-7', 'Ohio Man Sentenced', 'US Department of Justice', '2011-03-02', 'WASHINGTON A man was sentenced today.\\n\\nHe will serve 5 years.')
    >>> day = {"date": "2011-03-11", "url": "https://en.wikipedia.org/wiki/Portal:Current_events/2011_March_11",
    ...        "categories": {"Disasters": ["An earthquake strikes Japan. (BBC)"], "Sports": []}}
    >>> w = wikipedia_document(day)
    >>> (w.id, w.title, w.author, w.text)
    ('wiki-2011-03-11', 'Current events, March 11, 2011', 'Wikipedia contributors, Portal:Current events/2011 March 11', '## Disasters\\n\\nAn earthquake strikes Japan. (BBC)')

Each becomes a small Markdown file with front matter (title, outlet, published, url, author) read by the
product's own parser (rag.ingest.parse_markdown), so a Document here is what `rag index add` would make of
that file: the same cleaning, the same sha256 of the text, the same id rule (the slug of the file name).
Ids are stable and unique: `doj-<release id>` and `wiki-<date>`, as in the temporal set (eval/temporal.py).

Licences: the press releases are works of the US government, public domain in the US (17 U.S.C. 105);
Wikipedia's Portal:Current events is CC BY-SA 4.0, attributed in each day's `author` ("Wikipedia
contributors, Portal:Current events/<date>") with the day's URL.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Iterator

from eval.external import DataMissing
from eval.temporal_extract import clean_release
from rag.ingest import parse_markdown
from rag.types import Document

_NONE_RUN = re.compile(r"(?:\s*None){2,}\s*")  # what the scrape left of a list or a table
_NONE_AT_END = re.compile(r"(?<=[.!?\"])\s*None\s*$")
_NONE_BETWEEN = re.compile(r"(?<=[.!?\"])\s*None\s+(?=[A-Z\"])")  # "... today. None Crowley pleaded ..."

ROOT = Path(__file__).resolve().parents[1]  # the project
NEWS_DIR = ROOT.parent / "shared" / "datasets" / "news"
FILES = {"doj": "doj-press-releases-2009-2018.jsonl", "wikipedia": "wikipedia-current-events-2002-2019.jsonl"}
OUTLETS = {"doj": "US Department of Justice", "wikipedia": "Wikipedia Current events"}
LICENCES = {"doj": "public domain in the US (works of the US federal government, 17 U.S.C. 105)",
            "wikipedia": "CC BY-SA 4.0 (Wikipedia contributors, Portal:Current events/<date>)"}
GET_IT = ("The archive is two JSON-lines files: the Justice Department's press releases 2009-2018 "
          "(github.com/lennymd/news21-pressReleasesDOJ) and Wikipedia's Portal:Current events 2002-2019 "
          "(CC BY-SA 4.0, github.com/ianrastall/current-events-context); see ../shared/datasets/README.md. "
          f"Put them in {NEWS_DIR} or pass --news PATH")


def news_path(folder: str | Path | None = None) -> Path:
    """The folder with the two files: `folder`, else ../shared/datasets/news; DataMissing if absent."""
    chosen = Path(folder).expanduser() if folder else NEWS_DIR
    missing = [name for name in FILES.values() if not (chosen / name).is_file()]
    if missing:
        raise DataMissing(f"{', '.join(missing)} not found in {chosen}. {GET_IT}.")
    return chosen


def _from_markdown(name: str, head: dict, body: str, source: str) -> Document:
    front = "".join(f"{k}: {json.dumps(v, ensure_ascii=False)}\n" for k, v in head.items() if v)
    doc = parse_markdown(f"---\n{front}---\n\n{body}\n", f"{name}.md")
    return Document(**{**doc.__dict__, "source": source})


def doj_document(row: dict, file_name: str = FILES["doj"]) -> Document:
    """One press release; its paragraphs restored (the scrape glued them with "None": eval/temporal_extract.py),
    runs of "None" left where it lost a list or a table read as a paragraph break, a trailing one dropped."""
    head = {"title": " ".join(row["title"].split()), "outlet": OUTLETS["doj"], "published": row["date"],
            "url": row["url"]}
    text = _NONE_BETWEEN.sub("\n\n", _NONE_AT_END.sub("", _NONE_RUN.sub("\n\n", row["text"])))
    return _from_markdown(f"doj-{row['id']}", head, clean_release(text), f"{file_name}#{row['id']}")


def wikipedia_document(row: dict, file_name: str = FILES["wikipedia"]) -> Document:
    """One day: each category a heading (none for "Uncategorized"), each entry a paragraph line."""
    day = dt.date.fromisoformat(row["date"])
    parts = []
    for category, entries in row["categories"].items():
        lines = [" ".join(e.split()) for e in entries if e.strip()]
        if lines:
            heading = "" if category == "Uncategorized" else f"## {' '.join(category.split())}\n\n"
            parts.append(heading + "\n".join(lines))
    head = {"title": f"Current events, {day:%B} {day.day}, {day.year}", "outlet": OUTLETS["wikipedia"],
            "published": row["date"], "url": row["url"],
            "author": f"Wikipedia contributors, Portal:Current events/{day.year} {day:%B} {day.day}"}
    return _from_markdown(f"wiki-{row['date']}", head, "\n\n".join(parts), f"{file_name}#{row['date']}")


def rows(folder: Path, source: str) -> Iterator[dict]:
    with open(folder / FILES[source], encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


def read_archive(folder: str | Path | None = None, limit: int = 0, first: tuple[str, ...] = ()) -> list[Document]:
    """Every release and day as a Document, oldest first (ties by id); with `limit`, the documents named in
    `first` (the questions' own) and then others at an even stride up to `limit` documents in all (only
    those are parsed). Documents with fewer than 3 words (an empty day) are left out, as `rag index add`
    would skip them."""
    folder = news_path(folder)
    keyed = [((r["date"], f"doj-{r['id']}"), doj_document, r) for r in rows(folder, "doj")]
    keyed += [((r["date"], f"wiki-{r['date']}"), wikipedia_document, r) for r in rows(folder, "wikipedia")]
    keyed.sort(key=lambda k: k[0])
    ids = [k[0][1] for k in keyed]
    if len(set(ids)) != len(ids):
        raise ValueError("two archive rows give the same document id")
    if limit and limit < len(keyed):
        wanted = set(first)
        chosen = [k for k in keyed if k[0][1] in wanted][:limit]
        rest = [k for k in keyed if k[0][1] not in wanted]
        need = limit - len(chosen)
        keyed = sorted(chosen + ([rest[i * len(rest) // need] for i in range(need)] if need > 0 else []),
                       key=lambda k: k[0])
    docs = (make(row) for _, make, row in keyed)
    return [d for d in docs if len(d.text.split()) >= 3]
