"""The access report page in real headless Chromium (Debian's `chromium` and `chromium-driver`,
installed by .ci/run), driven by selenium: every group shown, filters and sorting work, the
principal search narrows both tables, nothing is fetched from the network, a shard's page
says which groups it covers. Saves a screenshot to `build/test-artifacts/access-report.png`
(or `$PIM_TEST_ARTIFACTS`).

Skipped when Chromium is not installed, except in CI (`CI=true`), where it must run."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from tests.cliutil import run_cli

ROOT = Path(__file__).resolve().parents[2]
NOW = "2026-12-01T12:00:00Z"
CHROMIUM = (shutil.which("chromium") or shutil.which("chromium-browser")
            or shutil.which("google-chrome"))  # GitHub's ubuntu runners ship Chrome
DRIVER = shutil.which("chromedriver") or shutil.which(
    "chromedriver", path=os.environ.get("CHROMEWEBDRIVER", ""))

if not (CHROMIUM and DRIVER):
    if os.environ.get("CI") == "true":
        raise RuntimeError("CI=true: the browser test needs chromium and chromedriver "
                           "(apt-get install chromium chromium-driver; .ci/run does it)")
    pytest.skip("chromium / chromedriver not installed", allow_module_level=True)

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import Select  # noqa: E402


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    tenant = out / "tenant.yaml"
    shutil.copy(ROOT / "examples" / "tenant.yaml", tenant)
    run = run_cli("--now", NOW, "report", str(ROOT / "examples" / "assignments"),
                  "--emulator", str(tenant), "--out", str(out))
    assert run.exit_code == 0, run.stderr
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1400,1800", "--no-first-run", "--disable-extensions"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        driver.get((out / "index.html").as_uri())
        yield driver
    finally:
        driver.quit()


def visible_rows(driver, selector: str = "table.rows tbody tr"):
    return [tr for tr in driver.find_elements(By.CSS_SELECTOR, selector) if tr.is_displayed()]


def reset(driver) -> None:
    for name in ("f-state", "f-access", "f-kind"):
        Select(driver.find_element(By.ID, name)).select_by_value("")
    box = driver.find_element(By.ID, "f-expiring")
    if box.is_selected():
        box.click()
    driver.find_element(By.ID, "f-search").clear()
    driver.execute_script("document.getElementById('f-search')"
                          ".dispatchEvent(new Event('input'))")


def test_every_group_is_shown_and_nothing_is_fetched(page):
    names = [h.text for h in page.find_elements(By.CSS_SELECTOR, "section.group > h2")]
    assert [n.split("\n")[0].replace("additive", "").replace("role-assignable", "").strip()
            for n in names] == [
        "PIM-App-Owners", "PIM-Contractors", "PIM-Database-Owners", "PIM-Finance-Approvers",
        "PIM-Network-Ops", "PIM-Oncall-Responders", "PIM-Platform-Admins",
        "PIM-Security-Readers"]
    assert len(visible_rows(page)) == 29
    assert page.find_element(By.ID, "f-shown").text == "29 of 29 assignment rows shown"
    resources = page.execute_script("return performance.getEntriesByType('resource').length")
    assert resources == 0


def test_filters_narrow_rows_and_hide_empty_groups(page):
    reset(page)
    Select(page.find_element(By.ID, "f-state")).select_by_value("drifted")
    rows = visible_rows(page)
    assert [r.get_attribute("data-principal") for r in rows] == [
        "dana.levi@contoso.example dana.levi@contoso.example"]
    groups = [s for s in page.find_elements(By.CSS_SELECTOR, "section.group") if s.is_displayed()]
    assert len(groups) == 1 and groups[0].find_element(By.TAG_NAME, "h2").text == \
        "PIM-Security-Readers"
    Select(page.find_element(By.ID, "f-state")).select_by_value("")
    page.find_element(By.ID, "f-expiring").click()
    assert sorted(r.get_attribute("data-principal").split()[0] for r in visible_rows(page)) == [
        "ben.carter@contoso.example", "grace.kim@contoso.example",
        "kofi.mensah@contoso.example", "mateo.rossi@contoso.example"]
    reset(page)
    Select(page.find_element(By.ID, "f-kind")).select_by_value("activation")
    assert [r.get_attribute("data-state") for r in visible_rows(page)] == ["activation"]
    reset(page)


def test_principal_search_narrows_both_tables(page):
    reset(page)
    page.find_element(By.ID, "f-search").send_keys("ELENA")
    assert len(visible_rows(page)) == 2  # member and owner of PIM-Database-Owners
    principal_rows = visible_rows(page, "table.principals tbody tr")
    assert len(principal_rows) == 2
    assert all("elena.petrova" in r.text for r in principal_rows[:1])
    reset(page)


def test_sorting_a_column(page):
    reset(page)
    section = next(s for s in page.find_elements(By.CSS_SELECTOR, "section.group")
                   if s.find_element(By.TAG_NAME, "h2").text == "PIM-Database-Owners")
    header = next(h for h in section.find_elements(By.CSS_SELECTOR, "th") if h.text.startswith(
        "end"))

    def ends():
        return [tr.find_elements(By.TAG_NAME, "td")[4].text
                for tr in section.find_elements(By.CSS_SELECTOR, "tbody tr")]

    header.click()
    assert ends() == sorted(ends())
    header.click()
    assert ends() == sorted(ends(), reverse=True)
    assert "desc" in header.get_attribute("class")


def test_screenshot_is_saved(page):
    reset(page)
    folder = Path(os.environ.get("PIM_TEST_ARTIFACTS", ROOT / "build" / "test-artifacts"))
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "access-report.png"
    page.set_window_size(1400, 1800)
    page.execute_script("document.activeElement.blur(); window.scrollTo(0, 0)")
    assert page.save_screenshot(str(target))
    assert target.stat().st_size > 50_000


def test_a_shards_page_says_which_groups_it_covers(page, tmp_path):
    """The unscoped page has no scope line; a `--shard 1/2` page shows one in its header,
    visible, naming the shard and its share of the groups, and shows just those groups."""
    assert page.find_elements(By.ID, "scope") == []
    tenant = tmp_path / "tenant.yaml"
    shutil.copy(ROOT / "examples" / "tenant.yaml", tenant)
    run = run_cli("--now", NOW, "report", str(ROOT / "examples" / "assignments"), "--emulator",
                  str(tenant), "--out", str(tmp_path), "--shard", "1/2")
    assert run.exit_code == 0, run.stderr
    groups = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))["scope"]["groups"]
    whole = page.current_url
    try:
        page.get((tmp_path / "index.html").as_uri())
        line = page.find_element(By.CSS_SELECTOR, "header #scope")
        assert line.is_displayed()
        assert line.text == (f"Scope shard 1/2: {len(groups)} of 8 groups · this page covers "
                             "only these groups.")
        shown = [h.text.split("\n")[0].replace("additive", "").replace("role-assignable", "")
                 .strip() for h in page.find_elements(By.CSS_SELECTOR, "section.group > h2")]
        assert shown == sorted(groups, key=str.lower)
        assert page.find_element(By.CSS_SELECTOR, '[data-count="groups"]').text == str(len(groups))
    finally:
        page.get(whole)
