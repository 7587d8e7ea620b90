"""The whole story in a real browser (Playwright driving Debian's chromium, never a downloaded browser).

Three agencies submit to one study — one through the web form (the check first: its report is shown,
nothing is kept; then the submission), two with the agencies' command-line client — a coordinator
starts a run and follows its progress, a second person approves the release, and the public page shows
it. The server is ``cifranegra hub serve`` (uvicorn plus its job runner) on a free loopback port with a
temporary home. Screenshots go to ``tests/service/artifacts/`` (ignored by git); with ``CIFRANEGRA_UPDATE_DOCS_IMG=1``
two of them are copied to ``docs/img/hub-submit.png`` and ``docs/img/hub-release.png``.

Skipped with the reason when chromium or the playwright package is missing (CI installs chromium).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi", reason="the hub's extra is not installed: pip install 'cifranegra[hub]'")
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed: pip install playwright")

import httpx  # noqa: E402

from service.encoded_factory import write_encoded_file  # noqa: E402
from service.live_hub import API, PASSWORD, LiveHub, init_home, login  # noqa: E402

CHROMIUM = os.environ.get("CIFRANEGRA_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).parent / "artifacts"
DOCS_IMG = Path(__file__).resolve().parents[2] / "docs" / "img"
#: the docs' screenshots are refreshed only when asked (CIFRANEGRA_UPDATE_DOCS_IMG=1), so that a test run
#: never changes tracked files
UPDATE_DOCS_IMG = os.environ.get("CIFRANEGRA_UPDATE_DOCS_IMG") == "1"
STUDY = "trata-2025"
AGENCIES = ("Fiscalía Norte", "DIF Estatal", "Refugio Esperanza")
RUN_TIMEOUT_MS = 180_000

# about a minute (a server, a real run of the pipeline, a browser): in the slow suite, which CI runs too
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).is_file(),
                       reason=f"chromium is not installed at {CHROMIUM} (Debian: apt-get install chromium)"),
]


def _post(url: str, path: str, token: str, body: dict[str, Any]) -> dict[str, Any]:
    response = httpx.post(url + API + path, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=60)
    assert response.status_code == 201, (path, response.status_code, response.text)
    return dict(response.json())


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveHub]:
    root = tmp_path_factory.mktemp("browser")
    with LiveHub(init_home(root / "home"), workers=1) as live:
        admin = login(live.url, "admin")
        for agency in AGENCIES:
            _post(live.url, "/agencies", admin, {"name": agency})
        _post(live.url, "/users", admin, {"username": "coordinadora", "password": PASSWORD, "role": "coordinator"})
        _post(live.url, "/studies", login(live.url, "coordinadora"), {"name": STUDY})
        _post(live.url, "/users", admin, {"username": "aprobadora", "password": PASSWORD, "role": "approver",
                                          "study": STUDY})
        for i, agency in enumerate(AGENCIES):
            _post(live.url, "/users", admin, {"username": f"envio-{i}", "password": PASSWORD,
                                              "role": "agency_submitter", "agency": agency, "study": STUDY})
        yield live


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM)
        try:
            yield chromium
        finally:
            chromium.close()


def _shot(page: Any, name: str, *, full_page: bool = True) -> Path:
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


def _log_in(browser: Any, url: str, username: str, lang: str) -> Any:
    context = browser.new_context(viewport={"width": 1100, "height": 800}, locale="es-MX")
    page = context.new_page()
    page.goto(f"{url}/login?lang={lang}")
    page.get_by_label("Usuario" if lang == "es" else "Username").fill(username)
    page.get_by_label("Contraseña" if lang == "es" else "Password").fill(PASSWORD)
    page.get_by_role("button", name="Entrar" if lang == "es" else "Log in").click()
    page.wait_for_url(re.compile(r".*/(studies.*)?$"))
    return page


def test_agencies_submit_a_coordinator_runs_a_second_person_approves_the_public_sees(
    hub: LiveHub, browser: Any, tmp_path: Path
) -> None:
    from cifranegra.service.client import submit

    expect = sync_api.expect
    files = {agency: write_encoded_file(tmp_path / f"list-{i}.parquet", STUDY, agency, 120, population=400)
             for i, agency in enumerate(AGENCIES)}

    # two agencies submit with the command-line client (`cifranegra hub submit`)
    for i, agency in enumerate(AGENCIES[1:], start=1):
        token_file = tmp_path / f"token-{i}"
        token_file.write_text(login(hub.url, f"envio-{i}"))
        token_file.chmod(0o600)
        receipt = submit(files[agency], hub=hub.url, study=STUDY, token_file=token_file)
        assert receipt["n_records"] == 120

    # one agency through the web form, in Spanish: check first (report shown, nothing kept), then submit
    agency = _log_in(browser, hub.url, "envio-0", "es")
    _shot(agency, "01-login-home-agency")
    expect(agency.locator("h1")).to_have_text("Envíos de Fiscalía Norte")
    agency.get_by_label("Archivo codificado (.parquet)").set_input_files(str(files[AGENCIES[0]]))
    agency.get_by_role("button", name="Revisar sin enviar").click()
    expect(agency.locator("#report h2")).to_contain_text("pasó la revisión: 120 registros")
    expect(agency.locator("table.data tbody tr")).to_have_count(0)
    _shot(agency, "02-agency-dry-run")
    agency.get_by_label("Archivo codificado (.parquet)").set_input_files(str(files[AGENCIES[0]]))
    agency.get_by_role("button", name="Enviar", exact=True).click()
    expect(agency.locator("#report h2")).to_have_text("Archivo recibido: 120 registros.")
    expect(agency.locator("table.data tbody tr")).to_have_count(1)
    submitted = _shot(agency, "03-agency-submitted")
    if UPDATE_DOCS_IMG:
        shutil.copyfile(submitted, DOCS_IMG / "hub-submit.png")
    # keyboard: the first Tab reaches the skip link
    agency.keyboard.press("Tab")
    assert agency.evaluate("document.activeElement.className") == "skip"

    # the coordinator starts a run and follows it until it has finished
    coordinator = _log_in(browser, hub.url, "coordinadora", "en")
    coordinator.get_by_role("link", name=STUDY).click()
    expect(coordinator.locator("h1")).to_have_text(f"Study {STUDY}")
    expect(coordinator.locator("section[aria-labelledby=subs] tbody tr")).to_have_count(3)
    coordinator.get_by_role("button", name="Start a run").click()
    expect(coordinator.locator("h1")).to_contain_text("Run ")
    _shot(coordinator, "04-run-progress")
    expect(coordinator.locator("#run-state")).to_have_text(re.compile("finished|failed"), timeout=RUN_TIMEOUT_MS)
    assert coordinator.locator("#run-state").inner_text() == "finished", coordinator.locator("dl.meta").inner_text()
    _shot(coordinator, "05-run-finished")
    coordinator.get_by_role("link", name=f"Study {STUDY}").click()
    coordinator.get_by_label("Release title").fill("Víctimas de trata estimadas, 2023")
    coordinator.get_by_role("button", name="Draft").click()
    expect(coordinator.locator(".notice.ok")).to_have_text("Draft ready; another person must approve it.")

    # a second person approves
    approver = _log_in(browser, hub.url, "aprobadora", "en")
    expect(approver.locator("h1")).to_have_text("Review and approve")
    _shot(approver, "06-review")
    # by keyboard only: Tab to the approve button (its focus outline visible), Enter
    label = "Approve and publish “Víctimas de trata estimadas, 2023”"
    for _ in range(60):
        approver.keyboard.press("Tab")
        if approver.evaluate("document.activeElement.getAttribute('aria-label')") == label:
            break
    else:
        pytest.fail("the approve button cannot be reached with the Tab key")
    outline = approver.evaluate("getComputedStyle(document.activeElement).outlineStyle + ' ' + "
                                "getComputedStyle(document.activeElement).outlineWidth")
    assert outline == "solid 3px", outline
    approver.keyboard.press("Enter")
    expect(approver.locator(".notice.ok")).to_have_text("Release approved: it is public now.")

    # the public sees the release, with its tables
    public = browser.new_context(viewport={"width": 1100, "height": 800}).new_page()
    public.goto(f"{hub.url}/releases?lang=en")
    public.get_by_role("link", name="Víctimas de trata estimadas, 2023").click()
    expect(public.locator("h1")).to_have_text("Víctimas de trata estimadas, 2023")
    expect(public.locator("table.data").first).to_be_visible()  # the estimates, open
    assert public.locator("figure img").count() >= 1  # the report's charts
    assert public.locator("details").count() >= 1  # every other table, one click away
    _shot(public, "07-public-release")
    release_top = _shot(public, "07-public-release-top", full_page=False)
    if UPDATE_DOCS_IMG:
        shutil.copyfile(release_top, DOCS_IMG / "hub-release.png")
    report = public.get_by_role("link", name="Full report with charts (HTML)")
    assert public.request.get(hub.url + report.get_attribute("href")).status == 200
