"""Model assembly and hash checks, on small fake "packages" put on sys.path."""

import hashlib
import sys

import pytest

from rag.models import registry as models
from rag.errors import ModelError, ModelHashMismatch


@pytest.fixture
def fake_package(tmp_path, monkeypatch):
    """Two tiny packages carrying two parts of a 'model', like the real split generator packages."""
    site = tmp_path / "site"
    parts = [b"GGUF-part-one|" * 1000, b"part-two|" * 700]
    for i, data in enumerate(parts, 1):
        pkg = site / f"fakemodel_part{i}"
        (pkg / "data").mkdir(parents=True)
        (pkg / "__init__.py").write_text("raise RuntimeError('package code must never run')\n")
        (pkg / "data" / f"part{i:02d}.bin").write_bytes(data)
    monkeypatch.syspath_prepend(str(site))
    whole = b"".join(parts)
    spec = models.ModelSpec(
        name="fakegen", role="generator", model_id="tests/fake", file="fake.gguf",
        sha256=hashlib.sha256(whole).hexdigest(), size=len(whole),
        requirements=("fakemodel-part1==1", "fakemodel-part2==1"),
        parts=("fakemodel_part1/data/part01.bin", "fakemodel_part2/data/part02.bin"),
    )
    monkeypatch.setitem(models.REGISTRY, "fakegen", spec)
    return spec, whole, site


def test_parts_are_assembled_in_order_and_checked_without_running_package_code(tmp_path, fake_package):
    spec, whole, _ = fake_package
    r = models.resolve("fakegen", tmp_path / "cache", role="generator")
    assert r.path == tmp_path / "cache" / "models" / "fake.gguf"
    assert r.path.read_bytes() == whole
    assert r.sha256 == spec.sha256
    assert "fakemodel_part1" not in sys.modules  # located through find_spec, never imported


def test_a_damaged_part_is_refused_and_nothing_is_left_to_trust(tmp_path, fake_package):
    _, _, site = fake_package
    (site / "fakemodel_part2" / "data" / "part02.bin").write_bytes(b"tampered")
    with pytest.raises(ModelHashMismatch, match="--force-reinstall"):
        models.resolve("fakegen", tmp_path / "cache", role="generator")
    assert not (tmp_path / "cache" / "models" / "fake.gguf").exists()
    assert not list((tmp_path / "cache" / "models").glob("*.partial"))


def test_an_assembled_file_changed_later_fails_its_hash(tmp_path, fake_package):
    r = models.resolve("fakegen", tmp_path / "cache", role="generator")
    data = bytearray(r.path.read_bytes())
    data[10] ^= 0xFF
    r.path.write_bytes(bytes(data))  # new mtime and content: the remembered check no longer applies
    with pytest.raises(ModelHashMismatch, match="rag models fetch --only fakegen --force"):
        models.resolve("fakegen", tmp_path / "cache", role="generator")
    assert not r.path.exists()


def test_a_verified_file_is_not_rehashed(tmp_path, fake_package, monkeypatch):
    from rag.models import files

    models.resolve("fakegen", tmp_path / "cache", role="generator")
    calls = []
    monkeypatch.setattr(files, "file_sha256", lambda p, *a: calls.append(p) or "x")
    models.resolve("fakegen", tmp_path / "cache", role="generator")
    assert calls == []


def test_missing_package_names_the_fix(tmp_path, monkeypatch):
    spec = models.ModelSpec(name="ghost", role="generator", model_id="tests/ghost", file="g.gguf",
                            sha256="0" * 64, size=1, requirements=("ghost-model-part1==1",),
                            parts=("ghost_model_part1/data/part01.bin",))
    monkeypatch.setitem(models.REGISTRY, "ghost", spec)
    with pytest.raises(ModelError, match="rag models fetch --only ghost.*pip install ghost-model-part1==1"):
        models.resolve("ghost", tmp_path, role="generator")


def test_references_that_are_not_models(tmp_path):
    with pytest.raises(ModelError, match="registered as the embedder, not as a generator"):
        models.resolve("minilm", tmp_path, role="generator")
    with pytest.raises(ModelError, match="Hugging Face reference like"):
        models.resolve("no-such-model", tmp_path, role="generator")
    gguf = tmp_path / "mine.gguf"
    gguf.write_bytes(b"GGUF")
    assert models.resolve(str(gguf), tmp_path, role="generator").path == gguf.resolve()


def test_hub_reference_offline_fails_with_the_alternative(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelError, match="use a registry name"):
        models.resolve("Qwen/Qwen2.5-1.5B-Instruct-GGUF:qwen2.5-1.5b-instruct-q4_k_m.gguf", tmp_path,
                       role="generator")


def test_registry_pins_every_default_model():
    for name in ("minilm", "fast", "quality", "tiny"):
        spec = models.REGISTRY[name]
        assert len(spec.sha256) == 64 and all("==" in r for r in spec.requirements)
