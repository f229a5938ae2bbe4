#!/usr/bin/env python3
"""tests/stdf_read.py - an STDF V4 reader written from the specification
alone (Python's struct module; it shares no code with reports/rpt_stdf.c),
used to check the station's STDF output against its results database.

    stdf_read.py FILE.stdf                       dump the records
    stdf_read.py FILE.stdf --db DB --lot L --wafer W [--first-pass]
                                                 check against the database

Checks: FAR first with CPU_TYPE 2 / STDF_VER 4; every record decodes to
exactly REC_LEN bytes with the field types of the spec; record order FAR,
MIR, WIR, (PIR, PTR*, PRR)*, WRR, HBR*, SBR*, PCR, MRR; OPT_FLAG bit 1 set;
and against the database: one PIR/PRR per selected die with its x/y, hard
and soft bins, pass/fail, one PTR per measurement with its value (as R4),
limits and pass flag, bin and part counts. Exit 0 when all hold.
"""
import sqlite3
import struct
import sys

# Field layouts from the STDF V4 specification (record type, sub-type).
LAYOUT = {
    (0, 10): ("FAR", "CPU_TYPE:U1 STDF_VER:U1"),
    (1, 10): ("MIR", "SETUP_T:U4 START_T:U4 STAT_NUM:U1 MODE_COD:C1 "
              "RTST_COD:C1 PROT_COD:C1 BURN_TIM:U2 CMOD_COD:C1 LOT_ID:Cn "
              "PART_TYP:Cn NODE_NAM:Cn TSTR_TYP:Cn JOB_NAM:Cn JOB_REV:Cn "
              "SBLOT_ID:Cn OPER_NAM:Cn EXEC_TYP:Cn EXEC_VER:Cn TEST_COD:Cn "
              "TST_TEMP:Cn USER_TXT:Cn AUX_FILE:Cn PKG_TYP:Cn FAMLY_ID:Cn "
              "DATE_COD:Cn FACIL_ID:Cn FLOOR_ID:Cn PROC_ID:Cn OPER_FRQ:Cn "
              "SPEC_NAM:Cn SPEC_VER:Cn FLOW_ID:Cn SETUP_ID:Cn DSGN_REV:Cn "
              "ENG_ID:Cn ROM_COD:Cn SERL_NUM:Cn SUPR_NAM:Cn"),
    (1, 20): ("MRR", "FINISH_T:U4 DISP_COD:C1 USR_DESC:Cn EXC_DESC:Cn"),
    (1, 30): ("PCR", "HEAD_NUM:U1 SITE_NUM:U1 PART_CNT:U4 RTST_CNT:U4 "
              "ABRT_CNT:U4 GOOD_CNT:U4 FUNC_CNT:U4"),
    (1, 40): ("HBR", "HEAD_NUM:U1 SITE_NUM:U1 HBIN_NUM:U2 HBIN_CNT:U4 "
              "HBIN_PF:C1 HBIN_NAM:Cn"),
    (1, 50): ("SBR", "HEAD_NUM:U1 SITE_NUM:U1 SBIN_NUM:U2 SBIN_CNT:U4 "
              "SBIN_PF:C1 SBIN_NAM:Cn"),
    (2, 10): ("WIR", "HEAD_NUM:U1 SITE_GRP:U1 START_T:U4 WAFER_ID:Cn"),
    (2, 20): ("WRR", "HEAD_NUM:U1 SITE_GRP:U1 FINISH_T:U4 PART_CNT:U4 "
              "RTST_CNT:U4 ABRT_CNT:U4 GOOD_CNT:U4 FUNC_CNT:U4 WAFER_ID:Cn "
              "FABWF_ID:Cn FRAME_ID:Cn MASK_ID:Cn USR_DESC:Cn EXC_DESC:Cn"),
    (5, 10): ("PIR", "HEAD_NUM:U1 SITE_NUM:U1"),
    (5, 20): ("PRR", "HEAD_NUM:U1 SITE_NUM:U1 PART_FLG:B1 NUM_TEST:U2 "
              "HARD_BIN:U2 SOFT_BIN:U2 X_COORD:I2 Y_COORD:I2 TEST_T:U4 "
              "PART_ID:Cn PART_TXT:Cn PART_FIX:Bn"),
    (15, 10): ("PTR", "TEST_NUM:U4 HEAD_NUM:U1 SITE_NUM:U1 TEST_FLG:B1 "
               "PARM_FLG:B1 RESULT:R4 TEST_TXT:Cn ALARM_ID:Cn OPT_FLAG:B1 "
               "RES_SCAL:I1 LLM_SCAL:I1 HLM_SCAL:I1 LO_LIMIT:R4 HI_LIMIT:R4 "
               "UNITS:Cn C_RESFMT:Cn C_LLMFMT:Cn C_HLMFMT:Cn LO_SPEC:R4 "
               "HI_SPEC:R4"),
}
FIXED = {"U1": "<B", "B1": "<B", "I1": "<b", "C1": "<c", "U2": "<H",
         "I2": "<h", "U4": "<I", "R4": "<f"}


def decode(name, layout, body):
    """Fields of one record; trailing fields may be absent (the spec lets
    a writer omit fields at the end of a record), but whatever is present
    must decode to exactly the record length."""
    rec, pos = {"_type": name}, 0
    for item in layout.split():
        field, typ = item.split(":")
        if pos == len(body):
            break
        if typ in ("Cn", "Bn"):
            n = body[pos]
            if pos + 1 + n > len(body):
                raise ValueError(f"{name}.{field}: {typ} runs past the record")
            raw = body[pos + 1:pos + 1 + n]
            rec[field] = raw.decode("latin-1") if typ == "Cn" else raw
            pos += 1 + n
        else:
            fmt = FIXED[typ]
            size = struct.calcsize(fmt)
            if pos + size > len(body):
                raise ValueError(f"{name}.{field}: {typ} runs past the record")
            (v,) = struct.unpack_from(fmt, body, pos)
            rec[field] = v.decode("latin-1") if typ == "C1" else v
            pos += size
    if pos != len(body):
        raise ValueError(f"{name}: {len(body) - pos} bytes left over")
    return rec


def read(path):
    data = open(path, "rb").read()
    if len(data) < 6 or data[2:4] != b"\x00\x0a":
        raise ValueError("does not start with a FAR")
    if data[4] != 2:
        raise ValueError(f"FAR CPU_TYPE {data[4]}, expected 2 (little-endian)")
    recs, pos = [], 0
    while pos < len(data):
        if pos + 4 > len(data):
            raise ValueError("truncated record header")
        length, typ, sub = struct.unpack_from("<HBB", data, pos)
        body = data[pos + 4:pos + 4 + length]
        if len(body) != length:
            raise ValueError("truncated record")
        if (typ, sub) not in LAYOUT:
            raise ValueError(f"unexpected record {typ}/{sub}")
        name, layout = LAYOUT[(typ, sub)]
        recs.append(decode(name, layout, body))
        pos += 4 + length
    return recs


def check_order(recs):
    names = [r["_type"] for r in recs]
    assert names[:3] == ["FAR", "MIR", "WIR"], names[:3]
    assert names[-1] == "MRR", "MRR is not last"
    i = 3
    while names[i] == "PIR":
        i += 1
        while names[i] == "PTR":
            i += 1
        assert names[i] == "PRR", f"record {i}: {names[i]} inside a part"
        i += 1
    assert names[i] == "WRR", f"record {i}: {names[i]}, expected WRR"
    tail = names[i + 1:-1]
    assert set(tail) <= {"HBR", "SBR", "PCR"} and "PCR" in tail, tail
    assert recs[0]["STDF_VER"] == 4


def f32(v):
    return struct.unpack("<f", struct.pack("<f", v))[0]


def check_db(recs, db, lot, wafer, first_pass):
    h = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    pick = "min" if first_pass else "max"
    runs = h.execute(
        f"SELECT r.id, p.die_x, p.die_y, r.hard_bin, r.soft_bin, r.status"
        f" FROM (SELECT {pick}(id) AS id FROM run GROUP BY part_id) s"
        f" JOIN run r ON r.id = s.id JOIN part p ON p.id = r.part_id"
        f" JOIN lot l ON l.id = p.lot_id JOIN wafer w ON w.id = p.wafer_id"
        f" WHERE l.name = ? AND w.name = ? ORDER BY r.id",
        (lot, wafer)).fetchall()
    # the lot's latest screen (station screen) gives a rejected run its
    # bins and a fail: STDF carries the final bins
    tables = {r[0] for r in h.execute("SELECT name FROM sqlite_master")}
    if "screen_die" in tables:
        final = []
        for run_id, x, y, hb, sb, status in runs:
            r = h.execute(
                "SELECT d.hard_bin, d.soft_bin FROM screen_die d JOIN screen"
                " s ON s.id = d.screen_id WHERE d.run_id = ? AND s.seq ="
                " (SELECT max(seq) FROM screen t WHERE t.lot_id = s.lot_id)",
                (run_id,)).fetchone()
            final.append((run_id, x, y, r[0], r[1], "fail") if r
                         else (run_id, x, y, hb, sb, status))
        runs = final
    mir = recs[1]
    assert mir["LOT_ID"] == lot, mir["LOT_ID"]
    assert recs[2]["WAFER_ID"] == wafer
    parts, cur = [], None
    for r in recs:
        if r["_type"] == "PIR":
            cur = []
        elif r["_type"] == "PTR":
            cur.append(r)
        elif r["_type"] == "PRR":
            parts.append((r, cur))
    assert len(parts) == len(runs), (len(parts), len(runs))
    names = {}
    for (prr, ptrs), (run_id, x, y, hb, sb, status) in zip(parts, runs):
        assert (prr["X_COORD"], prr["Y_COORD"]) == (x, y), (prr, x, y)
        assert prr["HARD_BIN"] == (hb if hb is not None else 0)
        assert prr["SOFT_BIN"] == (sb if sb is not None else 65535)
        assert bool(prr["PART_FLG"] & 0x08) == (status != "pass")
        assert not prr["PART_FLG"] & 0x10
        assert prr["NUM_TEST"] == len(ptrs)
        ms = h.execute("SELECT step, value, low, high, unit, pass FROM"
                       " measurement WHERE run_id = ? ORDER BY seq_no",
                       (run_id,)).fetchall()
        assert len(ms) == len(ptrs), (len(ms), len(ptrs))
        for p, (step, value, low, high, unit, ok) in zip(ptrs, ms):
            assert p["TEST_TXT"].split(":")[0].split("@")[0] == step
            assert names.setdefault(p["TEST_NUM"], p["TEST_TXT"]) == \
                p["TEST_TXT"], "one test number, two tests"
            assert p["OPT_FLAG"] & 0x02, "OPT_FLAG bit 1 must be 1"
            if value is None:
                assert p["TEST_FLG"] & 0x02
            else:
                assert not p["TEST_FLG"] & 0x02
                assert p["RESULT"] == f32(value), (p["RESULT"], value)
            assert bool(p["TEST_FLG"] & 0x80) == (not ok)
            assert bool(p["OPT_FLAG"] & 0x40) == (low is None)
            assert bool(p["OPT_FLAG"] & 0x80) == (high is None)
            if low is not None:
                assert p["LO_LIMIT"] == f32(low)
            if high is not None:
                assert p["HI_LIMIT"] == f32(high)
            assert p["UNITS"] == (unit or "")
    good = sum(1 for r in runs if r[5] == "pass")
    wrr = next(r for r in recs if r["_type"] == "WRR")
    pcr = next(r for r in recs if r["_type"] == "PCR")
    assert wrr["PART_CNT"] == len(runs) == pcr["PART_CNT"]
    assert wrr["GOOD_CNT"] == good == pcr["GOOD_CNT"]
    for kind, col, miss in (("HBR", 3, 0), ("SBR", 4, 65535)):
        want = {}
        for r in runs:
            b = r[col] if r[col] is not None else miss
            want[b] = want.get(b, 0) + 1
        got = {r[kind[0] + "BIN_NUM"]: r[kind[0] + "BIN_CNT"]
               for r in recs if r["_type"] == kind}
        assert got == want, (kind, got, want)
        for r in recs:
            if r["_type"] == kind:
                assert r["HEAD_NUM"] == 255
                assert r[kind[0] + "BIN_PF"] in "PF "
    return len(parts), sum(len(p[1]) for p in parts)


def main(argv):
    args = argv[1:]
    if not args:
        print(__doc__)
        return 2
    try:
        recs = read(args[0])
        check_order(recs)
        if "--db" in args:
            opt, rest = {}, args[1:]
            while rest:
                if rest[0] == "--first-pass":
                    rest = rest[1:]
                    continue
                opt[rest[0]], rest = rest[1], rest[2:]
            n, m = check_db(recs, opt["--db"], opt["--lot"], opt["--wafer"],
                            "--first-pass" in args)
            print(f"{args[0]}: {len(recs)} records, {n} parts, {m} PTRs: ok")
        else:
            for r in recs:
                print(r)
    except (AssertionError, ValueError, StopIteration, KeyError) as e:
        print(f"{args[0]}: FAILED: {e!r}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
