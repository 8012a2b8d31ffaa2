#!/usr/bin/env python3
"""Render `lotc graph --format mermaid` output with real Mermaid in headless Chromium.

Usage:
    python bench/graph-render/render.py [--mermaid-dir /tmp/mmd] FILE.mmd [FILE.mmd ...]

For each FILE.mmd it writes FILE.html (loads mermaid.min.js, calls
mermaid.render() and puts either the SVG or the error text into the page),
FILE.png (a Chromium screenshot) and prints OK / ERROR with Mermaid's message
(read back through --dump-dom).

Needs: Debian `chromium` (/usr/bin/chromium) and `npm install mermaid` in
--mermaid-dir (default /tmp/mmd).  No network access is used at render time.
"""

from __future__ import annotations

import argparse
import html
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

PAGE = """<!doctype html>
<html><head><meta charset="utf-8">
<script src="{mermaid_js}"></script>
<style>body{{font-family:sans-serif;margin:8px;background:#fff}}
#status{{font:12px monospace;white-space:pre-wrap}}</style></head>
<body><div id="status">PENDING</div><div id="out"></div>
<script>
const src = {source};
mermaid.initialize({{startOnLoad:false, securityLevel:'strict', flowchart:{{htmlLabels:{html_labels}}}}});
(async () => {{
  const status = document.getElementById('status');
  try {{
    await mermaid.parse(src);
    const {{svg}} = await mermaid.render('graph', src);
    document.getElementById('out').innerHTML = svg;
    const labels = [...document.querySelectorAll('#out .nodeLabel, #out .edgeLabel, #out text')]
      .map(e => e.textContent.trim()).filter(t => t);
    status.textContent = 'RENDER_OK\\nLABELS:' + JSON.stringify([...new Set(labels)]);
  }} catch (err) {{
    status.textContent = 'RENDER_ERROR\\n' + (err && (err.message || err.str) || String(err));
  }}
}})();
</script></body></html>
"""

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--allow-file-access-from-files",
    "--virtual-time-budget=15000",
]


def chromium(args: list[str]) -> str:
    with tempfile.TemporaryDirectory() as profile:
        done = subprocess.run(
            ["chromium", *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
            capture_output=True,
            text=True,
            timeout=120,
        )
    return done.stdout


def render(mmd: Path, mermaid_dir: Path, size: str, html_labels: bool) -> bool:
    page = mmd.with_suffix(".html")
    page.write_text(
        PAGE.format(
            mermaid_js=(
                mermaid_dir / "node_modules/mermaid/dist/mermaid.min.js"
            ).as_uri(),
            source=json.dumps(mmd.read_text()),
            html_labels="true" if html_labels else "false",
        )
    )
    dom = chromium(["--dump-dom", page.as_uri()])
    match = re.search(r'<div id="status">(.*?)</div>', dom, re.S)
    status = html.unescape(match.group(1)) if match else "NO STATUS (page did not run)"
    png = mmd.with_suffix(".png")
    chromium([f"--screenshot={png}", f"--window-size={size}", page.as_uri()])
    ok = status.startswith("RENDER_OK")
    print(f"{mmd}: {'OK' if ok else 'ERROR'}  -> {png}")
    print("   " + status.replace("\n", "\n   "))
    return ok


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--mermaid-dir", type=Path, default=Path("/tmp/mmd"))
    parser.add_argument("--window-size", default="1600,1200")
    parser.add_argument(
        "--svg-labels",
        action="store_true",
        help="render with flowchart.htmlLabels=false",
    )
    opts = parser.parse_args()
    results = [
        render(f.resolve(), opts.mermaid_dir, opts.window_size, not opts.svg_labels)
        for f in opts.files
    ]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
