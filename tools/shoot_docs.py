#!/usr/bin/env python
"""Screenshot of a built docs page: its header (title, summary, Colab badge) stitched to one section.

The README's `nbs/images/tutorial_docs.png` is made this way, from the offline docs build:

    python tools/build_docs.py --out /tmp/book --execute 19_tutorial
    python tools/shoot_docs.py /tmp/book/_build/html/19_tutorial.html --section "5." --out nbs/images/tutorial_docs.png

Headless Chromium through Selenium (Debian's `chromium` and `chromium-driver`), 1,100 px wide. Two
viewport screenshots: the page top down to the Colab badge, then the page scrolled to the section's
heading with the sticky header and the sidebar hidden; the image is `--height` px in all.
"""
from __future__ import annotations
import argparse, io, time
from pathlib import Path

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('html', help='a page of the docs build')
    ap.add_argument('--section', required=True, help='the h2 heading to show starts with this text, e.g. "5."')
    ap.add_argument('--out', required=True); ap.add_argument('--height', type=int, default=1850); ap.add_argument('--width', type=int, default=1100)
    ap.add_argument('--chromium', default='/usr/bin/chromium'); ap.add_argument('--chromedriver', default='/usr/bin/chromedriver')
    a = ap.parse_args(argv)
    from PIL import Image
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    o = Options(); o.binary_location = a.chromium
    for arg in ('--headless=new', '--no-sandbox', '--disable-gpu', f'--window-size={a.width},{a.height + 100}', '--hide-scrollbars'): o.add_argument(arg)
    d = webdriver.Chrome(service=Service(a.chromedriver), options=o)
    try:
        d.get(Path(a.html).resolve().as_uri()); time.sleep(2)
        sec = f"[...document.querySelectorAll('h2')].find(e => e.textContent.trim().startsWith({a.section!r}))"
        if not d.execute_script(f'return !!{sec}'): raise SystemExit(f'{a.html}: no h2 heading starts with {a.section!r}')
        y_head = d.execute_script("const b = [...document.querySelectorAll('img')].find(e => (e.alt || '').includes('Colab'));"
                                  "return b ? b.getBoundingClientRect().bottom + window.scrollY + 16 : 0")
        shot = lambda: Image.open(io.BytesIO(d.get_screenshot_as_png()))
        head = shot().crop((0, 0, a.width, int(y_head)))
        d.execute_script("document.querySelectorAll('.bd-header, .bd-header-article, .bd-sidebar-primary').forEach(e => e.style.visibility = 'hidden')")
        d.execute_script(f'{sec}.scrollIntoView()'); time.sleep(0.8)
        top = int(d.execute_script(f'return {sec}.getBoundingClientRect().top - 14'))
        body = shot(); body = body.crop((0, max(top, 0), a.width, max(top, 0) + a.height - head.height))
    finally: d.quit()
    img = Image.new('RGB', (a.width, head.height + body.height), 'white'); img.paste(head, (0, 0)); img.paste(body, (0, head.height))
    img.save(a.out); print(a.out, img.size)

if __name__ == '__main__': main()
