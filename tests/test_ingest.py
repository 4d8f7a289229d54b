import pytest

from rag.errors import DocumentError
from rag.ingest import read_document, scan, slug

from .conftest import CORPUS


def test_bundled_article_keeps_its_front_matter_fields_and_exact_text():
    doc = read_document(CORPUS / "rferl-witkoff-moscow-peace-plan.md")
    assert doc.id == "rferl-witkoff-moscow-peace-plan"
    assert doc.outlet == "RFE/RL"
    assert doc.published == "2025-11-26"
    assert doc.url.startswith("https://www.rferl.org/")
    assert doc.title.startswith("Witkoff To Moscow.")
    raw = (CORPUS / "rferl-witkoff-moscow-peace-plan.md").read_text(encoding="utf-8")
    assert doc.text in raw and "600, 000" in doc.text  # body unchanged, odd spacing kept
    assert not doc.text.startswith("---")


def test_scan_skips_readme_and_unsupported(tmp_path):
    (tmp_path / "README.md").write_text("about this folder")
    (tmp_path / "a.md").write_text("An article with enough words.")
    (tmp_path / "b.docx").write_bytes(b"x")
    assert [p.name for p in scan(tmp_path)] == ["a.md"]


def test_plain_text_without_front_matter_gets_a_title_from_its_name(tmp_path):
    path = tmp_path / "My Local_News (1).txt"
    path.write_text("The bridge reopened on Monday after repairs.")
    doc = read_document(path)
    assert doc.id == slug(path.name) == "my-local-news-1"
    assert doc.title == "My Local News (1)"
    assert doc.outlet == ""


def test_html_main_text_is_extracted_without_boilerplate(tmp_path):
    html = """<html><head><title>Harbor reopens</title><meta property="og:site_name" content="Harbor Daily">
    </head><body><nav>Home | Sports | Weather | Subscribe</nav>
    <article><h1>Harbor reopens</h1><p>The harbor reopened on Monday after a three-week closure caused by
    the storm, officials said.</p><p>Ferry service to the islands resumes on Wednesday with a reduced
    timetable, the port authority announced.</p></article><footer>Copyright 2025 Harbor Daily</footer>
    </body></html>"""
    path = tmp_path / "harbor.html"
    path.write_text(html)
    doc = read_document(path)
    assert "three-week closure" in doc.text and "Ferry service" in doc.text
    assert "Subscribe" not in doc.text and "Copyright" not in doc.text
    assert doc.title == "Harbor reopens"


def test_pdf_text_is_extracted(tmp_path):
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.multi_cell(0, 8, "The council approved 4,500 new parking permits on Tuesday. Fees stay the same.")
    pdf.set_title("Council approves permits")
    path = tmp_path / "council.pdf"
    pdf.output(str(path))
    doc = read_document(path)
    assert "4,500 new parking permits" in doc.text
    assert doc.title == "Council approves permits"


@pytest.mark.parametrize("name, content, reason", [
    ("empty.md", b"", "no readable text"),
    ("blank.txt", b"   \n\n  ", "no readable text"),
    ("front-matter-only.md", b"---\ntitle: x\n---\n", "no readable text"),
    ("binary.txt", b"\x00\x01\x02PNG\x00" * 50, "looks binary"),
    ("broken.pdf", b"%PDF-1.4 this is not really a pdf", "not a readable PDF"),
    ("notes.docx", b"PK\x03\x04", "unsupported file type"),
    ("bad-yaml.md", b"---\ntitle: [unclosed\n---\nBody text is here.", "front matter is not valid YAML"),
])
def test_unusable_files_raise_a_clear_reason(tmp_path, name, content, reason):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(DocumentError, match=reason):
        read_document(path)


def test_missing_and_oversized_files(tmp_path):
    with pytest.raises(DocumentError, match="no such file"):
        read_document(tmp_path / "nope.md")
    big = tmp_path / "big.txt"
    big.write_text("word " * 300_000)
    with pytest.raises(DocumentError, match="over the 1 MB limit"):
        read_document(big, max_mb=1)


def test_unreadable_file_is_a_document_error(tmp_path, monkeypatch):
    from pathlib import Path

    path = tmp_path / "locked.md"
    path.write_text("Some article text here.")

    def denied(self):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "read_bytes", denied)  # as root, chmod 000 would not stop the read
    with pytest.raises(DocumentError, match="cannot read \\(Permission denied\\)"):
        read_document(path)


def test_latin1_text_is_read(tmp_path):
    path = tmp_path / "old.txt"
    path.write_bytes("Café owners in Kyiv reopened their shops.".encode("cp1252"))
    assert "Café" in read_document(path).text
