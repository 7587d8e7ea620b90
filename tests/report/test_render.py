"""The report in both languages, HTML and PDF: key numbers and labels (PDF text via pdftotext), a page as
an image (pdftoppm), self-contained HTML, alt text on every chart (in the HTML and as /Alt in the PDF)."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
import zlib
from pathlib import Path

import pytest

from cifranegra.report.charts import format_number
from cifranegra.report.i18n import MESSAGES, format_date
from cifranegra.report.release import build_release
from cifranegra.report.render import check_accessibility

LABELS = {
    "es": ("Resultados principales", "Víctimas detectadas (personas distintas)", "Total estimado", "Tasa por 100,000",
           "Métodos y limitaciones", "Sin mapa"),
    "en": ("Headline", "Unique detected victims", "Estimated total", "Rate per 100,000", "Methods and limitations",
           "No map"),
}


def _pdftotext(path: Path) -> str:
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed; CI installs it")
    return subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout


def test_catalogues_have_the_same_keys() -> None:
    assert set(MESSAGES["es"]) == set(MESSAGES["en"])


def test_dates_in_each_language() -> None:
    assert format_date(dt.date(2025, 3, 5), "es") == "5 de marzo de 2025"
    assert format_date(dt.date(2025, 3, 5), "en") == "5 March 2025"


@pytest.mark.parametrize("lang", ["es", "en"])
def test_html_report(published: Path, run_dir: Path, lang: str) -> None:
    html = (published / f"report-{lang}.html").read_text(encoding="utf-8")
    assert f'lang="{MESSAGES[lang]["html_lang"]}"' in html
    for label in LABELS[lang]:
        assert label in html, label
    release = build_release(run_dir)
    detected, _ = release.detected
    assert f">{format_number(detected, lang)}<" in html
    assert f">{format_number(release.chosen()['estimate'], lang)}<" in html
    assert check_accessibility(html) == []
    assert not re.search(r"""(src|href)=["']https?:""", html), "the HTML refers to the internet"
    assert html.count("<img") >= 3


@pytest.mark.parametrize("lang", ["es", "en"])
def test_pdf_report(published: Path, run_dir: Path, lang: str, tmp_path: Path) -> None:
    text = _pdftotext(published / f"report-{lang}.pdf")
    for label in LABELS[lang]:
        assert label in text, label
    release = build_release(run_dir)
    chosen = release.chosen()
    for value in (release.detected[0], chosen["estimate"], chosen["lower"], chosen["upper"]):
        assert format_number(value, lang) in text
    assert format_number(chosen["rate_per_100k"], lang, 2) in text
    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm (poppler-utils) is not installed")
    subprocess.run(["pdftoppm", "-r", "40", "-png", "-f", "1", "-l", "1", str(published / f"report-{lang}.pdf"),
                    str(tmp_path / "page")], check=True)
    page = next(tmp_path.glob("page*.png"))
    assert page.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and page.stat().st_size > 2000


@pytest.mark.parametrize("lang", ["es", "en"])
def test_the_stylesheet_reaches_the_pdf(published: Path, lang: str) -> None:
    # an HTML-escaped <style> ("&#34;DejaVu Sans&#34;") drops the font rule: the PDF fell back to a serif face
    html = (published / f"report-{lang}.html").read_text(encoding="utf-8")
    assert 'font-family: "DejaVu Sans"' in html and "&#34;" not in html.split("</style>")[0]
    if shutil.which("pdffonts") is None:
        pytest.skip("pdffonts (poppler-utils) is not installed; CI installs it")
    fonts = subprocess.run(["pdffonts", str(published / f"report-{lang}.pdf")], capture_output=True, text=True,
                           check=True).stdout
    assert "DejaVu-Sans" in fonts and "Serif" not in fonts, fonts


def _pdf_objects(path: Path) -> bytes:
    """The PDF with its Flate streams inflated. A stream is read up to ``endstream`` whatever its last
    bytes: matching an optional CR before the end cut a stream whose data ended in byte 0x0D, and the
    inflate of that stream (the one holding the /Alt entries, once) failed and was skipped. A partial
    inflate (decompressobj) keeps what a truncated stream holds."""
    raw = path.read_bytes()
    out = [raw]
    for m in re.finditer(rb"stream\r?\n(.*?)endstream", raw, re.S):
        try:
            out.append(zlib.decompressobj().decompress(m.group(1)))
        except zlib.error:
            continue
    return b"".join(out)


@pytest.mark.parametrize("lang", ["es", "en"])
def test_pdf_is_tagged_pdfa_with_alt_text_on_every_chart(published: Path, lang: str) -> None:
    html = (published / f"report-{lang}.html").read_text(encoding="utf-8")
    pdf = _pdf_objects(published / f"report-{lang}.pdf")
    assert b"pdfaid" in pdf  # PDF/A identification in the XMP metadata
    assert pdf.count(b"/Alt") >= html.count("<img")


def test_accessibility_check_fails_on_a_missing_alt_text(published: Path) -> None:
    html = (published / "report-en.html").read_text(encoding="utf-8")
    broken = re.sub(r'<img ([^>]*?) alt="[^"]*"', r"<img \1", html, count=1)
    assert broken != html
    assert check_accessibility(broken) == ["image 1 has no alt text"]
    assert check_accessibility(html.replace('<html lang="en">', "<html>")) == ["the document has no lang attribute"]
    outside = html.replace("</head>", '<link rel="stylesheet" href="https://example.org/x.css"></head>')
    assert check_accessibility(outside) == ["a <link> refers to an outside resource"]


@pytest.mark.parametrize("lang", ["es", "en"])
def test_report_shows_identifier_shares_drop_one_and_fit(run_dir: Path, lang: str) -> None:
    """The report's former gaps: shares of records with each identifier, the drop-one-list plot, and the fit
    (plot when no pattern is withheld, a reason otherwise) — none of the old "not part of a run" notes."""
    from cifranegra.report.i18n import messages
    from cifranegra.report.render import render_html

    t = messages(lang)
    rel = build_release(run_dir)
    html = render_html(rel, lang)
    assert str(t["share_curp"]) in html and str(t["id_share_missing"]) not in html
    assert f"{t['figure']}: {t['drop_one']}" in html
    assert "not part of a run" not in html and "no forman parte" not in html
    share, _ = rel.identifier_share(sorted(rel.run.records)[0], "full_name")
    assert share is None or f"{format_number(share * 100, lang)}%" in html
    fit, _ = rel.fit_rows()
    if fit is None:
        assert str(t["fit_withheld"]).split("{")[0] in html or str(t["fit_none"]).split("{")[0] in html
    else:
        assert f"{t['figure']}: {t['fit']}" in html
    assert not check_accessibility(html)


def test_without_weasyprint_the_html_is_written_and_a_note_says_why(
    run_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """WeasyPrint needs Pango from the system: when it cannot be imported, publish writes the HTML reports
    and says how to get the PDFs, instead of failing or writing nothing."""
    import sys

    from cifranegra.report.render import publish

    monkeypatch.setitem(sys.modules, "weasyprint", None)  # import weasyprint → ImportError
    said: list[str] = []
    done = publish(run_dir, tmp_path / "pub", langs="en", formats="html,pdf", progress=said.append)
    names = {p.name for p in done.files}
    assert "report-en.html" in names and "report-en.pdf" not in names
    assert done.notes and "Pango" in done.notes[0] and done.notes[0] in said
    done = publish(run_dir, tmp_path / "pub2", langs="en", formats="pdf")  # PDF only: the HTML instead
    assert (tmp_path / "pub2" / "report-en.html").is_file() and not (tmp_path / "pub2" / "report-en.pdf").exists()


def test_import_cifranegra_loads_no_report_package() -> None:
    import subprocess
    import sys

    code = ("import sys, cifranegra, cifranegra.cli, cifranegra.pipeline, cifranegra.report.rows; "
            "print(sorted(m for m in ('matplotlib', 'jinja2', 'weasyprint') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize("lang", ["es", "en"])
def test_the_headline_says_the_interval_includes_linkage(published: Path, lang: str) -> None:
    # the fixture's run combined imputed linkages: the report must not say the linkage is taken as fixed
    from cifranegra.report.i18n import messages

    html = (published / f"report-{lang}.html").read_text(encoding="utf-8")
    t = messages(lang)
    assert str(t["unc_linkage_note_yes"]).split("{share}")[0][:40] in html
    assert str(t["unc_linkage_note"]) not in html


@pytest.mark.parametrize("lang", ["es", "en"])
def test_the_headline_says_the_estimate_is_a_lower_bound(published: Path, lang: str) -> None:
    # issue 14, item 6: under capture heterogeneity that no list reaches every estimator falls short
    # (docs/estimation.md), so the report says so in plain words next to the headline estimate
    import html as html_lib

    from cifranegra.report.i18n import messages

    page = html_lib.unescape((published / f"report-{lang}.html").read_text(encoding="utf-8"))
    t = messages(lang)
    headline = page[page.index(str(t["includes"])):]
    assert str(t["lower_bound"]) in headline
    assert str(t["lower_bound_text"])[:60] in headline
    assert f"{t['unc_unreached']}: {t['not_included_pl']}" in headline


@pytest.mark.parametrize("lang", ["es", "en"])
def test_report_review_of_the_demo(published: Path, run_dir: Path, lang: str) -> None:
    """The review of the demo's report: the undetected count is an estimate, rounded once from the run's
    unrounded estimate; it was printed to the unit (the rounded estimate minus the detected)."""
    import html as html_lib
    import json
    import re

    from cifranegra.report.disclosure import DisclosurePolicy, round_estimate
    from cifranegra.report.i18n import messages

    page = html_lib.unescape((published / f"report-{lang}.html").read_text(encoding="utf-8"))
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))
    t = messages(lang)
    results = json.loads((run_dir / "results.json").read_text(encoding="utf-8"))
    chosen = next(e for e in results["estimates"] if e["stratum"] == "all")
    detected = int(re.search(rf"{re.escape(str(t['detected']))} ([\d,]+)", text).group(1).replace(",", ""))
    undetected = re.search(rf"{re.escape(str(t['undetected']))} ([\d,]+)", text).group(1)
    expected = round_estimate(chosen["estimate"] - detected, DisclosurePolicy())
    assert int(undetected.replace(",", "")) == expected and expected % 10 == 0


def test_the_pooled_row_is_everyone_not_a_period() -> None:
    """The report review: the pooled estimate of a run stratified by sex was labelled 'whole period'."""
    from cifranegra.report.disclosure import DisclosurePolicy
    from cifranegra.report.release import ALL
    from cifranegra.report.render import _Fmt

    assert _Fmt("es", DisclosurePolicy()).stratum(ALL) == "todas las personas (estimación conjunta)"
    assert _Fmt("en", DisclosurePolicy()).stratum(ALL) == "everyone (pooled estimate)"


def test_the_unknown_stratum_reason_is_in_the_reports_language() -> None:
    """The report review: the Spanish report's 'Motivo' column showed the run's English reason."""
    from cifranegra.report.i18n import messages

    assert str(messages("es")["reason_unknown_stratum"]).startswith("no registrado")
    assert "stratum value is unknown" not in str(messages("es")["reason_unknown_stratum"])


@pytest.mark.parametrize(("lang", "edition", "stratum_rate"), [("es", "edición 2023", "por cada 100,000 mujeres"),
                                                                ("en", "2023 edition", "per 100,000 women")])
def test_the_rate_notes_are_in_the_reports_language(published: Path, lang: str, edition: str,
                                                    stratum_rate: str) -> None:
    """The report review: the Spanish report named CONAPO's edition in English ("(2023 edition), mid-year
    population"), and a stratum's rate did not say per 100,000 of whom."""
    import html as html_lib
    import re

    page = html_lib.unescape((published / f"report-{lang}.html").read_text(encoding="utf-8"))
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))
    assert edition in text and "CONAPO, Conciliación Demográfica" in text
    if lang == "es":
        assert "edition" not in text and "mid-year population" not in text
    assert stratum_rate in text


def test_every_method_has_a_readers_name_in_each_language() -> None:
    """The report review: method codes (``mth-gamma3.5``) were all a reader saw; the report names each
    registered method in its language, with the code a project file uses."""
    from cifranegra.estimation.registry import TABLE
    from cifranegra.report.disclosure import DisclosurePolicy
    from cifranegra.report.i18n import messages
    from cifranegra.report.render import _Fmt

    for lang in ("es", "en"):
        assert set(messages(lang)["method_names"]) == set(TABLE), lang
    assert _Fmt("en", DisclosurePolicy()).method("mth-gamma3.5") == "model Mth, Gamma 3.5 (mth-gamma3.5)"
    assert _Fmt("es", DisclosurePolicy()).method("loglinear") == "modelos log-lineales (loglinear)"
    assert _Fmt("es", DisclosurePolicy()).method("not-a-method") == "not-a-method"
