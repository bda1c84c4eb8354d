"""report.html as a person sees it: headless Chromium renders the page, and the screenshot is checked where the
page's headings, a verdict sentence and the plot are (the DOM gives their places; the pixels must show them)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.report.chromium import Browser, ChromiumError, find_chromium
from tests.report.conftest import JudgedRun

SECTIONS = ("Experiment", "Steps", "Verdicts", "forward", "judge", "Plots")
PLOT_WIDTH = 600  # the fixture's 6x4 in figure at 100 dpi
BAR = (0x3B, 0x75, 0xAF)  # the fixture plot's bar colour
LAYOUT = """(() => {
  const box = e => { const r = e.getBoundingClientRect(); return [r.left + scrollX, r.top + scrollY, r.width, r.height]; };
  return {
    headings: [...document.querySelectorAll('h1, h2, h3')].map(h => [h.textContent.trim(), box(h)]),
    images: [...document.images].map(i => [i.alt, i.naturalWidth, box(i)]),
    sentences: [...document.querySelectorAll('td.sentence')].map(t => [t.textContent, box(t)]),
  };
})()"""
INSTALL = "Debian's `chromium` package, which `make test` installs where apt-get and root are available"


def render(page: Path, screenshot: Path) -> dict[str, Any]:
    """Open ``page`` in headless Chromium, save a full-page screenshot, return where things are on it."""
    executable = find_chromium()
    if executable is None:
        pytest.skip(f"Chromium is not installed, so the rendered report can't be checked ({INSTALL})")
    try:
        browser = Browser(executable).__enter__()
    except (ChromiumError, OSError) as error:
        pytest.skip(f"Chromium ({executable}) does not start headless here: {error}")
    try:
        browser.open(page.resolve().as_uri())
        layout = browser.evaluate(LAYOUT)
        browser.screenshot(screenshot)
    finally:
        browser.__exit__()
    return layout


def dark_pixels(image: Image.Image, box: list[float]) -> int:
    """Pixels of text (dark) inside ``box`` (x, y, width, height in page pixels)."""
    x, y, width, height = (round(v) for v in box)
    region = image.crop((x, y, x + width, y + height)).convert("L")
    return sum(count for level, count in enumerate(region.histogram()) if level < 110)


def colour_pixels(image: Image.Image, box: list[float], colour: tuple[int, int, int], tolerance: int = 16) -> int:
    x, y, width, height = (round(v) for v in box)
    region = image.crop((x, y, x + width, y + height)).convert("RGB")
    return sum(all(abs(a - b) <= tolerance for a, b in zip(pixel, colour)) for pixel in region.getdata())


def problems(page: Path, screenshot: Path, sentence: str) -> list[str]:
    """What the screenshot of ``page`` fails to show: a section heading, the verdict sentence, the plot."""
    layout = render(page, screenshot)
    image = Image.open(screenshot)
    found: list[str] = []
    headings = {text: box for text, box in layout["headings"]}
    for section in SECTIONS:
        if section not in headings:
            found.append(f"no heading '{section}'")
        elif dark_pixels(image, headings[section]) < 40:
            found.append(f"heading '{section}' is not visible in the screenshot")
    boxes = [box for text, box in layout["sentences"] if text == sentence]
    if not boxes or dark_pixels(image, boxes[0]) < 100:
        found.append(f"verdict sentence {sentence!r} is not shown")
    if len(layout["images"]) != 1:
        found.append(f"expected one plot, the page has {len(layout['images'])} images")
    for alt, natural_width, box in layout["images"]:
        if natural_width != PLOT_WIDTH:
            found.append(f"plot '{alt}' did not load (natural width {natural_width})")
        elif colour_pixels(image, box, BAR) < 2000:
            found.append(f"plot '{alt}' is not drawn in the screenshot")
    return found


def test_the_rendered_report_shows_its_sections_verdicts_and_plot(judged_run: JudgedRun, tmp_path: Path) -> None:
    sentence = judged_run.result.records[-1].output.table("verdicts")["sentence"].iloc[0]
    screenshot = tmp_path / "report.png"
    assert problems(judged_run.out / "report.html", screenshot, sentence) == []
    width, height = Image.open(screenshot).size
    assert width == 1280 and height > 2000

    broken = tmp_path / "broken.html"  # the same check catches a missing section and a broken image
    broken.write_text(judged_run.html.replace("<h2>Steps</h2>", "<h2></h2>")
                      .replace("data:image/png;base64,", "data:image/png;base64,broken"))
    found = problems(broken, tmp_path / "broken.png", sentence)
    assert "no heading 'Steps'" in found and any(p.startswith("plot 'mean_reward' did not load") for p in found)
