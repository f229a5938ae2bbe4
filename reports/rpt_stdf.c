/*
 * reports/rpt_stdf.c - one wafer-sort STDF V4 file per wafer,
 * <lot>_<wafer>.stdf, the format yield tools import.
 *
 * Record order (STDF V4, "Record Ordering"): FAR, MIR, WIR, then per die
 * in test order PIR, its PTRs, PRR; then WRR, HBRs, SBRs, PCR, MRR (the
 * summary records after the last part, MRR last).
 *
 * Invariants: every integer and float is written little-endian by explicit
 * shifts (FAR CPU_TYPE 2 says so, whatever the host); every record is
 * written with all its fields (no trailing fields omitted), and a value we
 * do not have is the specification's "missing" value for that field (Cn
 * length 0, U4 4294967295, I2 -32768, SOFT_BIN 65535, time 0) or a flag bit
 * (PTR OPT_FLAG), so a reader never depends on a default from an earlier
 * record. Test numbers are the measurement keys of the whole report (see
 * rpt_keys_load), so one test has one number in every wafer's file.
 */
#include "rpt_int.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"

#define STDF_MAX_REC 65535

struct rec {
	unsigned char b[4 + STDF_MAX_REC];
	size_t n;
	int overflow;
};

static void rec_begin(struct rec *r, int typ, int sub)
{
	r->n = 4;
	r->overflow = 0;
	r->b[2] = (unsigned char)typ;
	r->b[3] = (unsigned char)sub;
}

static void put(struct rec *r, const void *p, size_t len)
{
	if (len == 0)
		return;
	if (r->n + len > sizeof(r->b)) {
		r->overflow = 1;
		return;
	}
	memcpy(r->b + r->n, p, len);
	r->n += len;
}

static void u1(struct rec *r, unsigned v)
{
	unsigned char b = (unsigned char)v;

	put(r, &b, 1);
}

static void u2(struct rec *r, unsigned v)
{
	unsigned char b[2] = { (unsigned char)v, (unsigned char)(v >> 8) };

	put(r, b, 2);
}

static void u4(struct rec *r, uint32_t v)
{
	unsigned char b[4] = { (unsigned char)v, (unsigned char)(v >> 8),
			       (unsigned char)(v >> 16), (unsigned char)(v >> 24) };

	put(r, b, 4);
}

static void i2(struct rec *r, int v)
{
	u2(r, (unsigned)(uint16_t)(int16_t)v);
}

static void r4(struct rec *r, double v)
{
	float f = (float)v;
	uint32_t bits;

	memcpy(&bits, &f, sizeof(bits));
	u4(r, bits);
}

static void c1(struct rec *r, char c)
{
	u1(r, (unsigned char)c);
}

/* Cn: a count byte, then at most 255 bytes (longer text is cut). */
static void cn(struct rec *r, const char *s)
{
	size_t len = s ? strlen(s) : 0;

	if (len > 255)
		len = 255;
	u1(r, (unsigned)len);
	put(r, s, len);
}

static void rec_write(FILE *f, struct rec *r)
{
	size_t len = r->n - 4;

	r->b[0] = (unsigned char)len;
	r->b[1] = (unsigned char)(len >> 8);
	fwrite(r->b, 1, r->n, f);
}

/* U4 seconds since 1970 of an ISO-8601 text column, 0 (the spec's
 * "missing" time) when NULL. */
static uint32_t col_time(sqlite3_stmt *st, int col)
{
	return sqlite3_column_type(st, col) == SQLITE_NULL ? 0
		: (uint32_t)sqlite3_column_int64(st, col);
}

static int clamp_i2(sqlite3_stmt *st, int col)
{
	long long v = sqlite3_column_int64(st, col);

	if (sqlite3_column_type(st, col) == SQLITE_NULL || v < -32767 ||
	    v > 32767)
		return -32768;  /* the spec's "missing" X/Y */
	return (int)v;
}

struct wafer_stdf {
	const char *lot, *wafer;
	const rpt_keys *keys;
	struct rec *r;              /* one record buffer, reused */
};

#define SEL_WAFER " FROM temp.sel WHERE lot = ?1 AND wafer = ?2"
#define EPOCH(col) "CAST(strftime('%s', " col ") AS INTEGER)"

static int bind_wafer(rpt_ctx *c, const char *sql, const struct wafer_stdf *w,
		      sqlite3_stmt **st, kgd_err *err)
{
	int status = rpt_prepare(c, sql, st, err);

	if (status)
		return status;
	sqlite3_bind_text(*st, 1, w->lot, -1, SQLITE_STATIC);
	sqlite3_bind_text(*st, 2, w->wafer, -1, SQLITE_STATIC);
	return KGD_OK;
}

static int write_head(rpt_ctx *c, FILE *f, const struct wafer_stdf *w,
		      uint32_t *finish, kgd_err *err)
{
	/* MIR identity from the wafer's first run; times span all its runs. */
	static const char sql[] =
		"SELECT station, operator, product, seq_name, seq_version,"
		" (SELECT min(" EPOCH("started_at") ")" SEL_WAFER "),"
		" (SELECT max(" EPOCH("coalesce(ended_at, started_at)") ")"
		SEL_WAFER ")" SEL_WAFER " ORDER BY run_id LIMIT 1";
	struct rec *r = w->r;
	sqlite3_stmt *st = NULL;
	char version[24];
	uint32_t start;
	int status;

	status = bind_wafer(c, sql, w, &st, err);
	if (status)
		return status;
	if (sqlite3_step(st) != SQLITE_ROW) {
		status = rpt_sql_fail(c, err);
		goto out;
	}
	start = col_time(st, 5);
	*finish = col_time(st, 6);
	snprintf(version, sizeof(version), "%d", sqlite3_column_int(st, 4));

	rec_begin(r, 0, 10);                    /* FAR */
	u1(r, 2);                               /* CPU_TYPE: little-endian */
	u1(r, 4);                               /* STDF_VER */
	rec_write(f, r);

	rec_begin(r, 1, 10);                    /* MIR */
	u4(r, start);                           /* SETUP_T */
	u4(r, start);                           /* START_T */
	u1(r, 1);                               /* STAT_NUM */
	c1(r, 'P');                             /* MODE_COD: production */
	c1(r, ' ');                             /* RTST_COD: unknown */
	c1(r, ' ');                             /* PROT_COD */
	u2(r, 65535);                           /* BURN_TIM: missing */
	c1(r, ' ');                             /* CMOD_COD */
	cn(r, w->lot);                          /* LOT_ID */
	cn(r, (const char *)sqlite3_column_text(st, 2));   /* PART_TYP */
	cn(r, (const char *)sqlite3_column_text(st, 0));   /* NODE_NAM */
	cn(r, "kgd-station");                   /* TSTR_TYP */
	cn(r, (const char *)sqlite3_column_text(st, 3));   /* JOB_NAM */
	cn(r, version);                         /* JOB_REV */
	cn(r, NULL);                            /* SBLOT_ID */
	cn(r, (const char *)sqlite3_column_text(st, 1));   /* OPER_NAM */
	cn(r, "kgd-station");                   /* EXEC_TYP */
	cn(r, NULL);                            /* EXEC_VER */
	cn(r, "WFR");                           /* TEST_COD: wafer sort */
	for (int i = 0; i < 19; i++)            /* TST_TEMP .. SUPR_NAM */
		cn(r, NULL);
	rec_write(f, r);

	rec_begin(r, 2, 10);                    /* WIR */
	u1(r, 1);                               /* HEAD_NUM */
	u1(r, 255);                             /* SITE_GRP: missing */
	u4(r, start);                           /* START_T */
	cn(r, w->wafer);                        /* WAFER_ID */
	rec_write(f, r);
out:
	sqlite3_finalize(st);
	return status;
}

static int write_ptrs(rpt_ctx *c, FILE *f, const struct wafer_stdf *w,
		      sqlite3_stmt *mst, int64_t run_id, unsigned *n_tests,
		      kgd_err *err)
{
	struct rec *r = w->r;
	int rc, has_low, has_high, valid;
	long num;
	unsigned opt;

	*n_tests = 0;
	sqlite3_bind_int64(mst, 1, run_id);
	while ((rc = sqlite3_step(mst)) == SQLITE_ROW) {
		num = rpt_keys_find(w->keys, (const char *)
				    sqlite3_column_text(mst, 0));
		valid = sqlite3_column_type(mst, 1) != SQLITE_NULL;
		has_low = sqlite3_column_type(mst, 3) != SQLITE_NULL;
		has_high = sqlite3_column_type(mst, 4) != SQLITE_NULL;
		/* bit 1 reserved, must be 1; no spec limits (bits 2, 3);
		 * RES/LLM/HLM_SCAL valid (0: values in the stored unit). */
		opt = 0x02 | 0x04 | 0x08 | (has_low ? 0 : 0x40) |
		      (has_high ? 0 : 0x80);
		rec_begin(r, 15, 10);                   /* PTR */
		u4(r, (uint32_t)(num + 1));             /* TEST_NUM */
		u1(r, 1);                               /* HEAD_NUM */
		u1(r, 1);                               /* SITE_NUM */
		/* TEST_FLG: bit 1 result invalid, bit 7 failed */
		u1(r, (valid ? 0 : 0x02) |
		   (sqlite3_column_int(mst, 2) ? 0 : 0x80));
		/* PARM_FLG bits 6, 7: a result equal to a limit passes (the
		 * station's limits are inclusive). */
		u1(r, 0xC0);
		r4(r, valid ? sqlite3_column_double(mst, 1) : 0);  /* RESULT */
		cn(r, (const char *)sqlite3_column_text(mst, 0));  /* TEST_TXT */
		cn(r, NULL);                            /* ALARM_ID */
		u1(r, opt);                             /* OPT_FLAG */
		u1(r, 0);                               /* RES_SCAL */
		u1(r, 0);                               /* LLM_SCAL */
		u1(r, 0);                               /* HLM_SCAL */
		r4(r, has_low ? sqlite3_column_double(mst, 3) : 0);  /* LO_LIMIT */
		r4(r, has_high ? sqlite3_column_double(mst, 4) : 0); /* HI_LIMIT */
		cn(r, (const char *)sqlite3_column_text(mst, 5));    /* UNITS */
		cn(r, NULL);                            /* C_RESFMT */
		cn(r, NULL);                            /* C_LLMFMT */
		cn(r, NULL);                            /* C_HLMFMT */
		r4(r, 0);                               /* LO_SPEC (bit 2) */
		r4(r, 0);                               /* HI_SPEC (bit 3) */
		rec_write(f, r);
		if (*n_tests < 65535)
			(*n_tests)++;
	}
	sqlite3_reset(mst);
	if (rc != SQLITE_DONE)
		return rpt_sql_fail(c, err);
	return KGD_OK;
}

static int write_parts(rpt_ctx *c, FILE *f, const struct wafer_stdf *w,
		       kgd_err *err)
{
	static const char parts_sql[] =
		"SELECT run_id, part_id, x, y, hard_bin, soft_bin, status,"
		" CAST(round((julianday(ended_at) - julianday(started_at))"
		"  * 86400000) AS INTEGER), serial"
		SEL_WAFER " ORDER BY run_id";
	struct rec *r = w->r;
	sqlite3_stmt *pst = NULL, *mst = NULL;
	char sql[512], part_id[32];
	const char *status_txt;
	unsigned n_tests;
	int rc, status;
	long long ms;

	snprintf(sql, sizeof(sql), "SELECT " RPT_KEY_SQL("%s") ", m.value,"
		 " m.pass, m.low, m.high, m.unit FROM measurement m"
		 " WHERE m.run_id = ?1 ORDER BY m.seq_no", c->m_name);
	if ((status = bind_wafer(c, parts_sql, w, &pst, err)) ||
	    (status = rpt_prepare(c, sql, &mst, err)))
		goto out;
	while ((rc = sqlite3_step(pst)) == SQLITE_ROW) {
		rec_begin(r, 5, 10);                    /* PIR */
		u1(r, 1);                               /* HEAD_NUM */
		u1(r, 1);                               /* SITE_NUM */
		rec_write(f, r);
		status = write_ptrs(c, f, w, mst, sqlite3_column_int64(pst, 0),
				    &n_tests, err);
		if (status)
			goto out;
		status_txt = (const char *)sqlite3_column_text(pst, 6);
		ms = sqlite3_column_int64(pst, 7);
		snprintf(part_id, sizeof(part_id), "%lld",
			 (long long)sqlite3_column_int64(pst, 1));
		rec_begin(r, 5, 20);                    /* PRR */
		u1(r, 1);                               /* HEAD_NUM */
		u1(r, 1);                               /* SITE_NUM */
		/* PART_FLG: bit 2 abnormal end (error, aborted), bit 3 failed */
		u1(r, (strcmp(status_txt, DB_STATUS_PASS) != 0 ? 0x08 : 0) |
		   (strcmp(status_txt, DB_STATUS_ERROR) == 0 ||
		    strcmp(status_txt, DB_STATUS_ABORTED) == 0 ? 0x04 : 0));
		u2(r, n_tests);                         /* NUM_TEST */
		/* HARD_BIN has no "missing" value: a run without one (it
		 * ended before binning) is bin 0. */
		u2(r, sqlite3_column_type(pst, 4) == SQLITE_NULL ? 0
		   : (unsigned)sqlite3_column_int(pst, 4) & 0x7fff);
		u2(r, sqlite3_column_type(pst, 5) == SQLITE_NULL ? 65535
		   : (unsigned)sqlite3_column_int(pst, 5) & 0x7fff);
		i2(r, clamp_i2(pst, 2));                /* X_COORD */
		i2(r, clamp_i2(pst, 3));                /* Y_COORD */
		u4(r, sqlite3_column_type(pst, 7) == SQLITE_NULL || ms < 0 ? 0
		   : (uint32_t)ms);                     /* TEST_T, 0 = missing */
		cn(r, part_id);                         /* PART_ID */
		cn(r, (const char *)sqlite3_column_text(pst, 8)); /* PART_TXT */
		u1(r, 0);                               /* PART_FIX: Bn, empty */
		rec_write(f, r);
	}
	if (rc != SQLITE_DONE)
		status = rpt_sql_fail(c, err);
out:
	sqlite3_finalize(pst);
	sqlite3_finalize(mst);
	return status;
}

/* HBR (kind 'hard') or SBR ('soft') records, one per bin, HEAD_NUM 255:
 * the counts over all sites. Names and PF from the hard_bin / bin table, else from the parts:
 * 'P' if all passed, 'F' if none did, ' ' (unknown) otherwise. */
static int write_bins(rpt_ctx *c, FILE *f, const struct wafer_stdf *w,
		      int soft, kgd_err *err)
{
	char sql[640];
	struct rec *r = w->r;
	sqlite3_stmt *st = NULL;
	const char *pf;
	int rc, status;

	snprintf(sql, sizeof(sql),
		 "SELECT coalesce(s.%s, %d), count(*), min(b.name),"
		 " CASE WHEN max(b.pass) = 1 THEN 'P' WHEN max(b.pass) = 0"
		 "  THEN 'F' WHEN min(s.status = 'pass') = 1 THEN 'P'"
		 "  WHEN max(s.status = 'pass') = 0 THEN 'F' ELSE ' ' END"
		 " FROM temp.sel s LEFT JOIN %s b ON b.sequence_id ="
		 "  s.sequence_id AND b.number = s.%s"
		 " WHERE s.lot = ?1 AND s.wafer = ?2 GROUP BY 1 ORDER BY 1",
		 soft ? "soft_bin" : "hard_bin", soft ? 65535 : 0,
		 soft ? "bin" : "hard_bin", soft ? "soft_bin" : "hard_bin");
	status = bind_wafer(c, sql, w, &st, err);
	if (status)
		return status;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		pf = (const char *)sqlite3_column_text(st, 3);
		rec_begin(r, 1, soft ? 50 : 40);        /* SBR / HBR */
		u1(r, 255);                             /* HEAD_NUM: all */
		u1(r, 1);                               /* SITE_NUM (ignored) */
		u2(r, (unsigned)sqlite3_column_int(st, 0) & 0xffff);
		u4(r, (uint32_t)sqlite3_column_int64(st, 1));
		c1(r, pf && *pf ? *pf : ' ');
		cn(r, (const char *)sqlite3_column_text(st, 2));
		rec_write(f, r);
	}
	if (rc != SQLITE_DONE)
		status = rpt_sql_fail(c, err);
	sqlite3_finalize(st);
	return status;
}

static int write_tail(rpt_ctx *c, FILE *f, const struct wafer_stdf *w,
		      uint32_t finish, kgd_err *err)
{
	static const char sql[] =
		"SELECT count(*), sum(n_runs > 1), sum(status = 'aborted'),"
		" sum(status = 'pass')" SEL_WAFER;
	struct rec *r = w->r;
	sqlite3_stmt *st = NULL;
	uint32_t parts, retests, aborts, good;
	int status;

	status = bind_wafer(c, sql, w, &st, err);
	if (status)
		return status;
	if (sqlite3_step(st) != SQLITE_ROW) {
		status = rpt_sql_fail(c, err);
		goto out;
	}
	parts = (uint32_t)sqlite3_column_int64(st, 0);
	retests = (uint32_t)sqlite3_column_int64(st, 1);
	aborts = (uint32_t)sqlite3_column_int64(st, 2);
	good = (uint32_t)sqlite3_column_int64(st, 3);

	rec_begin(r, 2, 20);                    /* WRR */
	u1(r, 1);                               /* HEAD_NUM */
	u1(r, 255);                             /* SITE_GRP: missing */
	u4(r, finish);                          /* FINISH_T */
	u4(r, parts);                           /* PART_CNT */
	u4(r, retests);                         /* RTST_CNT */
	u4(r, aborts);                          /* ABRT_CNT */
	u4(r, good);                            /* GOOD_CNT */
	u4(r, 4294967295u);                     /* FUNC_CNT: missing */
	cn(r, w->wafer);                        /* WAFER_ID */
	for (int i = 0; i < 5; i++)             /* FABWF_ID .. EXC_DESC */
		cn(r, NULL);
	rec_write(f, r);

	if ((status = write_bins(c, f, w, 0, err)) ||
	    (status = write_bins(c, f, w, 1, err)))
		goto out;

	rec_begin(r, 1, 30);                    /* PCR */
	u1(r, 255);                             /* HEAD_NUM: all */
	u1(r, 1);                               /* SITE_NUM (ignored) */
	u4(r, parts);                           /* PART_CNT */
	u4(r, retests);                         /* RTST_CNT */
	u4(r, aborts);                          /* ABRT_CNT */
	u4(r, good);                            /* GOOD_CNT */
	u4(r, 4294967295u);                     /* FUNC_CNT: missing */
	rec_write(f, r);

	rec_begin(r, 1, 20);                    /* MRR */
	u4(r, finish);                          /* FINISH_T */
	c1(r, ' ');                             /* DISP_COD */
	cn(r, NULL);                            /* USR_DESC */
	cn(r, NULL);                            /* EXC_DESC */
	rec_write(f, r);
out:
	sqlite3_finalize(st);
	return status;
}

static int stdf_body(rpt_ctx *c, FILE *f, void *arg, kgd_err *err)
{
	const struct wafer_stdf *w = arg;
	uint32_t finish = 0;
	int status;

	if ((status = write_head(c, f, w, &finish, err)) ||
	    (status = write_parts(c, f, w, err)))
		return status;
	return write_tail(c, f, w, finish, err);
}

int rpt_stdf(rpt_ctx *c, const char *dir, int *files, kgd_err *err)
{
	static const char sql[] =
		"SELECT DISTINCT lot, wafer FROM temp.sel WHERE wafer IS NOT NULL"
		" ORDER BY lot, wafer";
	struct wafer_stdf w = { 0 };
	rpt_keys keys = { 0 };
	int status;

	w.r = malloc(sizeof(*w.r));
	if (!w.r)
		return kgd_err_set(err, KGD_ERR_NOMEM, "out of memory");
	w.keys = &keys;
	status = rpt_keys_load(c, &keys, err);
	if (!status)
		status = rpt_emit_per_wafer(c, sql, dir, "", ".stdf", stdf_body,
					    &w, &w.lot, &w.wafer, files, err);
	free(w.r);
	rpt_keys_free(&keys);
	return status;
}
