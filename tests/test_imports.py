"""The package's import graph is a tree (no circles), counting imports inside functions too, so a
circle cannot hide in a function body."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "rag"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Every rag module a file imports, at any depth of its code (TYPE_CHECKING blocks included: a
    circle through type hints is still a circle)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            if not base.startswith("rag"):
                continue
            for alias in node.names:  # `from . import commits` names a module
                sub = f"{base}.{alias.name}"
                out.add(sub if (ROOT / Path(*sub.split("."))).with_suffix(".py").exists()
                        or (ROOT / Path(*sub.split(".")) / "__init__.py").exists() else base)
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("rag")}
    return out - {name}


def graph() -> dict[str, set[str]]:
    return {module_name(p): imports_of(p) for p in PACKAGE.rglob("*.py")}


def find_cycle(edges: dict[str, set[str]]) -> list[str]:
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = "done"
        return []

    for node in sorted(edges):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return []


def test_the_import_graph_of_the_package_has_no_circle():
    cycle = find_cycle(graph())
    assert not cycle, " -> ".join(cycle)


def test_the_cycle_finder_finds_a_circle_hidden_in_a_function(tmp_path):
    """The check itself can fail: a function-level import that closes a circle is found."""
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) == []
    (tmp_path / "m.py").write_text("def f():\n    from rag.pipeline import RAG\n")
    global ROOT
    saved, ROOT = ROOT, tmp_path
    try:
        assert imports_of(tmp_path / "m.py") == {"rag.pipeline"}
    finally:
        ROOT = saved


def test_only_the_switch_modules_name_a_back_end():
    """Back-ends are picked in rag/models/__init__.py and rag/stores/__init__.py, nowhere else."""
    backends = {"rag.models.llama", "rag.models.hf", "rag.models.openai_compat", "rag.models.openai_client",
                "rag.models.embed", "rag.stores.faiss_store", "rag.stores.milvus_store", "rag.stores.milvus_search"}
    switches = {"rag.models", "rag.stores"}
    offenders = {m: sorted(i & backends) for m, i in graph().items()
                 if i & backends and m not in switches and m not in backends}
    assert not offenders, offenders
