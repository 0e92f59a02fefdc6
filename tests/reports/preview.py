"""See a report as a reader would: Markdown to HTML with GitHub-like CSS, screenshot by Chromium.

A development aid, not a test (CI has no browser):

    python -m tests.reports.preview demo-report/ /tmp/preview   # writes report.html + PNG slices

It needs ``markdown-it-py`` (dev extra) and a headless Chromium (Debian: ``apt-get install
chromium``). The HTML imitates what GitHub does to a Discussion body: GFM tables, raw HTML
(``<details>``), and ``> [!NOTE]`` alerts.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from pathlib import Path

from markdown_it import MarkdownIt
from PIL import Image

_CSS = """
body { font-family: -apple-system, BlinkMacSystemFont, "Segoe UI", "Noto Sans", Helvetica,
  Arial, sans-serif, "Noto Color Emoji"; font-size: 14px; line-height: 1.5; color: #1f2328;
  max-width: 980px; margin: 24px auto; padding: 0 16px; }
h1, h2 { border-bottom: 1px solid #d1d9e0; padding-bottom: .3em; }
h1 { font-size: 2em; } h2 { font-size: 1.5em; margin-top: 24px; } h3 { font-size: 1.25em; }
table { border-collapse: collapse; display: block; overflow: auto; margin-bottom: 16px; }
th, td { border: 1px solid #d1d9e0; padding: 6px 13px; }
th { font-weight: 600; } tr:nth-child(2n) { background: #f6f8fa; }
code { background: #eff1f3; border-radius: 6px; padding: .2em .4em; font-size: 85%;
  font-family: ui-monospace, SFMono-Regular, Menlo, monospace; }
pre { background: #f6f8fa; border-radius: 6px; padding: 16px; overflow: auto; }
pre code { background: none; padding: 0; }
blockquote { margin: 0 0 16px; padding: 0 1em; color: #59636e; border-left: .25em solid #d1d9e0; }
.alert { padding: 8px 16px; margin-bottom: 16px; border-left: .25em solid; color: inherit; }
.alert-note { border-color: #0969da; } .alert-warning { border-color: #9a6700; }
.alert-caution { border-color: #cf222e; }
.alert-title { font-weight: 600; margin: 0; }
img { max-width: 100%; } sub { color: #59636e; }
details { margin-bottom: 16px; } summary { cursor: pointer; }
"""
_ALERT = re.compile(r"<blockquote>\s*<p>\[!(NOTE|WARNING|CAUTION|TIP|IMPORTANT)\]\s*", re.S)


def to_html(markdown: str) -> str:
    renderer = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
    body = renderer.render(markdown)
    body = _ALERT.sub(
        lambda m: (
            f'<blockquote class="alert alert-{m[1].lower()}"><p class="alert-title">'
            f"{m[1].title()}</p><p>"
        ),
        body,
    )
    # A reader opens collapsed sections to read them; show them open in the preview.
    body = body.replace("<details>", "<details open>")
    return f"<!doctype html><meta charset='utf-8'><style>{_CSS}</style><body>{body}</body>"


def screenshot(html: Path, png: Path, height: int) -> None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        raise SystemExit("no chromium on PATH (Debian: apt-get install chromium)")
    subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            f"--window-size=1012,{height}",
            f"--screenshot={png}",
            html.resolve().as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )


def slices(png: Path, height: int = 1400) -> list[Path]:
    """Cut a long screenshot into pages, dropping the blank bottom."""
    image = Image.open(png).convert("RGB")
    bbox = Image.eval(image, lambda v: 255 - v).getbbox()
    bottom = bbox[3] + 20 if bbox else image.height
    pages = []
    for index, top in enumerate(range(0, bottom, height)):
        page = png.with_name(f"{png.stem}-{index + 1:02d}.png")
        image.crop((0, top, image.width, min(top + height, bottom))).save(page)
        pages.append(page)
    return pages


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("report", type=Path, help="the report folder (with report.md)")
    parser.add_argument("out", type=Path, help="where report.html and the screenshots go")
    parser.add_argument("--height", type=int, default=16000, help="screenshot height in px")
    options = parser.parse_args(argv)
    options.out.mkdir(parents=True, exist_ok=True)
    html = options.report / "report.html"
    html.write_text(
        to_html((options.report / "report.md").read_text(encoding="utf-8")), encoding="utf-8"
    )
    png = options.out / "report.png"
    screenshot(html, png, options.height)
    for page in slices(png):
        print(page)
    html.replace(options.out / "report.html")
    return 0


if __name__ == "__main__":
    sys.exit(main())
