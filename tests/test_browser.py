"""The notebook view as a real browser renders it (decisions "Display"): headless Chromium loads the
HTML of the README's example, a script reads what is rendered (``innerText``, which leaves out what a
closed ``<details>`` hides), and the test checks what a reader sees, not the markup.

Skipped when no Chromium is installed, unless ``IMGPATH_REQUIRE_BROWSER`` is set (``.ci/run`` sets it
after installing Debian's ``chromium-headless-shell``). ``IMGPATH_BROWSER`` names another binary.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

import imgpath

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "india-img-2027.toml"
_CANDIDATES = ("chromium-headless-shell", "chromium", "chromium-browser", "google-chrome")

_PROBE = """
<pre id="rendered"></pre><script>
const view = document.querySelector(".imgpath");
const table = document.querySelector(".imgpath > table");
const rows = [...table.rows].slice(1).map(tr => ({
  label: tr.cells[0].querySelector("code").innerText,
  description: tr.cells[0].querySelector(".d").innerText,
  answer: tr.cells[1].innerText.trim(),
}));
document.getElementById("rendered").textContent = JSON.stringify({text: view.innerText, rows: rows});
</script>"""


def _browser() -> str:
    found = os.environ.get("IMGPATH_BROWSER") or next(filter(None, map(shutil.which, _CANDIDATES)), None)
    if found is None:
        if os.environ.get("IMGPATH_REQUIRE_BROWSER"):
            pytest.fail("IMGPATH_REQUIRE_BROWSER is set but no Chromium was found")
        pytest.skip("no headless Chromium installed (apt-get install chromium-headless-shell)")
    return found


def _page(tmp_path: Path, ev: imgpath.Evaluation, name: str) -> Path:
    page = tmp_path / f"{name}.html"
    page.write_text(f'<!doctype html><html><head><meta charset="utf-8"></head><body>{ev._repr_html_()}'
                    f"{_PROBE}</body></html>", encoding="utf-8")
    return page


def _render(browser: str, page: Path) -> dict[str, Any]:
    dom = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", page.as_uri()],
                         capture_output=True, text=True, timeout=120, check=True).stdout
    probe = re.search(r'<pre id="rendered">(.*?)</pre>', dom, re.S)
    assert probe is not None and probe.group(1), "the page's script did not run"
    return json.loads(html.unescape(probe.group(1)))  # type: ignore[no-any-return]


def test_the_readme_example_reads_as_answers_in_a_browser(tmp_path: Path) -> None:
    """Valued conclusions show their value, sets their members or "none", UNKNOWN only when unknown,
    and every row its plain description (was: "YES 3", "YES none", "UNKNOWN []", names only)."""
    browser = _browser()
    ev = imgpath.evaluate(imgpath.load_applicant(EXAMPLE))
    seen = _render(browser, _page(tmp_path, ev, "priya"))
    rows = {r["label"]: r for r in seen["rows"]}
    assert set(rows) == {c.label for c in ev.conclusions}
    assert rows["gme_years_required(state='TX')"]["answer"] == "2"
    assert rows["gme_years_required(state='NY')"]["answer"] == "3"
    assert rows["alt_pathway_status(state='NY')"]["answer"] == "none"
    assert rows["nrmp_category"]["answer"] == "non_us_citizen_img"
    assert rows["j1_waiver_options"]["answer"] == "UNKNOWN"
    for label, row in rows.items():
        assert not re.match(r"(YES|NO|UNKNOWN)\s+\S", row["answer"]) or row["answer"].startswith("UNKNOWN (so far"), row
        name = label.split("(")[0]
        assert row["description"] == ev.book.conclusions[name].description != ""
    text = seen["text"]
    assert "YES 3" not in text and "YES none" not in text and "UNKNOWN []" not in text
    summary = text.index("In short")
    assert summary < text.index("conclusion\tanswer")
    assert "may_start_acgme_residency\tNO\tAn IMG holding an ECFMG certificate" in text


def test_sets_and_warnings_in_a_browser(tmp_path: Path) -> None:
    """A set shows its members (or "none"); warnings come before the verdicts."""
    browser = _browser()
    trained = imgpath.evaluate({"school": {"country": "IN"}, "person": {"us_family": False}, "training": [
        {"country": "US", "visa": "j1", "start": "2020-07-01", "end": "2023-06-30", "accreditor": "ACGME",
         "kind": "residency", "completed": True}]}, as_of=dt.date(2027, 3, 20))
    seen = _render(browser, _page(tmp_path, trained, "trained"))
    rows = {r["label"]: r for r in seen["rows"]}
    assert rows["j1_waiver_options"]["answer"] == "conrad30, iga, persecution"
    text = seen["text"]
    assert text.index("WARNING") < text.index("season_beyond_data") < text.index("conclusion\tanswer")
    nothing = imgpath.evaluate({"training": []}, as_of=dt.date(2026, 1, 15))
    rows = {r["label"]: r for r in _render(browser, _page(tmp_path, nothing, "none"))["rows"]}
    assert rows["j1_waiver_options"]["answer"] == "none"


def test_the_notebook_view_paints(tmp_path: Path) -> None:
    """A screenshot of the view: Chromium lays it out and paints it (a PNG of real size)."""
    browser = _browser()
    page = _page(tmp_path, imgpath.evaluate(imgpath.load_applicant(EXAMPLE)), "shot")
    shot = tmp_path / "shot.png"
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    "--window-size=1280,2400", f"--screenshot={shot}", page.as_uri()],
                   capture_output=True, timeout=120, check=True)
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (1280, 2400)
