#!/usr/bin/env python3
"""tests/test_reports_csv.py - check the CSV reports of one `station
report` run against the database, with numbers computed here from the raw
tables (Python's sqlite3, statistics and csv modules; nothing shared with
reports/).

    test_reports_csv.py OUT_DIR DB [--first-pass] [--lot L] [--by-coords]

Exit 0 when every report holds exactly the expected rows.
"""
import csv
import datetime
import math
import sqlite3
import statistics
import sys


def close(a, b):
    if a == "" or b is None:
        return a == "" and b is None
    return math.isclose(float(a), b, rel_tol=1e-9, abs_tol=1e-300)


def load(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def pct(a, b):
    return "" if b == 0 else f"{100.0 * a / b:.2f}"


def type7(xs, p):
    xs = sorted(xs)
    h = (len(xs) - 1) * p
    lo = math.floor(h)
    if lo + 1 >= len(xs):
        return xs[-1]
    return xs[lo] + (h - lo) * (xs[lo + 1] - xs[lo])


def iso_ms(text):
    """Milliseconds since the epoch of a stored time (2025-01-31T12:34:56.789Z)."""
    t = datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ")
    t = t.replace(tzinfo=datetime.timezone.utc)
    return round(t.timestamp() * 1000)


def nearest_rank(xs, pct):
    """Smallest value with at least pct % of the values at or below it."""
    xs = sorted(xs)
    return xs[max(1, -(-len(xs) * pct // 100)) - 1]


def cpk_of(vals, low, high):
    """Cpk against the limits there are, None without spread or limits."""
    if len(vals) < 2:
        return None
    mean, sd = statistics.fmean(vals), statistics.stdev(vals)
    if not sd or (low is None and high is None):
        return None
    sides = [(high - mean) / (3 * sd)] if high is not None else []
    sides += [(mean - low) / (3 * sd)] if low is not None else []
    return min(sides)


def check_extra(r, unit, low, high, vs, what):
    """The appended block of tests.csv and teststats.csv: pass-only
    statistics, then log10 ones for a ratio test. vs = [(value, pass)]."""
    def stats(xs):
        return (statistics.fmean(xs) if xs else None,
                statistics.stdev(xs) if len(xs) > 1 else None,
                min(xs) if xs else None, max(xs) if xs else None)
    pv = [v for v, ok in vs if v is not None and ok]
    assert int(r["pass_n"]) == len(pv), (what, "pass_n")
    m, sd, lo, hi = stats(pv)
    for col, want in (("pass_mean", m), ("pass_stdev", sd),
                      ("pass_min", lo), ("pass_max", hi)):
        assert close(r[col], want), (what, col, r[col], want)
    cp = None
    if sd and low is not None and high is not None:
        cp = (high - low) / (6 * sd)
    assert close(r["pass_cp"], cp), (what, "pass_cp", r["pass_cp"], cp)
    assert close(r["pass_cpk"], cpk_of(pv, low, high)), (what, "pass_cpk")
    # ratio: unit "ratio" (any case), or no unit and every valid value
    # positive, spanning more than three decades
    vals = [v for v, _ in vs if v is not None]
    if unit:
        ratio = unit.lower() == "ratio"
    else:
        ratio = bool(vals) and min(vals) > 0 and max(vals) > 1000 * min(vals)
    assert r["scale"] == ("log10" if ratio else "linear"), (what, r["scale"])
    cols = ("log10_n", "log10_mean", "log10_stdev", "log10_min",
            "log10_max", "log10_cpk", "pass_log10_n", "pass_log10_mean",
            "pass_log10_stdev", "pass_log10_cpk")
    if not ratio:
        assert all(r[c] == "" for c in cols), (what, "log10 of linear")
        return
    llow = math.log10(low) if low is not None and low > 0 else None
    lhigh = math.log10(high) if high is not None and high > 0 else None
    lg = [math.log10(v) for v in vals if v > 0]
    plg = [math.log10(v) for v in pv if v > 0]
    m, sd, lo, hi = stats(lg)
    assert int(r["log10_n"]) == len(lg), (what, "log10_n")
    for col, want in (("log10_mean", m), ("log10_stdev", sd),
                      ("log10_min", lo), ("log10_max", hi),
                      ("log10_cpk", cpk_of(lg, llow, lhigh))):
        assert close(r[col], want), (what, col, r[col], want)
    m, sd, _, _ = stats(plg)
    assert int(r["pass_log10_n"]) == len(plg), (what, "pass_log10_n")
    for col, want in (("pass_log10_mean", m), ("pass_log10_stdev", sd),
                      ("pass_log10_cpk", cpk_of(plg, llow, lhigh))):
        assert close(r[col], want), (what, col, r[col], want)


def main(argv):
    out, db = argv[1], argv[2]
    first = "--first-pass" in argv
    lot_f = argv[argv.index("--lot") + 1] if "--lot" in argv else None
    by_coords = "--by-coords" in argv
    h = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    has_name = any(r[1] == "name" for r in
                   h.execute("PRAGMA table_info(measurement)"))
    tables = {r[0] for r in h.execute("SELECT name FROM sqlite_master")}

    # The parts and the run that counts for each.
    runs = {}
    for rid, pid, status in h.execute(
            "SELECT id, part_id, status FROM run ORDER BY id"):
        runs.setdefault(pid, []).append((rid, status))
    parts = []
    for pid, rs in runs.items():
        lot, wafer, x, y, serial = h.execute(
            "SELECT l.name, w.name, p.die_x, p.die_y, p.serial FROM part p"
            " JOIN lot l ON l.id = p.lot_id LEFT JOIN wafer w"
            " ON w.id = p.wafer_id WHERE p.id = ?", (pid,)).fetchone()
        if lot_f is not None and lot != lot_f:
            continue
        rid = rs[0][0] if first else rs[-1][0]
        status, hb, sb, seq = h.execute(
            "SELECT status, hard_bin, soft_bin, sequence_id FROM run"
            " WHERE id = ?", (rid,)).fetchone()
        parts.append(dict(pid=pid, rid=rid, lot=lot, wafer=wafer, x=x, y=y,
                          serial=serial, status=status, hb=hb, sb=sb, seq=seq,
                          first=rs[0][1], nruns=len(rs)))

    # The lot's latest screen (station screen) rejects runs: those read
    # 'fail' with the screen's bins in every report but yield.csv's
    # pre-screen columns.
    if "screen_die" in tables:
        for p in parts:
            p["pre"] = p["status"]
            r = h.execute(
                "SELECT d.hard_bin, d.soft_bin FROM screen_die d JOIN screen x"
                " ON x.id = d.screen_id WHERE d.run_id = ? AND x.seq ="
                " (SELECT max(seq) FROM screen y WHERE y.lot_id = x.lot_id)",
                (p["rid"],)).fetchone()
            if r:
                p["status"], p["hb"], p["sb"], p["scr"] = "fail", r[0], r[1], 1
    for p in parts:
        p.setdefault("pre", p["status"])

    def s(v):
        return "" if v is None else str(v)

    # yield.csv
    rows = load(f"{out}/yield.csv")
    want = []
    for lot in sorted({p["lot"] for p in parts}):
        for w in [None] + sorted({p["wafer"] for p in parts
                                  if p["lot"] == lot and p["wafer"]}):
            ps = [p for p in parts if p["lot"] == lot and
                  (w is None or p["wafer"] == w)]
            n, ok = len(ps), sum(p["pre"] == "pass" for p in ps)
            fp = sum(p["first"] == "pass" for p in ps)
            sok = sum(p["status"] == "pass" for p in ps)
            want.append([lot, str(n), str(ok), str(n - ok), pct(ok, n), s(w),
                         str(fp), pct(fp, n),
                         str(sum(p["nruns"] > 1 for p in ps)),
                         str(sum(p["nruns"] - 1 for p in ps)),
                         str(sok), pct(sok, n)])
    got = [list(r.values()) for r in rows]
    assert got == want, ("yield.csv", got, want)

    # trend.csv: per UTC day the counted run started and its station; a
    # day's row (station empty) first, then its stations in byte order.
    for p in parts:
        p["day"], p["station"] = h.execute(
            "SELECT substr(r.started_at, 1, 10), st.name FROM run r JOIN"
            " station st ON st.id = r.station_id WHERE r.id = ?",
            (p["rid"],)).fetchone()
    want = []
    for day in sorted({p["day"] for p in parts}):
        for st in [None] + sorted({p["station"] for p in parts
                                   if p["day"] == day}, key=str.encode):
            ps = [p for p in parts if p["day"] == day and
                  (st is None or p["station"] == st)]
            n, ok = len(ps), sum(p["pre"] == "pass" for p in ps)
            sok = sum(p["status"] == "pass" for p in ps)
            want.append([day, s(st), str(n), str(ok), pct(ok, n), str(sok),
                         pct(sok, n)])
    got = [list(r.values()) for r in load(f"{out}/trend.csv")]
    assert got == want, ("trend.csv", got, want)

    # bins.csv: every bin of the group (lot, or wafer): those its parts'
    # sequences define (bin = soft, hard_bin = hard; empty ones count 0),
    # the lot's latest screen's bins, and any a part landed in. Names and
    # pass flags from the group's sequences (least name, any pass).
    def bin_defs(table, seqs):
        if table not in tables:
            return {}
        d = {}
        for seq in seqs:
            for num, name, ok in h.execute(
                    f"SELECT number, name, pass FROM {table} WHERE"
                    " sequence_id = ?", (seq,)):
                n0, p0 = d.get(num, (name, ok))
                d[num] = (min(n0, name, key=str.encode), max(p0, ok))
        return d
    screen_bins = {}
    if "screen" in tables:
        for lot, sb, hb in h.execute(
                "SELECT l.name, s.soft_bin, s.hard_bin FROM screen s JOIN lot l"
                " ON l.id = s.lot_id WHERE s.seq = (SELECT max(seq) FROM"
                " screen z WHERE z.lot_id = s.lot_id)"):
            screen_bins[lot] = {"soft": sb, "hard": hb}
    want = []
    for lot in sorted({p["lot"] for p in parts}):
        for w in [None] + sorted({p["wafer"] for p in parts
                                  if p["lot"] == lot and p["wafer"]}):
            ps = [p for p in parts if p["lot"] == lot and
                  (w is None or p["wafer"] == w)]
            seqs = {p["seq"] for p in ps}
            for kind, key, table in (("hard", "hb", "hard_bin"),
                                     ("soft", "sb", "bin")):
                defs = bin_defs(table, seqs)
                scr_bin = screen_bins.get(lot, {}).get(kind, "none")
                bins = {p[key] for p in ps} | set(defs)
                if scr_bin != "none":
                    bins.add(scr_bin)
                for b in sorted(bins, key=lambda b: (b is not None, b or 0)):
                    n = sum(p[key] == b for p in ps)
                    name, ok = defs.get(b, ("", ""))
                    if b not in defs and (b == scr_bin or any(
                            p.get("scr") for p in ps if p[key] == b)):
                        name, ok = "SCREEN_REJECT", 0
                    want.append((lot, s(w), kind, s(b), name, s(ok), str(n),
                                 pct(n, len(ps))))
    got = [(r["lot"], r["wafer"], r["bin_type"], r["bin"], r["bin_name"],
            r["bin_pass"], r["count"], r["pct"])
           for r in load(f"{out}/bins.csv")]
    assert got == want, ("bins.csv", got, want)

    # wafermap.csv
    want = sorted(((p["lot"], p["wafer"], p["x"], p["y"], s(p["hb"]),
                    s(p["sb"]), str(int(p["status"] == "pass")))
                   for p in parts if p["wafer"] and p["x"] is not None),
                  key=lambda t: (t[0].encode(), t[1].encode(), t[2], t[3]))
    want = [(a, b, str(x), str(y), c, d, e) for a, b, x, y, c, d, e in want]
    got = [tuple(r.values()) for r in load(f"{out}/wafermap.csv")]
    assert got == want, ("wafermap.csv", got, want)

    # measurements of the selected runs
    name_col = "name" if has_name else "NULL"
    meas = []
    for p in parts:
        for row in h.execute(
                f"SELECT step, {name_col}, coords, unit, low, high, value,"
                f" pass, seq_no FROM measurement WHERE run_id = ?"
                f" ORDER BY seq_no", (p["rid"],)):
            meas.append((p,) + row)

    # teststats.csv
    groups = {}
    for p, step, name, coords, unit, low, high, value, ok, _ in meas:
        k = (step, name, coords if by_coords else None, unit or None, low,
             high)
        groups.setdefault(k, []).append((value, ok))
    got = {(r["step"], r["name"] or None, r["coords"] or None,
            r["unit"] or None,
            float(r["low"]) if r["low"] else None,
            float(r["high"]) if r["high"] else None): r
           for r in load(f"{out}/teststats.csv")}
    assert set(got) == set(groups), ("teststats keys", set(got), set(groups))
    for k, vs in groups.items():
        r, low, high = got[k], k[4], k[5]
        vals = [v for v, _ in vs if v is not None]
        assert int(r["n"]) == len(vs)
        assert int(r["n_fail"]) == sum(1 for _, ok in vs if not ok)
        assert int(r["n_invalid"]) == len(vs) - len(vals)
        assert int(r["n_outside"]) == sum(
            1 for v in vals if (low is not None and v < low) or
            (high is not None and v > high))
        mean = statistics.fmean(vals) if vals else None
        sd = statistics.stdev(vals) if len(vals) > 1 else None
        assert close(r["mean"], mean), (k, r["mean"], mean)
        assert close(r["stdev"], sd), (k, r["stdev"], sd)
        assert close(r["min"], min(vals) if vals else None)
        assert close(r["max"], max(vals) if vals else None)
        for col, q in (("p1", .01), ("p5", .05), ("p50", .5), ("p95", .95),
                       ("p99", .99)):
            assert close(r[col], type7(vals, q) if vals else None), (k, col)
        cp = cpk = None
        if sd:
            if low is not None and high is not None:
                cp = (high - low) / (6 * sd)
            sides = [(high - mean) / (3 * sd)] if high is not None else []
            sides += [(mean - low) / (3 * sd)] if low is not None else []
            cpk = min(sides) if sides else None
        assert close(r["cp"], cp), (k, r["cp"], cp)
        assert close(r["cpk"], cpk), (k, r["cpk"], cpk)
        check_extra(r, k[3], low, high, vs, ("teststats", k))

    # tests.csv: per step, value name, unit and limit pair (no coords)
    groups = {}
    for p, step, name, coords, unit, low, high, value, ok, _ in meas:
        groups.setdefault((step, name, unit or None, low, high),
                          []).append((value, ok))
    got = {(r["step"], r["name"] or None, r["unit"] or None,
            float(r["low"]) if r["low"] else None,
            float(r["high"]) if r["high"] else None): r
           for r in load(f"{out}/tests.csv")}
    assert set(got) == set(groups), ("tests keys", set(got), set(groups))
    for k, vs in groups.items():
        r, low, high = got[k], k[3], k[4]
        vals = [v for v, _ in vs if v is not None]
        assert int(r["n"]) == len(vs) and int(r["n_pass"]) == sum(
            1 for _, ok in vs if ok), ("tests", k)
        assert int(r["n_invalid"]) == len(vs) - len(vals), ("tests", k)
        assert close(r["mean"], statistics.fmean(vals) if vals else None)
        assert close(r["stdev"], statistics.stdev(vals)
                     if len(vals) > 1 else None), ("tests", k)
        check_extra(r, k[2], low, high, vs, ("tests", k))

    # pareto.csv (runs without step results: from the measurements): one
    # Pareto per lot (wafer empty), then per wafer, each over its parts
    got = load(f"{out}/pareto.csv")
    want_rows = []
    for lot in sorted({p["lot"] for p in parts}):
        for w in [None] + sorted({p["wafer"] for p in parts
                                  if p["lot"] == lot and p["wafer"]}):
            ps = [p for p in parts if p["lot"] == lot and
                  (w is None or p["wafer"] == w)]
            first_fail, any_fail = {}, {}
            for p in ps:
                fails = [row[1] for row in meas if row[0] is p and not row[8]]
                if fails:
                    first_fail[fails[0]] = first_fail.get(fails[0], 0) + 1
                for st in set(fails):
                    any_fail[st] = any_fail.get(st, 0) + 1
            steps = sorted(any_fail, key=lambda st: (-first_fail.get(st, 0),
                                                     -any_fail[st],
                                                     st.encode()))
            cum = 0
            for rank, st in enumerate(steps, 1):
                ff = first_fail.get(st, 0)
                cum += ff
                want_rows.append([str(rank), st, str(ff), pct(ff, len(ps)),
                                  pct(cum, len(ps)), str(any_fail[st]),
                                  pct(any_fail[st], len(ps)), lot, s(w)])
    got = [list(r.values()) for r in got]
    assert got == want_rows, ("pareto", got, want_rows)

    # parts.csv: one row per part, a value per measurement key
    # Key columns are headed key[unit] (the key's distinct units in byte
    # order joined by '|', empty for none); identity columns have no '['.
    rows = load(f"{out}/parts.csv")
    assert len(rows) == len(parts)
    units = {}
    for p, step, name, coords, unit, *_ in meas:
        key = step + (":" + name if name else "")
        if coords:
            key += "@" + ";".join(
                f"{k}={v}" for k, v in h.execute(
                    "SELECT key, value FROM json_each(?)", (coords,)))
        units.setdefault(key, set())
        if unit:
            units[key].add(unit)
    with open(f"{out}/parts.csv", newline="", encoding="utf-8") as f:
        head = next(csv.reader(f))
    want_head = ["lot", "wafer", "x", "y", "serial", "status", "hard_bin",
                 "soft_bin", "runs"]
    assert head[:9] == want_head, ("parts.csv identity", head[:9])
    heads = {}
    for col in head[9:]:
        assert col.endswith("]"), ("parts.csv unit", col)
        key, u = col[:col.rindex("[")], col[col.rindex("[") + 1:-1]
        want_u = "|".join(sorted(units.get(key, ()), key=str.encode))
        assert u == want_u, ("parts.csv unit", col, want_u)
        heads[key] = col
    assert set(heads) == set(units), ("parts.csv keys", heads, units)
    by_run = {}
    for p in parts:
        by_run[(p["lot"], s(p["wafer"]), s(p["x"]), s(p["y"]),
                s(p["serial"]))] = p
    for r in rows:
        p = by_run[(r["lot"], r["wafer"], r["x"], r["y"], r["serial"])]
        assert r["status"] == p["status"] and r["hard_bin"] == s(p["hb"])
        for row in meas:
            if row[0] is not p:
                continue
            key = row[1] + (":" + row[2] if row[2] else "")
            if row[3]:
                key += "@" + ";".join(
                    f"{k}={v}" for k, v in h.execute(
                        "SELECT key, value FROM json_each(?)", (row[3],)))
            # the last value logged for a key is the one shown
            last = [m for m in meas if m[0] is p and m[1] == row[1]
                    and m[2] == row[2] and m[3] == row[3]][-1]
            assert close(r[heads[key]], last[7]), (key, r[heads[key]],
                                                  last[7])
    # testtime.csv: per (sequence name, step) of the selected runs, the
    # step's duration_s (summed if a run logged it twice); rows by
    # sequence name, then the step's first step_result id.
    rows = load(f"{out}/testtime.csv")
    timed = any(r[1] == "duration_s" for r in
                h.execute("PRAGMA table_info(step_result)"))
    groups = {}
    if timed:
        for p in parts:
            seq, started, ended = h.execute(
                "SELECT s.name, r.started_at, r.ended_at FROM run r JOIN"
                " sequence s ON s.id = r.sequence_id WHERE r.id = ?",
                (p["rid"],)).fetchone()
            part_s = None
            if started and ended and iso_ms(ended) >= iso_ms(started):
                part_s = (iso_ms(ended) - iso_ms(started)) / 1000
            per_step = {}
            for sid, step, dur in h.execute(
                    "SELECT id, step, duration_s FROM step_result WHERE"
                    " run_id = ? AND duration_s IS NOT NULL ORDER BY id",
                    (p["rid"],)):
                d, first = per_step.get(step, (0.0, sid))
                per_step[step] = (d + dur, min(first, sid))
            for step, (d, first) in per_step.items():
                g = groups.setdefault((seq, step), dict(first=first, d=[],
                                                        dp=0.0, part=0.0))
                g["first"] = min(g["first"], first)
                g["d"].append(d)
                if part_s is not None:
                    g["dp"] += d
                    g["part"] += part_s
    want = sorted(groups, key=lambda k: (k[0].encode(), groups[k]["first"]))
    got = [(r["sequence"], r["step"]) for r in rows]
    assert got == want, ("testtime.csv rows", got, want)
    for r, k in zip(rows, want):
        g = groups[k]
        assert int(r["runs"]) == len(g["d"]), (k, r["runs"])
        assert close(r["mean_s"], statistics.fmean(g["d"])), (k, r["mean_s"])
        assert close(r["p50_s"], nearest_rank(g["d"], 50)), (k, r["p50_s"])
        assert close(r["p95_s"], nearest_rank(g["d"], 95)), (k, r["p95_s"])
        assert close(r["max_s"], max(g["d"])), (k, r["max_s"])
        share = g["dp"] / g["part"] if g["part"] > 0 else None
        assert close(r["share_of_part"], share), (k, r["share_of_part"])

    print(f"{out}: {len(parts)} parts, reports ok")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except AssertionError as e:
        print(f"FAILED: {e!r}", file=sys.stderr)
        sys.exit(1)
