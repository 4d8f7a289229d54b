"""The `rag` command. Argument errors are fast; the rest runs the real models (tier `real`)."""

import json
import subprocess
import sys

import pytest

from .conftest import SHARED_CACHE


def rag(*args, env=None, **kw):
    return subprocess.run([sys.executable, "-m", "rag.cli", *args], capture_output=True, text=True,
                          env=env, timeout=600, **kw)


@pytest.fixture
def env(tmp_path, corpus_dir, monkeypatch):
    import os

    e = dict(os.environ, RAG_INDEX_DIR=str(tmp_path / "index"), RAG_CACHE_DIR=str(SHARED_CACHE),
             HF_HUB_OFFLINE="1")
    return e


@pytest.mark.parametrize("question, message", [("", "empty"), ("   ", "empty"), ("x" * 1200, "1,200 characters")])
def test_bad_questions_exit_non_zero_with_the_reason(question, message, env):
    r = rag("ask", question, env=env)
    assert r.returncode == 2
    assert message in r.stderr and r.stderr.startswith("error:")


def test_unknown_setting_is_reported(env):
    r = rag("ask", "Who is Witkoff?", "--set", "pasages=3", env=env)
    assert r.returncode == 2 and "did you mean 'passages'" in r.stderr


def test_models_list_shows_the_registry(env):
    r = rag("models", "list", env=env)
    assert r.returncode == 0
    assert "quality" in r.stdout and "Qwen2.5-Coder-1.5B" in r.stdout and "installed" in r.stdout


def test_index_build_keeps_added_articles_unless_told(env, tmp_path):
    """With the hash embedder (same CLI): a rebuild keeps an article added by hand, also when the
    committed version is damaged; --drop-added forgets it."""
    from .test_durability import EXTRA, FAKE_CLI

    def fake_rag(*args):
        return subprocess.run([sys.executable, "-c", FAKE_CLI, *args], capture_output=True, text=True,
                              env=env, timeout=300)

    assert fake_rag("index", "build").returncode == 0
    article = tmp_path / "harbor.md"
    article.write_text(EXTRA)
    assert fake_rag("index", "add", str(article)).returncode == 0
    r = fake_rag("index", "build")
    assert r.returncode == 0 and "4 documents" in r.stdout, r.stderr
    index = tmp_path / "index"
    data = index / json.loads((index / "manifest.json").read_text())["data"]
    (data / "dense.faiss").write_bytes(b"damaged")
    r = fake_rag("index", "build", "--if-needed")
    assert r.returncode == 0 and "building: the index at" in r.stdout and "4 documents" in r.stdout
    assert "harbor" in fake_rag("index", "list").stdout
    r = fake_rag("index", "build", "--drop-added")
    assert r.returncode == 0 and "3 documents" in r.stdout
    assert "harbor" not in fake_rag("index", "list").stdout


@pytest.mark.real
def test_index_build_ask_add_remove_round_trip(env, tmp_path):
    r = rag("index", "build", env=env)
    assert r.returncode == 0, r.stderr
    assert "3 documents" in r.stdout
    r = rag("index", "build", "--if-needed", env=env)
    assert "up to date" in r.stdout

    r = rag("ask", "What cap on Ukraine's military did the first US draft propose?", env=env)
    assert r.returncode == 0, r.stderr
    assert "600,000" in r.stdout
    assert "Sources:" in r.stdout and "RFE/RL, 2025-11-26" in r.stdout and "600, 000" in r.stdout

    r = rag("ask", "What is the population of Kryvyi Rih?", "--json", env=env)
    answer = json.loads(r.stdout)
    assert answer["abstained"] is True and answer["citations"] == []

    article = tmp_path / "harbor.md"
    article.write_text("---\ntitle: Harbor reopens\noutlet: Harbor Daily\npublished: 2025-11-01\n---\n\n"
                       "The harbor in Odesa reopened on Monday after a three-week closure caused by drone strikes.")
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.4 nonsense")
    r = rag("index", "add", str(article), str(broken), env=env)
    assert r.returncode == 0
    assert "added" in r.stdout and "harbor" in r.stdout and "skipped" in r.stdout and "not a readable PDF" in r.stdout
    r = rag("index", "list", env=env)
    assert "harbor" in r.stdout and "rferl-witkoff-moscow-peace-plan" in r.stdout
    # a rebuild from the corpus folder keeps articles added by hand
    assert rag("index", "build", env=env).returncode == 0
    assert "harbor" in rag("index", "list", env=env).stdout
    r = rag("index", "remove", "harbor", env=env)
    assert r.returncode == 0 and "removed harbor" in r.stdout
    r = rag("index", "remove", "harbor", env=env)
    assert r.returncode == 2 and "no document with id 'harbor'" in r.stderr


@pytest.mark.real
def test_models_verify_rehashes_the_assembled_files(env):
    r = rag("models", "verify", "--only", "minilm", "--only", "fast", env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.count("ok ") == 2
