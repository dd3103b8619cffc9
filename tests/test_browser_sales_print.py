"""The printed sales document in a real browser (Debian's Chromium through Playwright) at desktop and phone width,
and its PDF as a picture (pdftoppm), in English and Traditional Chinese; screenshots under tests/artifacts/."""

from __future__ import annotations

import subprocess
from pathlib import Path

from playwright.sync_api import Page

from tests.browser_support import ARTIFACTS
from tests.sales_support import Shop

from .test_browser_staff import browser, page, playwright  # noqa: F401 - fixtures
from .test_sales_print import Crm, add_invoice, print_commands, shop  # noqa: F401 - fixtures


def test_the_page_and_the_pdf_look_right_in_both_languages(
    crm: Crm, shop: Shop, tmp_path: Path, page: Page,  # noqa: F811 - the fixture
) -> None:
    add_invoice(crm)
    ARTIFACTS.mkdir(exist_ok=True)
    for language in ("en", "zh_Hant"):
        html = tmp_path / f"INV1-{language}.html"
        crm("print", "INV1", "--format", "html", "--language", language, "--output", str(html))
        page.set_viewport_size({"width": 1280, "height": 900})
        page.goto(html.as_uri())
        page.screenshot(path=str(ARTIFACTS / f"sales-print-{language}.png"), full_page=True)
        title, company_name = page.locator("h1").bounding_box(), page.locator(".company").bounding_box()
        assert title and company_name and title["x"] > company_name["x"] + company_name["width"]  # side by side
        assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
        page.set_viewport_size({"width": 390, "height": 844})
        page.screenshot(path=str(ARTIFACTS / f"sales-print-{language}-phone.png"), full_page=True)
        title, company_name = page.locator("h1").bounding_box(), page.locator(".company").bounding_box()
        assert title and company_name and title["y"] > company_name["y"]  # stacked on a phone
        assert page.evaluate("[...document.querySelectorAll('.lines-wrap')].every(w => w.scrollWidth <= w.clientWidth)")
        assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")

        pdf = tmp_path / f"INV1-{language}.pdf"
        crm("print", "INV1", "--language", language, "--output", str(pdf))
        info = subprocess.run(["pdfinfo", str(pdf)], check=True, capture_output=True, text=True).stdout
        assert "Pages:           1" in info and "595.276 x 841.89 pts (A4)" in info
        shot = ARTIFACTS / f"sales-print-{language}-pdf"
        subprocess.run(["pdftoppm", "-r", "80", "-png", "-singlefile", str(pdf), str(shot)], check=True)
        assert shot.with_suffix(".png").stat().st_size > 20 * 1024
