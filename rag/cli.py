"""The `rag` command.

    rag index build [--if-needed]      index the corpus folder (the bundled articles by default),
                                       keeping the articles added by hand (unless --drop-added)
    rag index add PATH|URL...          add or replace articles (.md .txt .html .pdf, or web pages by address)
    rag index remove ID                drop an article
    rag index list                     the indexed articles
    rag ask "QUESTION"                 answer with sources
    rag serve [--host H] [--port P]    the OpenAI-compatible API alone, at http://H:P/v1 (docs/api.md);
                                       RAG_API_KEY=KEY makes it ask for that bearer key
    rag feed add URL                   subscribe to an RSS or Atom feed and index its articles
    rag feed list                      the feeds, with last refresh, counts and last error
    rag feed remove URL                unsubscribe (its articles stay indexed)
    rag feed refresh [URL]             fetch what is new or changed (every feed, or one)
    rag models fetch [--only NAME]     install, assemble and hash-check model files
    rag models verify                  re-hash every assembled model file
    rag models list                    the registry, and what is installed

Every command takes --config FILE.toml and --set key=value (repeatable) to override settings.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from .config import Config
from .errors import RagError


def _config(args) -> Config:
    overrides = {}
    for item in args.set or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise RagError(f"--set expects key=value, got {item!r}")
        overrides[key.strip()] = value.strip()
    if args.config:
        return Config.from_toml(args.config, **overrides)
    env = os.environ.get("RAG_CONFIG")
    if env:
        return Config.from_toml(env, **overrides)
    return Config().replace(**overrides) if overrides else Config()


def cmd_index(args) -> int:
    from .models import make_embedder
    from .errors import IndexUnusable
    from .stores import corpus_fingerprint
    from .stores import open_index
    from .pipeline import RAG
    from .stores import build_index

    config = _config(args)
    if args.action == "build":
        emb = make_embedder(config)
        try:
            old = open_index(config)
            old.check_compatible(emb.identity(), config.chunk_words, config.chunk_overlap,
                                 corpus_fingerprint(config.corpus_dir))
            reason = ""
        except IndexUnusable as exc:
            reason = str(exc)
        if args.if_needed and not reason and not args.drop_added:
            print(f"index at {config.index_dir} is up to date ({_counts(old)})")
            return 0
        if reason:
            print(f"building: {reason.split('. Rebuild')[0]}")
        t = time.perf_counter()
        # under the index's writer lock, from its latest commit: articles added by hand are kept
        index = build_index(config, emb, progress=True, keep_added=not args.drop_added)
        print(f"built {config.index_dir} in {time.perf_counter() - t:.1f}s ({_counts(index)})")
        return 0
    bot = RAG.load(config, progress=True)
    if args.action == "list":
        docs = bot.documents()
        for d in docs:
            print(f"{d.id}\t{d.outlet or '-'}\t{d.published or '-'}\t{d.title}")
        print(f"{len(docs)} documents, {len(bot.index.chunks)} chunks", file=sys.stderr)
        return 0
    if args.action == "add":
        from .web import add_pages

        results = add_pages(bot, args.paths, progress=True)  # web addresses are fetched, files read
        for r in results:
            detail = f" ({r.reason})" if r.reason else ""
            print(f"{r.status:9} {r.doc_id or '-':40} {r.path}{detail}")
        return 0 if any(r.status != "skipped" for r in results) else 1
    if args.action == "remove":
        doc = bot.remove_document(args.id)
        print(f"removed {doc.id} ({doc.title})")
        return 0
    raise AssertionError(args.action)


def _counts(index) -> str:
    c = index.manifest["counts"]
    return f"{c['documents']} documents, {c['chunks']} chunks, {c['sentences']} sentences"


def cmd_ask(args) -> int:
    from .inputs import check_question
    from .pipeline import RAG

    config = _config(args)
    question = check_question(args.question, config.max_question_chars)  # before any loading
    bot = RAG.load(config, progress=True)
    answer = None
    for item in bot.stream(question):
        if isinstance(item, str):
            if not args.json:
                print(item, end="", flush=True, file=sys.stderr)
        else:
            answer = item
    if not args.json:
        print(file=sys.stderr)
    if args.json:
        print(json.dumps(answer.to_dict(), ensure_ascii=False, indent=1, default=str))
        return 0
    print(answer.text)
    if answer.citations:
        print("\nSources:")
        for c in answer.citations:
            print(f"[{c.n}] {c.outlet}, {c.published}: {c.title}\n    {c.url}\n    “{' '.join(c.quote.split())}”")
    elif answer.passages:
        print("\nClosest passages found:")
        for p in answer.passages[:3]:
            print(f"  - {p.doc.outlet}, {p.doc.published}: “{' '.join(p.text.split())[:160]}”")
    t = answer.timings
    print(f"\n({t.total:.1f}s; first token {t.first_token:.1f}s; P(right) {answer.confidence:.2f}; {answer.verdict})",
          file=sys.stderr)
    return 0


def cmd_serve(args) -> int:
    from . import server
    from .pipeline import RAG

    config = _config(args)
    api_key = os.environ.get("RAG_API_KEY") or None
    if not server.is_loopback(args.host) and not api_key:
        print(f"WARNING: serving on {args.host} with no key: anyone who can reach this machine can ask questions. "
              f"Set RAG_API_KEY=<key> (clients send it as their api_key), or serve on --host 127.0.0.1.",
              file=sys.stderr, flush=True)
    bot = RAG.load(config, progress=True)
    bot.warm_up()
    print(f"OpenAI-compatible API on http://{args.host}:{args.port}/v1 (models: {', '.join(server.MODELS)})",
          file=sys.stderr, flush=True)
    server.serve(bot, args.host, args.port, api_key)
    return 0


def cmd_feed(args) -> int:
    from . import feeds, subscriptions

    config = _config(args)
    if args.action == "list":  # no index or model needed
        rows = [feeds.describe(s) for s in subscriptions.load(config.index_dir)]
        for row in rows:
            print(f"{row['url']}\t{row['title'] or '-'}\tlast refresh {row['last refresh']}\t"
                  f"{row['articles']} articles" + (f"\t({row['last counts']})" if row['last counts'] else "")
                  + (f"\n    last error: {row['last error']}" if row['last error'] else ""))
        print(f"{len(rows)} feeds" + ("" if rows else ": subscribe with `rag feed add URL`"), file=sys.stderr)
        return 0
    from .fetch import check_url
    from .pipeline import RAG

    if args.action == "add":
        check_url(args.url)  # a malformed address fails before the index is opened
    bot = RAG.load(config, progress=True)
    if args.action == "remove":
        state = feeds.unsubscribe(bot, args.url)
        print(f"unsubscribed from {state.url}; its {state.articles} articles stay indexed "
              f"(remove one with `rag index remove ID`)")
        return 0
    say = lambda done, total, what: print(f"  [{done + 1}/{total}] {what}" if done < total else "  indexing…",
                                          file=sys.stderr, flush=True)
    if args.action == "add":
        done = [feeds.subscribe(bot, args.url, progress=say)]
    else:
        done = [feeds.refresh(bot, args.url, say)] if args.url else feeds.refresh_all(bot, say)
    for r in done:
        for a in r.results:
            print(f"{a.status:9} {a.doc_id or '-':40} {a.path}" + (f" ({a.reason})" if a.reason else ""))
        print(f"{r.url}: {r.summary()}")
    if not done:
        print("no feeds: subscribe with `rag feed add URL`", file=sys.stderr)
    return 1 if any(r.status == "failed" for r in done) else 0


def cmd_models(args) -> int:
    from .models import registry as models

    config = _config(args)
    names = args.only or ([n for n in models.REGISTRY] if args.all else
                          sorted({config.embedder, config.generator} & set(models.REGISTRY)))
    if args.action == "list":
        for name, spec in models.REGISTRY.items():
            state = "installed" if models.installed(spec) else "not installed"
            print(f"{name:8} {spec.role:9} {state:14} {spec.model_id}  ({spec.note})")
        return 0
    if args.action == "fetch":
        for r in models.fetch(names, config.cache_dir, force=args.force):
            print(f"ok  {r.name:8} {r.path}  sha256 {r.sha256[:16]}…")
        return 0
    if args.action == "verify":
        bad = 0
        for name in names:
            spec = models.REGISTRY[name]
            try:
                r = models.resolve(name, config.cache_dir, spec.role)
                target = r.path / spec.file if r.path.is_dir() else r.path
                models.check_hash(target, spec.sha256, config.cache_dir, name, force=True)
                print(f"ok   {name:8} {target}")
            except RagError as exc:
                bad += 1
                print(f"FAIL {name:8} {exc}")
        return 1 if bad else 0
    raise AssertionError(args.action)


def parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", help="TOML file with settings (see rag/config.py)")
    common.add_argument("--set", action="append", metavar="KEY=VALUE", help="override one setting")
    ap = argparse.ArgumentParser(prog="rag", description="Cited answers from news articles, offline.")
    sub = ap.add_subparsers(dest="command", required=True)

    idx = sub.add_parser("index", help="build and change the index", parents=[common])
    isub = idx.add_subparsers(dest="action", required=True)
    b = isub.add_parser("build", help="index the corpus folder", parents=[common])
    b.add_argument("--if-needed", action="store_true", help="do nothing when the index is up to date")
    b.add_argument("--drop-added", action="store_true",
                   help="index the corpus folder only, forgetting articles added with `rag index add` or the app")
    a = isub.add_parser("add", help="add or replace articles (files, or web pages by http(s) address)",
                        parents=[common])
    a.add_argument("paths", nargs="+", metavar="PATH_OR_URL")
    r = isub.add_parser("remove", help="remove an article", parents=[common])
    r.add_argument("id")
    isub.add_parser("list", help="list the indexed articles", parents=[common])
    idx.set_defaults(func=cmd_index)

    ask = sub.add_parser("ask", help="answer a question", parents=[common])
    ask.add_argument("question")
    ask.add_argument("--json", action="store_true", help="print the Answer as JSON")
    ask.set_defaults(func=cmd_ask)

    serve = sub.add_parser("serve", help="serve the OpenAI-compatible API (/v1/chat/completions, /v1/models)",
                           parents=[common])
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1, this machine only)")
    serve.add_argument("--port", type=int, default=7860)
    serve.set_defaults(func=cmd_serve)

    feed = sub.add_parser("feed", help="subscribe to news feeds (RSS, Atom)", parents=[common])
    fsub = feed.add_subparsers(dest="action", required=True)
    fsub.add_parser("add", help="subscribe and index its articles now", parents=[common]).add_argument("url")
    fsub.add_parser("remove", help="unsubscribe (its articles stay indexed)", parents=[common]).add_argument("url")
    fsub.add_parser("list", help="the feeds, last refresh, counts, last error", parents=[common])
    fsub.add_parser("refresh", help="fetch what is new or changed", parents=[common]).add_argument(
        "url", nargs="?", help="one feed (default: every feed)")
    feed.set_defaults(func=cmd_feed)

    mod = sub.add_parser("models", help="model files", parents=[common])
    msub = mod.add_subparsers(dest="action", required=True)
    for action, text in (("fetch", "install and assemble"), ("verify", "re-hash"), ("list", "show the registry")):
        m = msub.add_parser(action, help=text, parents=[common])
        m.add_argument("--only", action="append", help="model name (repeatable); default: the configured ones")
        m.add_argument("--all", action="store_true", help="every model in the registry")
        m.add_argument("--force", action="store_true", help="reinstall and reassemble")
    mod.set_defaults(func=cmd_models)
    return ap


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except RagError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
