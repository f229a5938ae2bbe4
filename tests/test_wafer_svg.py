#!/usr/bin/env python3
"""tests/test_wafer_svg.py - check the wafer pictures (wafermap_*.svg) of
`station report` runs against their databases, and report.html's inline
maps against the pictures. The SVG is parsed here (xml.etree) and every
expectation is computed here from the raw tables (sqlite3); nothing is
shared with reports/.

    test_wafer_svg.py DB DIR [DB DIR ...]

Each DIR holds the reports of DB (default selection: each part's latest
run). Checked for every wafer:
  - one picture per wafer, titled with its lot, wafer and yield; the
    subtitle names every sequence (name vN), limits set (sha256[:12]) and
    the test dates of the runs shown;
  - geometry: from the wafer row's map_* columns (the prober's) when set -
    the outline circle has the wafer's diameter (die width / circle radius
    = die width / half the diameter), the sites are the whole dies inside
    the usable radius plus any tested die; otherwise the bounding box of the
    lot's tested dies, the picture saying so;
  - in both views (soft and hard): every site once, tested dies with their
    final bin and pass flag, untested sites white and dashed; each die at
    its grid place; the fill of every die and key is the fixed palette of
    its bin number (docs/REPORTS.md), and one (bin, pass) has one colour
    across all the DIRs given;
  - one retest mark per retested die (a part with more than one run), on
    those dies; a heavy outline on each die the lot's latest screen
    rejects; one notch at the recorded angle (270, down, when unknown);
  - report.html, when DIR has one: its inline maps are the pictures, byte
    for byte (without the XML declaration).
Exit 0 when all holds.
"""
import glob
import math
import re
import sqlite3
import sys
import xml.etree.ElementTree as ET

NS = "{http://www.w3.org/2000/svg}"
PASS_FILL = "#2ca02c"
NOBIN_FILL = "#ffffff"
PALETTE = ["#d55e00", "#0072b2", "#e69f00", "#cc79a7", "#56b4e9",
           "#f0e442", "#9467bd", "#8c564b", "#7f7f7f", "#bcbd22",
           "#17becf", "#e377c2"]
WAFER_PX = 400.0


def colour(bin_, passed):
    if passed:
        return PASS_FILL
    if bin_ is None:
        return NOBIN_FILL
    return PALETTE[bin_ % len(PALETTE)]


def near(a, b, tol=0.011):
    return abs(float(a) - float(b)) <= tol


def parts_of(h):
    """Selected parts: each part's latest run, its final bins."""
    tables = {r[0] for r in h.execute("SELECT name FROM sqlite_master")}
    out = []
    for pid, lot, wafer, x, y in h.execute(
            "SELECT p.id, l.name, w.name, p.die_x, p.die_y FROM part p"
            " JOIN lot l ON l.id = p.lot_id JOIN wafer w ON w.id ="
            " p.wafer_id WHERE p.die_x IS NOT NULL").fetchall():
        runs = [r[0] for r in h.execute(
            "SELECT id FROM run WHERE part_id = ? ORDER BY id", (pid,))]
        if not runs:
            continue
        rid = runs[-1]
        status, hb, sb, seq, lim, started = h.execute(
            "SELECT status, hard_bin, soft_bin, sequence_id, limits_id,"
            " started_at FROM run WHERE id = ?", (rid,)).fetchone()
        scr = None
        if "screen_die" in tables:
            scr = h.execute(
                "SELECT d.hard_bin, d.soft_bin FROM screen_die d JOIN screen"
                " s ON s.id = d.screen_id WHERE d.run_id = ? AND s.seq ="
                " (SELECT max(seq) FROM screen z WHERE z.lot_id = s.lot_id)",
                (rid,)).fetchone()
        if scr:
            status, hb, sb = "fail", scr[0], scr[1]
        name, ver = h.execute("SELECT name, version FROM sequence WHERE"
                              " id = ?", (seq,)).fetchone()
        sha = None
        if lim is not None:
            sha = h.execute("SELECT sha256 FROM limits_set WHERE id = ?",
                            (lim,)).fetchone()[0]
        out.append(dict(lot=lot, wafer=wafer, x=x, y=y, passed=status ==
                        "pass", hb=hb, sb=sb, retest=len(runs) > 1,
                        screened=bool(scr), seq=f"{name} v{ver}",
                        limits=sha[:12] if sha else "the sequence's own",
                        day=started[:10]))
    return out


def geometry(h, lot, wafer, parts):
    """(real, cols, rows, x0, y0, die_w, die_h, diameter, edge, notch,
    sites) - the prober's, or the bounding box of the lot's dies."""
    cols = {r[1] for r in h.execute("PRAGMA table_info(wafer)")}
    row = None
    if "map_diameter_mm" in cols:
        row = h.execute(
            "SELECT w.map_diameter_mm, w.map_die_w_um, w.map_die_h_um,"
            " w.map_cols, w.map_rows, w.map_edge_mm, w.map_notch_deg FROM"
            " wafer w JOIN lot l ON l.id = w.lot_id WHERE l.name = ? AND"
            " w.name = ? AND w.map_diameter_mm IS NOT NULL",
            (lot, wafer)).fetchone()
    tested = {(p["x"], p["y"]) for p in parts
              if p["lot"] == lot and p["wafer"] == wafer}
    if row:
        d, dw, dh, nc, nr, edge, notch = row
        dw, dh, edge = dw / 1000, dh / 1000, edge or 0.0
        r = d / 2 - edge
        sites = set()
        for j in range(nr):
            for i in range(nc):
                xs = [(i - nc / 2) * dw, (i + 1 - nc / 2) * dw]
                ys = [(j - nr / 2) * dh, (j + 1 - nr / 2) * dh]
                if all(x * x + y * y <= r * r + 1e-9 for x in xs for y in ys):
                    sites.add((i, j))
        sites |= {t for t in tested if 0 <= t[0] < nc and 0 <= t[1] < nr}
        return (True, nc, nr, 0, 0, dw, dh, d, edge,
                270.0 if notch is None else notch, sites)
    lot_dies = {(p["x"], p["y"]) for p in parts if p["lot"] == lot}
    x0, y0 = min(x for x, _ in lot_dies), min(y for _, y in lot_dies)
    nc = max(x for x, _ in lot_dies) - x0 + 1
    nr = max(y for _, y in lot_dies) - y0 + 1
    sites = {(x - x0, y - y0) for x, y in lot_dies}
    return (False, nc, nr, x0, y0, 1.0, 1.0, None, 0.0, 270.0, sites)


def texts(root):
    return {t.get("class"): "".join(t.itertext())
            for t in root.iter(NS + "text") if t.get("class")}


def check_view(g, view, geo, parts, fills, where):
    real, nc, nr, x0, y0, dw, dh, dia, edge, notch, sites = geo
    circles = [c for c in g.iter(NS + "circle") if c.get("class") == "outline"]
    assert len(circles) == 1, (where, "outline circles", len(circles))
    c = circles[0]
    cx, cy, r = float(c.get("cx")), float(c.get("cy")), float(c.get("r"))
    # The same circle size on every picture: maps compare side by side.
    assert near(r, WAFER_PX / 2), (where, "radius", r)
    if real:
        assert near(c.get("data-diameter-mm"), dia, 1e-3), (where, "diameter")
    rects = [e for e in g.iter(NS + "rect")
             if e.get("class") in ("die", "untested")]
    seen = {}
    for e in rects:
        key = (int(e.get("data-x")) - x0, int(e.get("data-y")) - y0)
        assert key not in seen, (where, "site twice", key)
        seen[key] = e
    assert set(seen) == sites, (where, "sites", sorted(set(seen) ^ sites))
    # dies off the prober's grid are counted in the title, never drawn
    byxy = {(p["x"] - x0, p["y"] - y0): p for p in parts
            if 0 <= p["x"] - x0 < nc and 0 <= p["y"] - y0 < nr}
    scale = None
    for key, e in seen.items():
        w, h = float(e.get("width")), float(e.get("height"))
        if scale is None:
            scale = w / dw
            if real:   # die px / circle px = die mm / diameter mm
                assert near(w / (2 * r), dw / dia, 1e-4), (where, "scale")
        assert near(w, dw * scale) and near(h, dh * scale), (where, key)
        # its grid place: the grid centred on the circle
        assert near(float(e.get("x")) - cx, (key[0] - nc / 2) * w), \
            (where, "x place", key)
        assert near(float(e.get("y")) - cy, (key[1] - nr / 2) * h), \
            (where, "y place", key)
        corners = [(float(e.get("x")) + a * w - cx,
                    float(e.get("y")) + b * h - cy)
                   for a in (0, 1) for b in (0, 1)]
        if not real:   # the inferred outline holds every site
            assert all(math.hypot(*p) <= r + 0.01 for p in corners), \
                (where, "outside the outline", key)
        p = byxy.get(key)
        if p is None:
            assert e.get("class") == "untested", (where, "untested", key)
            assert e.get("fill") == NOBIN_FILL and e.get("stroke-dasharray"), \
                (where, "untested look", key)
            continue
        assert e.get("class") == "die", (where, "tested", key)
        assert not e.get("stroke-dasharray"), (where, "dashed die", key)
        b = p["hb"] if view == "hard" else p["sb"]
        assert e.get("data-bin") == ("" if b is None else str(b)), \
            (where, "bin", key, e.get("data-bin"), b)
        assert e.get("data-pass") == ("1" if p["passed"] else "0"), \
            (where, "pass", key)
        assert e.get("fill") == colour(b, p["passed"]), (where, "fill", key)
        assert fills.setdefault((b, p["passed"]), e.get("fill")) == \
            e.get("fill"), (where, "colour differs between pictures", b)
        assert (e.get("stroke-width") == "2") == p["screened"], \
            (where, "screen outline", key)
    marks = [(int(m.get("data-x")) - x0, int(m.get("data-y")) - y0)
             for m in g.iter(NS + "path") if m.get("class") == "retest"]
    want = sorted(k for k, p in byxy.items() if p["retest"])
    assert sorted(marks) == want, (where, "retest marks", marks, want)
    notches = [m for m in g.iter(NS + "path") if m.get("class") == "notch"]
    assert len(notches) == 1 and near(notches[0].get("data-deg"), notch,
                                      0.051), (where, "notch")
    # the key: one entry per (bin, pass) shown, its count after the colon
    keys = {}
    kids = list(g)
    for n, k in enumerate(kids):
        if k.tag != NS + "rect" or k.get("class") != "key":
            continue
        b = None if k.get("data-bin") == "" else int(k.get("data-bin"))
        ok = k.get("data-pass") == "1"
        assert k.get("fill") == colour(b, ok), (where, "key fill", b)
        assert (b, ok) not in keys, (where, "key twice", b)
        keys[(b, ok)] = int("".join(kids[n + 1].itertext()).rsplit(": ", 1)[1])
    want = {}
    for p in byxy.values():
        b = p["hb"] if view == "hard" else p["sb"]
        want[(b, p["passed"])] = want.get((b, p["passed"]), 0) + 1
    assert keys == want, (where, "keys", keys, want)


def check_dir(db, out, fills):
    h = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    parts = parts_of(h)
    wafers = sorted({(p["lot"], p["wafer"]) for p in parts})
    files = sorted(glob.glob(f"{out}/wafermap_*.svg"))
    assert len(files) == len(wafers), (out, "pictures", files, wafers)
    pictures = {}
    for path in files:
        text = open(path, encoding="utf-8").read()
        root = ET.fromstring(text.encode())
        t = texts(root)
        m = re.match(r"Lot (.*) wafer (.*): yield", t["title"])
        assert m, (path, t["title"])
        lot, wafer = m.group(1), m.group(2)
        assert (lot, wafer) in wafers, (path, lot, wafer)
        pictures[(lot, wafer)] = text
        ps = [p for p in parts if p["lot"] == lot and p["wafer"] == wafer]
        ok = sum(p["passed"] for p in ps)
        assert t["title"] == (f"Lot {lot} wafer {wafer}: yield "
                              f"{100.0 * ok / len(ps):.2f}% ({ok} of "
                              f"{len(ps)} dies pass)"), (path, t["title"])
        days = sorted({p["day"] for p in ps})
        when = days[0] + (f" to {days[-1]}" if len(days) > 1 else "")
        want = (f"sequence {', '.join(sorted({p['seq'] for p in ps}))}; "
                f"limits {', '.join(sorted({p['limits'] for p in ps}))}; "
                f"tested {when}")
        assert t["subtitle"] == want, (path, t["subtitle"], want)
        geo = geometry(h, lot, wafer, parts)
        if geo[0]:
            assert t["geometry"].startswith(f"prober map: {geo[7]:.0f} mm"), \
                (path, t["geometry"])
        else:
            assert t["geometry"].startswith("no prober geometry recorded"), \
                (path, t["geometry"])
        off = sum(not (0 <= p["x"] - geo[3] < geo[1] and
                       0 <= p["y"] - geo[4] < geo[2]) for p in ps)
        assert t["geometry"].endswith(
            f"; {off} tested die{'' if off == 1 else 's'} off the prober's"
            " map (not drawn)" if off else "(heavy outline)"), \
            (path, "off the map", off, t["geometry"])
        views = {g.get("data-view"): g for g in root.iter(NS + "g")
                 if g.get("class") == "view"}
        assert set(views) == {"soft", "hard"}, (path, sorted(views))
        for view, g in views.items():
            check_view(g, view, geo, ps, fills, f"{path} {view}")
    try:
        html = open(f"{out}/report.html", encoding="utf-8").read()
    except FileNotFoundError:
        return len(files)
    inline = re.findall(r'<svg class="wafermap".*?</svg>\n', html, re.S)
    files_text = sorted(t.split("\n", 1)[1] for t in pictures.values())
    assert sorted(inline) == files_text, (out, "report.html maps differ")
    return len(files)


def main(argv):
    if len(argv) < 3 or len(argv) % 2 == 0:
        sys.exit(__doc__)
    fills = {}
    n = 0
    for i in range(1, len(argv), 2):
        n += check_dir(argv[i], argv[i + 1], fills)
    print(f"{n} wafer pictures checked; colours {sorted(fills.items(), key=str)}")


if __name__ == "__main__":
    main(sys.argv)
