#!/usr/bin/env python3
"""tests/test_screen_pat.py DB LOT STEP PLANT_X PLANT_Y - recompute the
dynamic PAT screen of `station screen` independently (Python's statistics
module, sqlite3) and compare it with what the station recorded.

For every wafer of LOT and every test (STEP, name, coords): the passing
dies' values (each part's final run), median = statistics.median, robust
sigma = IQR / 1.349 with the quartiles of statistics.quantiles(n=4,
method='inclusive'), limits median +- k*sigma clipped to the spec limits,
outliers = passing dies outside them. Checks: every screen_limit row of
the lot's latest screen matches (1e-9 relative), the set of dies rejected
by dpat is exactly the recomputed one, and the planted die (PLANT_X,
PLANT_Y) of every wafer is rejected although it passed its spec limits.
Prints the planted die's worst z-score per wafer. Exit 0 if all hold.
"""
import json
import sqlite3
import statistics
import sys


def close(a, b):
    if a is None or b is None:
        return a is None and b is None
    return abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))


def main():
    db, lot, step, px, py = sys.argv[1], sys.argv[2], sys.argv[3], \
        int(sys.argv[4]), int(sys.argv[5])
    h = sqlite3.connect(db)
    sid, cfg = h.execute(
        "SELECT s.id, s.config_text FROM screen s JOIN lot l ON l.id = s.lot_id"
        " WHERE l.name = ? ORDER BY s.seq DESC LIMIT 1", (lot,)).fetchone()
    k_default = 6.0
    min_samples = 20
    for line in cfg.splitlines():
        if line.strip().startswith('min_samples:'):
            min_samples = int(line.split(':')[1])
        if line.startswith('  k:'):
            k_default = float(line.split(':')[1])
    rows = h.execute(
        "SELECT w.id, w.name, p.id, p.die_x, p.die_y, r.status, m.name,"
        " m.coords, m.value, m.low, m.high FROM part p"
        " JOIN lot l ON l.id = p.lot_id JOIN wafer w ON w.id = p.wafer_id"
        " JOIN run r ON r.id = (SELECT max(id) FROM run WHERE part_id = p.id)"
        " JOIN measurement m ON m.run_id = r.id"
        " WHERE l.name = ? AND m.step = ? AND m.value IS NOT NULL"
        " ORDER BY m.seq_no", (lot, step)).fetchall()
    groups = {}
    for wid, wname, part, x, y, status, name, coords, v, lo, hi in rows:
        g = groups.setdefault((wid, name, coords), {
            'wafer': wname, 'vals': {}, 'pass': set(), 'spec': None})
        if part in g['vals']:
            continue   # first value of a key per run
        g['vals'][part] = (v, x, y)
        if status == 'pass':
            g['pass'].add(part)
        if g['spec'] is None and (lo is not None or hi is not None):
            g['spec'] = (lo, hi)
    expect_rejects = set()
    checked = 0
    planted = {}
    for (wid, name, coords), g in sorted(groups.items(),
                                         key=lambda i: (i[0][0], str(i[0][1]),
                                                        str(i[0][2]))):
        vals = [g['vals'][p][0] for p in sorted(g['pass'])]
        lo, hi = g['spec'] or (None, None)
        rec = h.execute(
            "SELECT n, median, robust_sigma, k, pat_low, pat_high, spec_low,"
            " spec_high, outliers, screened FROM screen_limit WHERE"
            " screen_id = ? AND method = 'dpat' AND wafer_id = ? AND"
            " step = ? AND name IS ? AND coords IS ?",
            (sid, wid, step, name, coords)).fetchall()
        assert len(rec) == 1, ('limit rows', wid, name, coords, rec)
        n, med, sig, k, pl, ph, sl, sh, outl, screened = rec[0]
        assert n == len(vals), ('n', coords, n, len(vals))
        assert close(sl, lo) and close(sh, hi), ('spec', coords, sl, sh, lo, hi)
        assert k == k_default
        emed = statistics.median(vals)
        q1, _, q3 = statistics.quantiles(vals, n=4, method='inclusive')
        esig = (q3 - q1) / 1.349
        assert close(med, emed), ('median', coords, med, emed)
        assert close(sig, esig), ('sigma', coords, sig, esig)
        if len(vals) < min_samples or esig == 0:
            assert screened == 0 and pl is None and ph is None
            continue
        epl, eph = emed - k * esig, emed + k * esig
        if lo is not None:
            epl = max(epl, lo)
        if hi is not None:
            eph = min(eph, hi)
        assert screened == 1 and close(pl, epl) and close(ph, eph), \
            ('limits', coords, pl, ph, epl, eph)
        out = {p for p in g['pass'] if not epl <= g['vals'][p][0] <= eph}
        assert outl == len(out), ('outliers', coords, outl, len(out))
        expect_rejects |= out
        checked += 1
        for p in g['pass']:
            v, x, y = g['vals'][p]
            if (x, y) == (px, py):
                z = (v - emed) / esig
                best = planted.get(g['wafer'])
                if best is None or z > best[0]:
                    planted[g['wafer']] = (z, v, emed, esig, hi, p in out)
    got = {p for (p, r) in h.execute(
        "SELECT part_id, reason FROM screen_die WHERE screen_id = ?", (sid,))
        if 'dpat ' in r}
    assert got == expect_rejects, ('rejected dies', sorted(got),
                                   sorted(expect_rejects))
    assert checked > 0, 'no test was screened'
    assert planted, 'the planted die was not found'
    for wafer, (z, v, med, sig, hi, out) in sorted(planted.items()):
        print('%s die (%d,%d): %.3f dBm, median %.3f, robust sigma %.4f,'
              ' z = %.1f, spec high %s, rejected %s'
              % (wafer, px, py, v, med, sig, z, hi, out))
        assert out, 'planted outlier not rejected on ' + wafer
        assert hi is None or v <= hi, 'planted die outside spec'
        assert z >= 8, 'planted die less than 8 sigma out'
    print('%d screened tests, %d dies rejected by dpat, all as recomputed'
          % (checked, len(expect_rejects)))
    return 0


if __name__ == '__main__':
    sys.exit(main())
