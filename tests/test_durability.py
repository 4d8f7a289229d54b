"""Crash safety and cross-process writers of the index folder (rag/commits.py).

Fast tier: a saving process is SIGKILLed at every step of a commit; a CLI add runs while a RAG object
is open; fsync order; the old layout. Real tier: `rag index add` SIGKILLed at random moments.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from rag.stores import new_index, load_folder, rebuild
from rag.stores import commits
from rag.errors import RagError
from rag.stores.index import Index, corpus_fingerprint, load_corpus
from rag.types import Document

from .conftest import ROOT, SHARED_CACHE, HashEmbedder, ScriptedGenerator, extractive

EXTRA = ("---\ntitle: Harbor reopens\noutlet: Harbor Daily\npublished: 2025-11-01\n---\n\n"
         "The harbor reopened on Monday after a three-week closure. Ferries carried 4,200 passengers "
         "on the first day. The port authority plans a second pier by spring.")

# `rag ...` with the hash embedder instead of the real one (same identity as the tests' fake)
FAKE_CLI = f"""
import sys
sys.path.insert(0, {str(ROOT)!r})
import rag.models, rag.pipeline
from tests.conftest import HashEmbedder
rag.models.SentenceTransformerEmbedder = lambda *a, **k: HashEmbedder()
if len(sys.argv) > 1 and sys.argv[1] == "--announce":  # say when the add starts (index read)
    sys.argv.pop(1)
    add = rag.pipeline.RAG.add_documents
    def announced(self, *a, **k):
        print("adding", flush=True)
        return add(self, *a, **k)
    rag.pipeline.RAG.add_documents = announced
from rag.cli import main
sys.exit(main(sys.argv[1:]))
"""

# save a new version of the index in argv[1], stopping (asleep) at commit step argv[2]
SAVE_AND_STOP = f"""
import sys, time
from pathlib import Path
sys.path.insert(0, {str(ROOT)!r})
from rag.stores import commits, load_folder, rebuild
from rag.types import Document
from tests.conftest import HashEmbedder

def stop(name):
    if name == sys.argv[2]:
        print("at", name, flush=True)
        time.sleep(600)

commits.on_step = stop
old = load_folder(Path(sys.argv[1]))
extra = Document("harbor", "Harbor reopens", "Harbor Daily", "2025-11-01", "", sys.argv[3], sha256="e" * 64)
rebuild(old, list(old.documents.values()) + [extra], HashEmbedder()).save(Path(sys.argv[1]))
print("saved", flush=True)
"""


def fake_cli(*args, env=None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", FAKE_CLI, *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def read_line(proc: subprocess.Popen, timeout: float = 60) -> str:
    """The child's next stdout line (fails the test if none comes in time)."""
    out = []
    reader = threading.Thread(target=lambda: out.append(proc.stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    assert out and out[0], f"no output from the child in {timeout}s: {proc.stderr.read() if proc.poll() is not None else ''}"
    return out[0].strip()


def build(corpus_dir, emb) -> Index:
    return new_index(load_corpus(corpus_dir), emb, 90, 1, corpus=corpus_fingerprint(corpus_dir))


def assert_tidy(folder: Path) -> None:
    """Only the committed version, the previous one, the commit point, README and LOCK remain."""
    pointer = json.loads((folder / "manifest.json").read_text())
    names = {p.name for p in folder.iterdir()}
    assert names <= {"manifest.json", "README.md", "LOCK", pointer["data"], pointer["previous"]}, names


# --- a save killed at each step -------------------------------------------------------------------
@pytest.mark.parametrize("step", commits.STEPS)
def test_a_save_killed_at_any_step_leaves_the_old_or_the_new_index_whole(step, tmp_path, corpus_dir):
    """SIGKILL at each step of a commit: before the rename of manifest.json the old version loads,
    from it on the new one; the next load tidies the leftovers, and the next save works."""
    emb = HashEmbedder()
    folder = tmp_path / "index"
    old = build(corpus_dir, emb)
    old.save(folder)
    old.save(folder)  # two versions, so that the next commit has one to collect
    before = {d.id: d.text for d in old.documents.values()}

    child = subprocess.Popen([sys.executable, "-c", SAVE_AND_STOP, str(folder), step, EXTRA],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert read_line(child) == f"at {step}"  # the commit reached this step, and waits there
        child.send_signal(signal.SIGKILL)
    finally:
        child.kill()
        child.wait(30)

    index = load_folder(folder)
    after = {d.id: d.text for d in index.documents.values()}
    committed = commits.STEPS.index(step) >= commits.STEPS.index("switched")
    if committed:
        assert after == {**before, "harbor": EXTRA}
        assert any(c.doc_id == "harbor" for c in index.chunks)
    else:
        assert after == before
    assert_tidy(folder)
    emb_query = emb.embed(["harbor ferries passengers"], query=True)[0]
    assert len(index.search_dense(emb_query, 3)[1]) == 3

    rebuild(index, list(index.documents.values())[:1], emb).save(folder)  # the next save works
    assert len(load_folder(folder).documents) == 1
    assert_tidy(folder)


def test_every_file_and_folder_is_fsynced_before_the_switch(tmp_path, corpus_dir, monkeypatch):
    synced: list[str] = []
    real_fsync = os.fsync

    def spy(fd):
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    events: list[tuple[str, int]] = []
    monkeypatch.setattr(os, "fsync", spy)
    monkeypatch.setattr(commits, "on_step", lambda name: events.append((name, len(synced))))
    folder = tmp_path / "index"
    index = build(corpus_dir, HashEmbedder())
    index.save(folder)

    steps = dict(events)
    assert [name for name, _ in events if name != "collecting"] == [s for s in commits.STEPS if s != "collecting"]
    data = folder / index.version
    before_switch = set(synced[:steps["pointer-written"]])
    everything = {str(p) for p in data.rglob("*")} | {str(data), str(folder)}
    assert everything <= before_switch, everything - before_switch
    assert any(".manifest.json.tmp-" in p for p in before_switch)  # the new commit point itself
    assert str(folder) in synced[steps["switched"]:steps["committed"]]  # the rename, made durable


# --- cross-process writers --------------------------------------------------------------------------
@pytest.fixture
def cli_env(config):
    return dict(os.environ, RAG_INDEX_DIR=str(config.index_dir), RAG_CACHE_DIR=str(config.cache_dir),
                HF_HUB_OFFLINE="1")


def test_a_cli_add_while_the_app_runs_is_seen_and_kept(bot, config, cli_env, tmp_path):
    """The app's RAG object is open; `rag index add` commits from another process. The object then
    answers from the new article, and its own next upload keeps it."""
    article = tmp_path / "harbor.md"
    article.write_text(EXTRA)
    child = fake_cli("index", "add", str(article), env=cli_env)
    out, err = child.communicate(timeout=120)
    assert child.returncode == 0, err
    assert "added" in out and "harbor" in out

    assert "harbor" in {d.id for d in bot.documents()}
    found = bot.retrieve("How many passengers did the ferries carry on the first day?")
    assert found.passages[0].doc.id == "harbor" and "4,200" in found.passages[0].text

    other = tmp_path / "bridge.md"
    other.write_text("---\ntitle: Bridge opens\n---\n\nThe new river bridge opened to traffic on Friday.")
    assert bot.add_documents([other])[0].status == "added"
    from rag.stores.index import Index

    for ids in ({d.id for d in bot.documents()}, set(load_folder(config.index_dir).documents)):
        assert {"harbor", "bridge"} <= ids and len(ids) == 5


def test_a_cli_add_waits_for_the_writer_and_applies_its_change_to_the_latest_commit(bot, config, cli_env,
                                                                                  tmp_path):
    """The child reads the index, then must wait while this process commits; it then adds to our
    commit instead of overwriting it with the copy it read."""
    article = tmp_path / "harbor.md"
    article.write_text(EXTRA)
    ours = tmp_path / "bridge.md"
    ours.write_text("---\ntitle: Bridge opens\n---\n\nThe new river bridge opened to traffic on Friday.")
    with commits.writing(config.index_dir):
        child = fake_cli("--announce", "index", "add", str(article), env=cli_env)
        try:
            assert read_line(child) == "adding"  # the child has loaded the index, without our change
            assert bot.add_documents([ours])[0].status == "added"
            time.sleep(1.0)
            assert child.poll() is None, "the child wrote while another writer held the lock"
        except BaseException:
            child.kill()
            raise
    out, err = child.communicate(timeout=120)
    assert child.returncode == 0, err
    ids = set(load_folder(config.index_dir).documents)
    assert {"harbor", "bridge"} <= ids and len(ids) == 5
    assert {"harbor", "bridge"} <= {d.id for d in bot.documents()}


def test_a_writer_that_cannot_get_the_lock_says_who_holds_it(tmp_path):
    folder = tmp_path / "index"
    holder = subprocess.Popen([sys.executable, "-c", f"""
import sys, time
sys.path.insert(0, {str(ROOT)!r})
from rag.stores import commits
with commits.writing({str(folder)!r}):
    print("held", flush=True)
    time.sleep(60)
"""], stdout=subprocess.PIPE, text=True)
    try:
        assert read_line(holder) == "held"
        with pytest.raises(RagError, match=f"being changed by process {holder.pid}.*try again"):
            with commits.writing(folder, timeout=0.3):
                pass
    finally:
        holder.kill()
        holder.wait()
    with commits.writing(folder, timeout=5) as got:  # the kernel dropped the dead holder's lock
        assert got


def test_threads_adding_at_once_lose_nothing(bot, config, tmp_path):
    paths = []
    for i in range(4):
        p = tmp_path / f"note-{i}.md"
        p.write_text(f"---\ntitle: Note {i}\n---\n\nHarbor note number {i} says the pier {i} opened.")
        paths.append(p)
    threads = [threading.Thread(target=bot.add_documents, args=([p],)) for p in paths]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    ids = set(load_folder(config.index_dir).documents)
    assert {f"note-{i}" for i in range(4)} <= ids and len(ids) == 7


# --- added articles survive rebuilds ------------------------------------------------------------------
def test_a_rebuild_keeps_added_articles_even_when_the_index_is_damaged_or_its_manifest_lost(bot, config,
                                                                                           fake_embedder,
                                                                                           tmp_path):
    from rag import RAG
    from rag.stores import build_index

    article = tmp_path / "harbor.md"
    article.write_text(EXTRA)
    bot.add_documents([article])
    assert "harbor" in {d.id for d in build_index(config, fake_embedder).documents.values()}

    data = config.index_dir / json.loads((config.index_dir / "manifest.json").read_text())["data"]
    (data / "chunk_vectors.npy").write_bytes(b"garbage")  # the committed version no longer loads
    assert "harbor" in {d.id for d in build_index(config, fake_embedder).documents.values()}

    (config.index_dir / "manifest.json").unlink()  # the commit point lost: RAG.load rebuilds
    again = RAG.load(config, embedder=fake_embedder)
    assert "harbor" in {d.id for d in again.documents()} and len(again.documents()) == 4

    assert "harbor" not in {d.id for d in build_index(config, fake_embedder, keep_added=False).documents.values()}


# --- the old layout -------------------------------------------------------------------------------------
def write_old_layout(index: Index, folder: Path) -> None:
    """An index folder as rag-news wrote it before versioned folders: files beside manifest.json."""
    folder.mkdir(parents=True)
    index.write_files(folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    (folder / "manifest.json").write_text(json.dumps({**manifest, "format_version": 1}))


def test_an_old_layout_index_loads_and_its_first_commit_moves_it(tmp_path, corpus_dir, fake_embedder):
    folder = tmp_path / "index"
    index = build(corpus_dir, fake_embedder)
    write_old_layout(index, folder)
    loaded = load_folder(folder)
    assert set(loaded.documents) == set(index.documents) and loaded.version is None
    assert np.array_equal(loaded.chunk_vectors, index.chunk_vectors)
    loaded.save(folder)
    assert sorted(p.name for p in folder.iterdir()) == ["LOCK", "README.md", "manifest.json", "v-000001"]
    assert set(load_folder(folder).documents) == set(index.documents)


def test_the_old_layouts_crash_window_is_recovered(tmp_path, corpus_dir, fake_embedder):
    """The old save renamed index/ away before renaming the new one in; a crash between the two left
    no index/. The next load puts the renamed-away index back (with its added articles)."""
    index = build(corpus_dir, fake_embedder)
    write_old_layout(index, tmp_path / ".index.old-1234")
    (tmp_path / ".index.building-abcd").mkdir()
    assert set(load_folder(tmp_path / "index").documents) == set(index.documents)


def test_a_reader_never_finds_no_index_while_commits_run(tmp_path, corpus_dir, fake_embedder):
    """Another thread commits 15 times while this one keeps loading: every load gets a whole index."""
    folder = tmp_path / "index"
    index = build(corpus_dir, fake_embedder)
    index.save(folder)
    docs = list(index.documents.values())
    done = threading.Event()

    def writer():
        for i in range(15):
            rebuild(index, docs[: 1 + i % 3], fake_embedder).save(folder)
        done.set()

    threading.Thread(target=writer, daemon=True).start()
    loads = 0
    while not done.is_set():
        assert len(load_folder(folder).documents) in (1, 2, 3)
        loads += 1
    assert loads > 0


# --- real tier: `rag index add` killed at random moments --------------------------------------------
@pytest.mark.real
def test_soak_rag_index_add_sigkilled_at_random_moments(tmp_path):
    """Six `rag index add` runs (the real embedder) are SIGKILLed at a random moment: three anywhere
    in their run (mostly loading), three within 250 ms of their commit starting (a new version folder
    appears). After each, the index opens with every article added before, and the new one whole or
    absent. A last, uninterrupted add still works."""
    import random

    folder = tmp_path / "index"
    env = dict(os.environ, RAG_INDEX_DIR=str(folder), RAG_CACHE_DIR=str(SHARED_CACHE), HF_HUB_OFFLINE="1")
    rag = [sys.executable, "-m", "rag.cli"]
    t = time.perf_counter()
    first = tmp_path / "a0.md"
    first.write_text(article(0))
    r = subprocess.run(rag + ["index", "add", str(first)], env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr  # builds the index from the bundled articles, then adds
    run_s = time.perf_counter() - t
    expected = {d.id: d.text for d in load_folder(folder).documents.values()}
    assert len(expected) == 4
    rng = random.Random(9)
    runs = []
    t0 = time.perf_counter()
    for i in range(1, 7):
        path = tmp_path / f"a{i}.md"
        path.write_text(article(i))
        versions = {p.name for p in folder.iterdir() if commits.VERSION.match(p.name)}
        child = subprocess.Popen(rag + ["index", "add", str(path)], env=env, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
        if i % 2:  # anywhere in the run
            delay = rng.uniform(0.2, run_s)
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(delay)
        else:  # during the commit
            delay = rng.uniform(0, 0.25)
            while child.poll() is None and {p.name for p in folder.iterdir()
                                            if commits.VERSION.match(p.name)} <= versions:
                time.sleep(0.001)
            time.sleep(delay)
        killed = child.poll() is None
        child.send_signal(signal.SIGKILL)
        child.wait()
        index = load_folder(folder)
        got = {d.id: d.text for d in index.documents.values()}
        new = f"a{i}"
        assert {k: got.get(k) for k in expected} == expected  # every earlier article, unchanged
        assert set(got) <= set(expected) | {new}
        if new in got:  # whole: its text, chunks and vectors
            assert got[new] == read_text(path)
            assert sum(c.doc_id == new for c in index.chunks) >= 1
            expected[new] = got[new]
        assert_tidy(folder)
        runs.append({"when": "anywhere" if i % 2 else "commit", "delay_s": round(delay, 3),
                     "killed": killed, "article_in": new in got})
    soak_s = time.perf_counter() - t0
    last = tmp_path / "a7.md"
    last.write_text(article(7))
    assert subprocess.run(rag + ["index", "add", str(last)], env=env, capture_output=True,
                          timeout=600).returncode == 0
    assert set(expected) | {"a7"} == set(load_folder(folder).documents)
    assert sum(r["killed"] for r in runs) >= 4, runs
    report = {"uninterrupted_add_s": round(run_s, 2), "six_runs_s": round(soak_s, 1), "runs": runs}
    (ROOT / "test-artifacts").mkdir(exist_ok=True)
    (ROOT / "test-artifacts" / "durability-soak.json").write_text(json.dumps(report, indent=1))
    print(report)


def article(i: int) -> str:
    return (f"---\ntitle: Soak article {i}\noutlet: Soak Daily\npublished: 2025-11-0{i + 1}\n---\n\n"
            f"Soak article {i} reports that pier {i} reopened after {i + 2} weeks of repairs. "
            f"Ferries carried {1000 + i} passengers on the first day.")


def read_text(path: Path) -> str:
    from rag.ingest import read_document

    return read_document(path).text
