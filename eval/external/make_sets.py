"""Regenerate the vendored external question sets from their fetched sources.

    python -m eval.external.make_sets            # reads the git snapshots under /work/.mirror
    python -m eval.external.make_sets --mirror DIR

Each set becomes eval/external/<name>/: corpus/*.md (one document per SQuAD paragraph, with YAML
front matter), dev.jsonl and test.jsonl (the schema of eval/questions.jsonl), set.json (how to score
it) and ATTRIBUTION.md (source, commit, licence). Everything is deterministic: the same source gives
byte-identical files.

    >>> evidence_sentence("It rained. The Rhine rose 3 m. Then it fell.", 20, 3)
    'The Rhine rose 3 m.'
"""

from __future__ import annotations

import argparse
import json
import random
import re
import subprocess
from pathlib import Path

HERE = Path(__file__).resolve().parent
SEED = 11  # issue 11

# name -> where the SQuAD 2.0 JSON comes from, which article, how many questions to keep (0 = all).
SOURCES = {
    "squad": {"repo": "rabinadk1/ReadIt", "commit": "8b8ae096b8e1e051177e45212364c567a5df66ff",
              "path": "dev-v2.0.json", "article": "Normans", "sample": 0},
    "rhine": {"repo": "appcoreopc/squad2controlled", "commit": "d3ba91615be4eaa0707d2789b2ae627bed94e69c",
              "path": "dev-v2.0.json", "article": "Rhine", "sample": 120},
}

ATTRIBUTION = """# {article} (SQuAD 2.0 development set)

- Source: SQuAD 2.0 (Rajpurkar, Jia and Liang, "Know What You Don't Know: Unanswerable Questions for
  SQuAD", ACL 2018), https://rajpurkar.github.io/SQuAD-explorer/, development set v2.0, article
  "{article}".
- Taken from the copy in the public GitHub repository `{repo}`, file `{path}`, commit `{commit}`.
- Paragraph text: Wikipedia, https://en.wikipedia.org/wiki/{article}, as included in SQuAD.
- Licence: CC BY-SA 4.0 (https://creativecommons.org/licenses/by-sa/4.0/), the licence of SQuAD 2.0.
  These files are adapted (paragraphs as Markdown documents, questions in this project's schema,
  evidence sentences cut around the answer span, a seeded dev/test split{sampled}) and are shared under
  the same licence.

Regenerate with `python -m eval.external.make_sets` (see its docstring). Numbers: {n_docs} documents,
{n_questions} questions ({n_unanswerable} unanswerable), dev {n_dev} / test {n_test}.
"""

_BOUNDARY = re.compile(r"(?<=[.!?])[\"”’)]?\s+(?=[\"“(]?[A-Z0-9])")


def evidence_sentence(context: str, start: int, length: int) -> str:
    """The sentence(s) of `context` around the answer span [start, start + length)."""
    bounds = [0] + [m.end() for m in _BOUNDARY.finditer(context)] + [len(context)]
    begin = max(b for b in bounds if b <= start)
    end = min(b for b in bounds if b >= start + length)
    return context[begin:end].strip()


def git_json(mirror: Path, source: dict) -> dict:
    repo = mirror / source["repo"].replace("/", "+") / "repo"
    if not repo.is_dir():
        raise SystemExit(f"{repo} is missing: fetch github:{source['repo']} first")
    out = subprocess.run(["git", "-C", str(repo), "show", f"{source['commit']}:{source['path']}"],
                         check=True, capture_output=True)
    return json.loads(out.stdout)


def build(name: str, source: dict, data: dict) -> tuple[dict[str, str], list[dict]]:
    """(documents: file name -> Markdown, questions) for one article."""
    article = next(a for a in data["data"] if a["title"] == source["article"])
    title = article["title"].replace("_", " ")
    docs, items = {}, []
    width = len(str(len(article["paragraphs"])))
    for i, para in enumerate(article["paragraphs"], 1):
        doc_id = f"{name}-{i:0{width}d}"
        context = para["context"]
        body = context.strip()
        offset = len(context) - len(context.lstrip())
        docs[f"{doc_id}.md"] = (f"---\ntitle: {json.dumps(f'{title}, paragraph {i}')}\noutlet: Wikipedia\n"
                                f"url: https://en.wikipedia.org/wiki/{article['title']}\n---\n\n{body}\n")
        for qa in para["qas"]:
            item = {"id": f"{name}-{qa['id']}", "question": " ".join(qa["question"].split())}
            if qa.get("is_impossible"):
                item.update(answers=[], answerable=False, kind="unanswerable_adversarial", doc_ids=[], evidence=[])
            else:
                answers = list(dict.fromkeys(a["text"].strip() for a in qa["answers"]))
                first = qa["answers"][0]
                if context[first["answer_start"]:first["answer_start"] + len(first["text"])] != first["text"]:
                    raise SystemExit(f"{qa['id']}: answer_start does not point at the answer")
                quote = evidence_sentence(body, first["answer_start"] - offset, len(first["text"]))
                item.update(answers=answers, answerable=True, kind="extractive", doc_ids=[doc_id], evidence=[quote])
            items.append(item)
    if source["sample"]:
        items = stratified_sample(items, source["sample"], SEED)
    return docs, items


def stratified_sample(items: list[dict], n: int, seed: int) -> list[dict]:
    """n items keeping the share of unanswerable ones; the original order is kept."""
    rng = random.Random(seed)
    keep: set[str] = set()
    for flag in (True, False):
        group = [it["id"] for it in items if it["answerable"] is flag]
        share = round(n * len(group) / len(items))
        keep.update(rng.sample(group, min(share, len(group))))
    return [it for it in items if it["id"] in keep]


def split(items: list[dict], seed: int) -> tuple[list[dict], list[dict]]:
    """Seeded dev/test halves, stratified by answerable; each half keeps the original order.

    >>> rows = [{"id": str(i), "answerable": i % 3 > 0} for i in range(12)]
    >>> dev, test = split(rows, 1)
    >>> len(dev), len(test), sum(r["answerable"] for r in dev), sum(r["answerable"] for r in test)
    (6, 6, 4, 4)
    """
    rng = random.Random(seed)
    dev_ids: set[str] = set()
    for flag in (True, False):
        group = [it["id"] for it in items if it["answerable"] is flag]
        rng.shuffle(group)
        dev_ids.update(group[: (len(group) + 1) // 2])
    return [it for it in items if it["id"] in dev_ids], [it for it in items if it["id"] not in dev_ids]


def write(name: str, source: dict, docs: dict[str, str], items: list[dict]) -> None:
    folder = HERE / name
    corpus = folder / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    for old in corpus.glob("*.md"):
        old.unlink()
    for file_name, text in docs.items():
        (corpus / file_name).write_text(text, encoding="utf-8")
    dev, test = split(items, SEED)
    for part, rows in (("dev", dev), ("test", test)):
        lines = [json.dumps(r, ensure_ascii=False) for r in rows]
        (folder / f"{part}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    meta = {"scoring": "squad", "source": f"github:{source['repo']}@{source['commit']}:{source['path']}",
            "article": source["article"], "licence": "CC BY-SA 4.0", "seed": SEED}
    (folder / "set.json").write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
    sampled = f", a seeded sample of {source['sample']} questions" if source["sample"] else ""
    (folder / "ATTRIBUTION.md").write_text(ATTRIBUTION.format(
        **source, sampled=sampled, n_docs=len(docs), n_questions=len(items),
        n_unanswerable=sum(not r["answerable"] for r in items), n_dev=len(dev), n_test=len(test)), encoding="utf-8")
    print(f"{name}: {len(docs)} documents, {len(items)} questions, dev {len(dev)}, test {len(test)}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m eval.external.make_sets", description=__doc__.split("\n\n")[0])
    ap.add_argument("--mirror", default="/work/.mirror", help="folder of fetched repositories (owner+name/repo)")
    args = ap.parse_args(argv)
    for name, source in SOURCES.items():
        docs, items = build(name, source, git_json(Path(args.mirror), source))
        write(name, source, docs, items)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
