"""The README is the map: every module has a line in its table, and every page in docs/ is linked from it."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_every_module_has_a_line_in_the_readme_table():
    modules = ["app.py"] + sorted(str(p.relative_to(ROOT)) for p in (ROOT / "rag").rglob("*.py"))
    missing = [m for m in modules if f"| `{m}` |" not in README]
    assert not missing, f"add a line for each to the README's module table: {missing}"


def test_every_docs_page_is_linked_from_the_readme():
    pages = sorted(p.name for p in (ROOT / "docs").glob("*.md"))
    missing = [p for p in pages if f"(docs/{p})" not in README]
    assert not missing, f"link these from the README's documentation table: {missing}"
