#!/usr/bin/env python3
"""tests/test_report_html.py REPORT.html SCRATCH_DIR - open the lot report
in real headless Chromium (Debian's /usr/bin/chromium) and check what an
analyst would see:

 - it stands alone: no script, no external link, image, font or style
   (the only URL is the SVG namespace);
 - Chromium logs no console message of level warning or error while
   loading it (--enable-logging=stderr --v=0 prints them as CONSOLE lines);
 - its screenshot is not blank: the PNG (decoded here with zlib) has many
   non-white pixels and more than a handful of colours (wafer maps, bars).

Exit 0 if all hold, 77 if Chromium is not installed.
"""
import os
import re
import struct
import subprocess
import sys
import zlib

CHROMIUM = "/usr/bin/chromium"


def png_pixels(path):
    """(width, height, rows of RGB(A) tuples) of an 8-bit RGB/RGBA PNG."""
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, w = 8, b"", None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and ctype in (2, 6), (depth, ctype)
            bpp = 3 if ctype == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw = zlib.decompress(idat)
    stride = w * bpp
    rows, prev, i = [], bytearray(stride), 0
    for _ in range(h):
        f, line = raw[i], bytearray(raw[i + 1:i + 1 + stride])
        i += 1 + stride
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b = prev[x]
            c = prev[x - bpp] if x >= bpp else 0
            if f == 1:
                line[x] = (line[x] + a) & 255
            elif f == 2:
                line[x] = (line[x] + b) & 255
            elif f == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pr = a if pa <= pb and pa <= pc else b if pb <= pc else c
                line[x] = (line[x] + pr) & 255
        rows.append(bytes(line))
        prev = line
    return w, h, bpp, rows


def main():
    html, scratch = sys.argv[1], sys.argv[2]
    if not os.access(CHROMIUM, os.X_OK):
        print("no " + CHROMIUM)
        return 77
    text = open(html, encoding="utf-8").read()
    assert "<script" not in text.lower(), "report.html has a script"
    urls = set(re.findall(r"(?:https?|ftp|file)://[^\"' )>]+", text))
    assert urls <= {"http://www.w3.org/2000/svg"}, urls
    for attr in re.findall(r"(?:src|href)=\"([^\"]*)\"", text):
        assert attr.startswith("#"), "external reference " + attr
    assert "@import" not in text and "url(" not in text

    png = os.path.join(scratch, "report.png")
    profile = os.path.join(scratch, "chromium-profile")
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
           "--no-first-run", "--disable-extensions",
           "--user-data-dir=" + profile, "--enable-logging=stderr",
           "--v=0", "--window-size=1280,2400",
           "--screenshot=" + png, "file://" + os.path.abspath(html)]
    env = dict(os.environ, HOME=scratch)
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=90,
                       env=env)
    log = r.stdout + r.stderr
    assert r.returncode == 0, ("chromium exit", r.returncode, log[-2000:])
    console = [l for l in log.splitlines() if "CONSOLE" in l]
    assert not console, ("console messages", console)
    w, h, bpp, rows = png_pixels(png)
    colours, ink = set(), 0
    for row in rows[::4]:
        for x in range(0, w * bpp, bpp * 4):
            px = row[x:x + 3]
            colours.add(px)
            if px != b"\xff\xff\xff":
                ink += 1
    sampled = (h // 4 + 1) * (w // 4 + 1)
    print("screenshot %dx%d: %d colours, %.1f%% non-white (sampled)"
          % (w, h, len(colours), 100.0 * ink / sampled))
    assert len(colours) > 8, ("blank screenshot", len(colours))
    assert ink > sampled * 0.02, ("blank screenshot", ink, sampled)
    return 0


if __name__ == "__main__":
    sys.exit(main())
