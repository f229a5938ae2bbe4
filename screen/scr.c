/*
 * screen/scr.c - the front of screen/: scr_run (scr.h). It reads the lot's
 * final runs from the station database, computes the PAT limits and GDBN
 * counts (scr_stat.c, the only file below it), and writes the screen
 * record in one IMMEDIATE transaction.
 *
 * Invariants:
 *  - Only the screen tables are written; run, measurement and bin rows
 *    are read, never changed.
 *  - One transaction from the first read to the last write: the screen
 *    describes one snapshot of the lot, and a failure leaves the previous
 *    screen as it was.
 *  - Rows are produced in a fixed order (test key, wafer, part id), so the
 *    result digest (result_sha256) is a function of the data and config
 *    alone: an unchanged rerun is recognised and writes nothing.
 */
#include "scr_int.h"

#include <math.h>
#include <openssl/evp.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"

#define SCR_BUSY_MS 10000
#define REASON_MAX 1024

/* A die of the screened lot, through its final run. */
typedef struct die {
	long long part_id, run_id, wafer_id;
	int x, y, has_xy, pass;
	int dpat, spat, gdbn;   /* rejected by */
	char reason[REASON_MAX];
} die;

/* One limit row (screen_limit). */
typedef struct limit {
	const char *method;
	long long wafer_id;          /* 0: whole lot (static) */
	char *step, *name, *coords;
	long long n, outliers;
	double median, sigma, k, pat_low, pat_high, spec_low, spec_high;
	int has_spec_low, has_spec_high, screened;
	char note[160];
} limit;

typedef struct run_state {
	sqlite3 *h;
	const char *path;
	const scr_config *cfg;
	long long lot_id;
	die *dies;
	size_t n_dies;
	limit *lim;
	size_t n_lim, cap_lim;
	limit *stat;                 /* static limits by key, from the ref lots */
	size_t n_stat, cap_stat;
	scr_summary *sum;
	kgd_err *err;
} run_state;

static int sql_fail(run_state *s, const char *what)
{
	return kgd_err_set(s->err, KGD_ERR_DB, "%s: %s: %s", s->path, what,
			   sqlite3_errmsg(s->h));
}

static int prepare(run_state *s, const char *sql, sqlite3_stmt **st)
{
	if (sqlite3_prepare_v2(s->h, sql, -1, st, NULL) != SQLITE_OK)
		return sql_fail(s, "screen query");
	return KGD_OK;
}

static int nomem(run_state *s)
{
	return kgd_err_set(s->err, KGD_ERR_NOMEM, "screen: out of memory");
}

static int str_eq(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static void add_reason(die *d, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void add_reason(die *d, const char *fmt, ...)
{
	size_t len = strlen(d->reason);
	va_list ap;

	if (len && len + 2 < sizeof(d->reason)) {
		strcat(d->reason, "; ");
		len += 2;
	}
	va_start(ap, fmt);
	vsnprintf(d->reason + len, sizeof(d->reason) - len, fmt, ap);
	va_end(ap);
}

static void limit_free(limit *l)
{
	free(l->step);
	free(l->name);
	free(l->coords);
}

/* ---- the lot: dies and their final runs --------------------------------- */

static int find_lot(run_state *s, const char *lot, long long *id)
{
	sqlite3_stmt *st = NULL;
	int status = prepare(s, "SELECT id FROM lot WHERE name = ?1", &st);

	if (status)
		return status;
	sqlite3_bind_text(st, 1, lot, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		*id = sqlite3_column_int64(st, 0);
	else
		status = kgd_err_set(s->err, KGD_ERR_NOT_FOUND, "%s: no lot "
				     "named '%s'", s->path, lot);
	sqlite3_finalize(st);
	return status;
}

/* A lot a station is testing right now is not screened: its wafers are
 * not complete yet. */
static int check_lease(run_state *s, const char *lot)
{
	sqlite3_stmt *st = NULL;
	int status = prepare(s, "SELECT station, host, pid FROM lot_lease"
			     " WHERE lot_id = ?1", &st);

	if (status)
		return status;
	sqlite3_bind_int64(st, 1, s->lot_id);
	if (sqlite3_step(st) == SQLITE_ROW)
		status = kgd_err_set(s->err, KGD_ERR_DB, "%s: lot '%s' is being "
				     "tested (station %s on %s, pid %lld); screen"
				     " it when its session has ended", s->path,
				     lot, sqlite3_column_text(st, 0),
				     sqlite3_column_text(st, 1),
				     (long long)sqlite3_column_int64(st, 2));
	sqlite3_finalize(st);
	return status;
}

/* temp.fin: each part's final run (the highest run id, as the reports'
 * default selection) for the screened lot (ref 0) and the reference
 * lots (ref 1). */
static int load_final(run_state *s)
{
	static const char create[] =
		"DROP TABLE IF EXISTS temp.fin;"
		"CREATE TEMP TABLE fin(run_id INTEGER PRIMARY KEY, part_id INTEGER,"
		" wafer_id INTEGER, x INTEGER, y INTEGER, pass INTEGER,"
		" ref INTEGER);"
		"DROP TABLE IF EXISTS temp.reflot;"
		"CREATE TEMP TABLE reflot(id INTEGER PRIMARY KEY);";
	static const char fill[] =
		"INSERT INTO temp.fin SELECT r.id, p.id, p.wafer_id, p.die_x,"
		" p.die_y, r.status = 'pass', p.lot_id != ?1"
		" FROM (SELECT part_id, max(id) AS id FROM run GROUP BY part_id) f"
		" JOIN run r ON r.id = f.id JOIN part p ON p.id = f.part_id"
		" WHERE p.lot_id = ?1 OR p.lot_id IN (SELECT id FROM temp.reflot)";
	sqlite3_stmt *st = NULL, *ins = NULL;
	const scr_config *c = s->cfg;
	size_t i;
	int status;

	if (sqlite3_exec(s->h, create, NULL, NULL, NULL) != SQLITE_OK)
		return sql_fail(s, "screen tables");
	status = prepare(s, "INSERT OR IGNORE INTO temp.reflot"
			 " SELECT id FROM lot WHERE name = ?1", &ins);
	for (i = 0; !status && c->spat.on && i < c->spat.n_lots; i++) {
		sqlite3_bind_text(ins, 1, c->spat.lots[i], -1, SQLITE_STATIC);
		if (sqlite3_step(ins) != SQLITE_DONE)
			status = sql_fail(s, "reference lots");
		else if (sqlite3_changes(s->h) == 0)
			status = kgd_err_set(s->err, KGD_ERR_NOT_FOUND, "%s: static"
					     " PAT reference lot '%s' is not in "
					     "this database", s->path,
					     c->spat.lots[i]);
		sqlite3_reset(ins);
	}
	sqlite3_finalize(ins);
	if (status)
		return status;
	status = prepare(s, fill, &st);
	if (status)
		return status;
	sqlite3_bind_int64(st, 1, s->lot_id);
	if (sqlite3_step(st) != SQLITE_DONE)
		status = sql_fail(s, "final runs");
	sqlite3_finalize(st);
	if (status)
		return status;
	status = prepare(s, "SELECT part_id, run_id, coalesce(wafer_id, 0), x, y,"
			 " x IS NOT NULL, pass FROM temp.fin WHERE ref = 0"
			 " ORDER BY part_id", &st);
	if (status)
		return status;
	while (sqlite3_step(st) == SQLITE_ROW) {
		die *d;

		if (s->n_dies % 256 == 0) {
			die *nd = realloc(s->dies, (s->n_dies + 256) * sizeof(*nd));

			if (!nd) {
				status = nomem(s);
				break;
			}
			s->dies = nd;
		}
		d = &s->dies[s->n_dies++];
		memset(d, 0, sizeof(*d));
		d->part_id = sqlite3_column_int64(st, 0);
		d->run_id = sqlite3_column_int64(st, 1);
		d->wafer_id = sqlite3_column_int64(st, 2);
		d->x = sqlite3_column_int(st, 3);
		d->y = sqlite3_column_int(st, 4);
		d->has_xy = sqlite3_column_int(st, 5);
		d->pass = sqlite3_column_int(st, 6);
		s->sum->tested++;
		s->sum->passed += d->pass;
	}
	sqlite3_finalize(st);
	return status;
}

static die *find_die(run_state *s, long long part_id)
{
	size_t lo = 0, hi = s->n_dies;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (s->dies[mid].part_id < part_id)
			lo = mid + 1;
		else if (s->dies[mid].part_id > part_id)
			hi = mid;
		else
			return &s->dies[mid];
	}
	return NULL;
}

/* ---- which tests: the config's entries against a measurement key -------- */

/* k of the first entry of pat that selects (step, name, coords), or 0. */
static int select_k(run_state *s, const scr_pat *pat, const char *step,
		    const char *name, const char *coords, double *k)
{
	static const char sql[] =
		"SELECT NOT EXISTS (SELECT 1 FROM json_each(?1) e WHERE"
		" ?2 IS NULL OR json_extract(?2, '$.\"' || e.key || '\"')"
		"  IS NOT e.value)";
	sqlite3_stmt *st = NULL;
	int status;

	*k = 0;
	if (!pat->on)
		return KGD_OK;
	if (pat->all) {
		*k = pat->k;
		return KGD_OK;
	}
	status = prepare(s, sql, &st);
	for (size_t i = 0; !status && i < pat->n_tests; i++) {
		const scr_test *t = &pat->tests[i];
		int match = strcmp(t->step, step) == 0 &&
			    (!t->name || str_eq(t->name, name));

		if (match && t->coords) {
			sqlite3_bind_text(st, 1, t->coords, -1, SQLITE_STATIC);
			sqlite3_bind_text(st, 2, coords, -1, SQLITE_STATIC);
			if (sqlite3_step(st) != SQLITE_ROW)
				status = sql_fail(s, "coordinates match");
			else
				match = sqlite3_column_int(st, 0);
			sqlite3_reset(st);
		}
		if (!status && match) {
			*k = t->k > 0 ? t->k : pat->k;
			break;
		}
	}
	sqlite3_finalize(st);
	return status;
}

/* ---- the limits ---------------------------------------------------------- */

static limit *new_limit(run_state *s, limit **v, size_t *n, size_t *cap)
{
	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 64;
		limit *nv = realloc(*v, nc * sizeof(*nv));

		if (!nv)
			return NULL;
		*v = nv;
		*cap = nc;
	}
	(void)s;
	memset(&(*v)[*n], 0, sizeof(**v));
	return &(*v)[(*n)++];
}

/* Fill l's statistics from the passing values vals[0..n-1] (reordered). */
static void compute_limit(const run_state *s, limit *l, double *vals, size_t n)
{
	l->n = (long long)n;
	if (n == 0 || (long)n < s->cfg->min_samples) {
		snprintf(l->note, sizeof(l->note), "not screened: %zu passing "
			 "dies, fewer than min_samples %ld", n,
			 s->cfg->min_samples);
		if (n)
			scr_robust(vals, n, &l->median, &l->sigma);
		return;
	}
	scr_robust(vals, n, &l->median, &l->sigma);
	if (!(l->sigma > 0)) {
		/* every die at one value (a count at zero, a bound): a
		 * +-k*0 band would reject any die off it */
		snprintf(l->note, sizeof(l->note), "not screened: robust sigma is"
			 " 0 (IQR 0 over %zu dies)", n);
		return;
	}
	l->screened = 1;
	l->pat_low = l->median - l->k * l->sigma;
	l->pat_high = l->median + l->k * l->sigma;
	if (l->has_spec_low && l->pat_low < l->spec_low)
		l->pat_low = l->spec_low;
	if (l->has_spec_high && l->pat_high > l->spec_high)
		l->pat_high = l->spec_high;
}

static int outside(const limit *l, double v)
{
	return l->screened && (v < l->pat_low || v > l->pat_high);
}

/* The key text a reason names: step[:name][@coords]. */
static void key_text(const limit *l, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s%s%s%s%s", l->step, l->name ? ":" : "",
		 l->name ? l->name : "", l->coords ? "@" : "",
		 l->coords ? l->coords : "");
}

/* One group of rows: one key, one wafer (or the reference lots). */
typedef struct group {
	char *step, *name, *coords;
	long long wafer_id;
	double spec_low, spec_high;
	int has_spec_low, has_spec_high, have_spec;
	double *vals;                /* passing dies' values */
	long long *parts;            /* all dies' parts */
	double *all_vals;            /* and values */
	size_t n_vals, n_all, cap;
} group;

static int group_push(group *g, long long part, double v, int pass)
{
	if (g->n_all == g->cap) {
		size_t nc = g->cap ? g->cap * 2 : 256;
		double *nv = realloc(g->vals, nc * sizeof(*nv));
		double *na;
		long long *np;

		if (!nv)
			return -1;
		g->vals = nv;
		na = realloc(g->all_vals, nc * sizeof(*na));
		if (!na)
			return -1;
		g->all_vals = na;
		np = realloc(g->parts, nc * sizeof(*np));
		if (!np)
			return -1;
		g->parts = np;
		g->cap = nc;
	}
	if (pass)
		g->vals[g->n_vals++] = v;
	g->parts[g->n_all] = part;
	g->all_vals[g->n_all++] = v;
	return 0;
}

static void group_reset(group *g)
{
	free(g->step);
	free(g->name);
	free(g->coords);
	g->step = g->name = g->coords = NULL;
	g->n_vals = g->n_all = 0;
	g->have_spec = 0;
}

/* Limits from the reference lots' group: one static limit per key. */
static int close_ref_group(run_state *s, group *g)
{
	double k;
	limit *l;
	int status = select_k(s, &s->cfg->spat, g->step, g->name, g->coords, &k);

	if (status || k <= 0)
		return status;
	l = new_limit(s, &s->stat, &s->n_stat, &s->cap_stat);
	if (!l)
		return nomem(s);
	l->method = "spat";
	l->k = k;
	l->step = strdup(g->step);
	l->name = g->name ? strdup(g->name) : NULL;
	l->coords = g->coords ? strdup(g->coords) : NULL;
	if (!l->step || (g->name && !l->name) || (g->coords && !l->coords))
		return nomem(s);
	l->spec_low = g->spec_low;
	l->spec_high = g->spec_high;
	l->has_spec_low = g->has_spec_low;
	l->has_spec_high = g->has_spec_high;
	compute_limit(s, l, g->vals, g->n_vals);
	return KGD_OK;
}

static limit *find_stat(run_state *s, const group *g)
{
	for (size_t i = 0; i < s->n_stat; i++)
		if (strcmp(s->stat[i].step, g->step) == 0 &&
		    str_eq(s->stat[i].name, g->name) &&
		    str_eq(s->stat[i].coords, g->coords))
			return &s->stat[i];
	return NULL;
}

/* A wafer's group of the screened lot: its dynamic limit, and the static
 * limit of its key applied to its dies. */
static int close_lot_group(run_state *s, group *g)
{
	char key[512];
	limit *sl = find_stat(s, g), *l = NULL;
	double k;
	int status = select_k(s, &s->cfg->dpat, g->step, g->name, g->coords, &k);

	if (status)
		return status;
	if (k > 0) {
		l = new_limit(s, &s->lim, &s->n_lim, &s->cap_lim);
		if (!l)
			return nomem(s);
		l->method = "dpat";
		l->k = k;
		l->wafer_id = g->wafer_id;
		l->step = strdup(g->step);
		l->name = g->name ? strdup(g->name) : NULL;
		l->coords = g->coords ? strdup(g->coords) : NULL;
		if (!l->step || (g->name && !l->name) || (g->coords && !l->coords))
			return nomem(s);
		l->spec_low = g->spec_low;
		l->spec_high = g->spec_high;
		l->has_spec_low = g->has_spec_low;
		l->has_spec_high = g->has_spec_high;
		/* compute_limit reorders vals; the dies are judged on all_vals */
		compute_limit(s, l, g->vals, g->n_vals);
	}
	for (size_t i = 0; i < g->n_all; i++) {
		die *d = find_die(s, g->parts[i]);
		double v = g->all_vals[i];

		if (!d || !d->pass)
			continue;   /* a failing die keeps its own bin */
		if (l && outside(l, v)) {
			key_text(l, key, sizeof(key));
			add_reason(d, "dpat %s = %.6g outside [%.6g, %.6g]", key,
				   v, l->pat_low, l->pat_high);
			d->dpat = 1;
			l->outliers++;
		}
		if (sl && outside(sl, v)) {
			key_text(sl, key, sizeof(key));
			add_reason(d, "spat %s = %.6g outside [%.6g, %.6g]", key,
				   v, sl->pat_low, sl->pat_high);
			d->spat = 1;
			sl->outliers++;
		}
	}
	return KGD_OK;
}

/* Stream the measurements of the reference lots (ref 1) or of the lot
 * (ref 0), grouped by key and (for the lot) wafer; the first value of a
 * key per run counts. */
static int pat_pass(run_state *s, int ref)
{
	static const char sql[] =
		"SELECT m.step, m.name, m.coords, CASE WHEN ?1 THEN 0 ELSE"
		" coalesce(f.wafer_id, 0) END AS w, f.part_id, f.pass, m.value,"
		" m.low, m.high"
		" FROM temp.fin f JOIN measurement m ON m.run_id = f.run_id"
		" WHERE f.ref = ?1 AND m.value IS NOT NULL"
		" ORDER BY m.step, m.name, m.coords, w, f.part_id, m.seq_no";
	sqlite3_stmt *st = NULL;
	group g;
	long long last_part = -1;
	int rc, status;

	memset(&g, 0, sizeof(g));
	status = prepare(s, sql, &st);
	if (status)
		return status;
	sqlite3_bind_int(st, 1, ref);
	while (!status && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *step = (const char *)sqlite3_column_text(st, 0);
		const char *name = (const char *)sqlite3_column_text(st, 1);
		const char *coords = (const char *)sqlite3_column_text(st, 2);
		long long w = sqlite3_column_int64(st, 3);
		long long part = sqlite3_column_int64(st, 4);

		if (!g.step || strcmp(g.step, step) || !str_eq(g.name, name) ||
		    !str_eq(g.coords, coords) || g.wafer_id != w) {
			if (g.step)
				status = ref ? close_ref_group(s, &g)
					     : close_lot_group(s, &g);
			group_reset(&g);
			if (status)
				break;
			g.step = strdup(step);
			g.name = name ? strdup(name) : NULL;
			g.coords = coords ? strdup(coords) : NULL;
			g.wafer_id = w;
			last_part = -1;
			if (!g.step || (name && !g.name) || (coords && !g.coords)) {
				status = nomem(s);
				break;
			}
		}
		if (part == last_part)
			continue;
		last_part = part;
		/* the spec limits: those of the group's first row with any */
		if (!g.have_spec && (sqlite3_column_type(st, 7) != SQLITE_NULL ||
				     sqlite3_column_type(st, 8) != SQLITE_NULL)) {
			g.have_spec = 1;
			g.has_spec_low = sqlite3_column_type(st, 7) != SQLITE_NULL;
			g.has_spec_high = sqlite3_column_type(st, 8) != SQLITE_NULL;
			g.spec_low = sqlite3_column_double(st, 7);
			g.spec_high = sqlite3_column_double(st, 8);
		}
		if (group_push(&g, part, sqlite3_column_double(st, 6),
			       sqlite3_column_int(st, 5)))
			status = nomem(s);
	}
	if (!status && rc != SQLITE_DONE)
		status = sql_fail(s, "measurements");
	if (!status && g.step)
		status = ref ? close_ref_group(s, &g) : close_lot_group(s, &g);
	group_reset(&g);
	free(g.vals);
	free(g.all_vals);
	free(g.parts);
	sqlite3_finalize(st);
	return status;
}

/* ---- GDBN ---------------------------------------------------------------- */

static int gdbn_pass(run_state *s)
{
	const scr_config *c = s->cfg;
	int *x = NULL, *y = NULL, *bad = NULL, *cnt = NULL;
	size_t *idx = NULL, i = 0, j, n;
	int status = KGD_OK;
	int window = c->gdbn_size * c->gdbn_size - 1;

	if (!c->gdbn || s->n_dies == 0)
		return KGD_OK;
	x = malloc(s->n_dies * sizeof(*x));
	y = malloc(s->n_dies * sizeof(*y));
	bad = malloc(s->n_dies * sizeof(*bad));
	cnt = malloc(s->n_dies * sizeof(*cnt));
	idx = malloc(s->n_dies * sizeof(*idx));
	if (!x || !y || !bad || !cnt || !idx) {
		status = nomem(s);
		goto out;
	}
	/* wafer by wafer: dies sorted by part id, so gather each wafer's */
	while (i < s->n_dies) {
		long long w = -1;

		for (; i < s->n_dies && (!s->dies[i].has_xy ||
					  s->dies[i].wafer_id <= 0); i++)
			;
		if (i == s->n_dies)
			break;
		w = s->dies[i].wafer_id;
		n = 0;
		for (j = i; j < s->n_dies; j++) {
			die *d = &s->dies[j];

			if (d->wafer_id != w || !d->has_xy)
				continue;
			x[n] = d->x;
			y[n] = d->y;
			bad[n] = !d->pass;
			idx[n++] = j;
		}
		if (scr_gdbn_count(x, y, bad, n, c->gdbn_size, cnt)) {
			status = nomem(s);
			goto out;
		}
		for (j = 0; j < n; j++) {
			die *d = &s->dies[idx[j]];

			if (cnt[j] >= c->gdbn_min_bad) {
				add_reason(d, "gdbn %d of %d neighbours fail (%dx%d)",
					   cnt[j], window, c->gdbn_size,
					   c->gdbn_size);
				d->gdbn = 1;
			}
			/* done with this wafer: mark so the scan skips it */
			d->wafer_id = -d->wafer_id - 1;
		}
	}
out:
	for (i = 0; i < s->n_dies; i++)
		if (s->dies[i].wafer_id < 0)
			s->dies[i].wafer_id = -(s->dies[i].wafer_id + 1);
	free(x);
	free(y);
	free(bad);
	free(cnt);
	free(idx);
	return status;
}

/* ---- the record ---------------------------------------------------------- */

static void hex(const unsigned char *md, char out[65])
{
	for (int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static int sha256_hex(const void *data, size_t len, char out[65])
{
	unsigned char md[32];
	unsigned int mdlen = 0;

	if (!EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32)
		return -1;
	hex(md, out);
	return 0;
}

static void dig_real(EVP_MD_CTX *m, int has, double v)
{
	char b[40];

	snprintf(b, sizeof(b), has ? "%.17g|" : "-|", v);
	EVP_DigestUpdate(m, b, strlen(b));
}

static void dig_str(EVP_MD_CTX *m, const char *t)
{
	EVP_DigestUpdate(m, t ? t : "\x01", t ? strlen(t) + 1 : 1);
}

/* What the screen found, as one digest: every limit row and die row in
 * their fixed order. */
static int result_digest(run_state *s, const limit *const *rows, size_t n,
			 char out[65])
{
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	unsigned char md[32];
	unsigned int mdlen = 0;
	char b[64];
	int ok;

	if (!m)
		return nomem(s);
	ok = EVP_DigestInit_ex(m, EVP_sha256(), NULL);
	for (size_t i = 0; ok && i < n; i++) {
		const limit *l = rows[i];

		dig_str(m, l->method);
		snprintf(b, sizeof(b), "%lld|%lld|%lld|%d|", l->wafer_id, l->n,
			 l->outliers, l->screened);
		EVP_DigestUpdate(m, b, strlen(b));
		dig_str(m, l->step);
		dig_str(m, l->name);
		dig_str(m, l->coords);
		dig_real(m, l->n > 0, l->median);
		dig_real(m, l->n > 0, l->sigma);
		dig_real(m, 1, l->k);
		dig_real(m, l->screened, l->pat_low);
		dig_real(m, l->screened, l->pat_high);
		dig_real(m, l->has_spec_low, l->spec_low);
		dig_real(m, l->has_spec_high, l->spec_high);
		dig_str(m, l->note[0] ? l->note : NULL);
	}
	for (size_t i = 0; ok && i < s->n_dies; i++) {
		const die *d = &s->dies[i];

		if (!d->reason[0])
			continue;
		snprintf(b, sizeof(b), "D%lld|%lld|", d->part_id, d->run_id);
		EVP_DigestUpdate(m, b, strlen(b));
		dig_str(m, d->reason);
	}
	ok = ok && EVP_DigestFinal_ex(m, md, &mdlen) && mdlen == 32;
	EVP_MD_CTX_free(m);
	if (!ok)
		return kgd_err_set(s->err, KGD_ERR_IO, "screen: SHA-256 failed");
	hex(md, out);
	return KGD_OK;
}

static int bind_real(sqlite3_stmt *st, int i, int has, double v)
{
	return has ? sqlite3_bind_double(st, i, v) : sqlite3_bind_null(st, i);
}

static int write_rows(run_state *s, long long screen_id,
		      const limit *const *rows, size_t n)
{
	sqlite3_stmt *st = NULL;
	int status;

	status = prepare(s, "INSERT INTO screen_limit(screen_id, method,"
			 " wafer_id, step, name, coords, n, median, robust_sigma,"
			 " k, pat_low, pat_high, spec_low, spec_high, outliers,"
			 " screened, note) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8,"
			 " ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)", &st);
	for (size_t i = 0; !status && i < n; i++) {
		const limit *l = rows[i];

		sqlite3_bind_int64(st, 1, screen_id);
		sqlite3_bind_text(st, 2, l->method, -1, SQLITE_STATIC);
		if (l->wafer_id)
			sqlite3_bind_int64(st, 3, l->wafer_id);
		else
			sqlite3_bind_null(st, 3);
		sqlite3_bind_text(st, 4, l->step, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 5, l->name, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 6, l->coords, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 7, l->n);
		bind_real(st, 8, l->n > 0, l->median);
		bind_real(st, 9, l->n > 0, l->sigma);
		sqlite3_bind_double(st, 10, l->k);
		bind_real(st, 11, l->screened, l->pat_low);
		bind_real(st, 12, l->screened, l->pat_high);
		bind_real(st, 13, l->has_spec_low, l->spec_low);
		bind_real(st, 14, l->has_spec_high, l->spec_high);
		sqlite3_bind_int64(st, 15, l->outliers);
		sqlite3_bind_int(st, 16, l->screened);
		if (l->note[0])
			sqlite3_bind_text(st, 17, l->note, -1, SQLITE_STATIC);
		else
			sqlite3_bind_null(st, 17);
		if (sqlite3_step(st) != SQLITE_DONE)
			status = sql_fail(s, "writing screen limits");
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	if (status)
		return status;
	status = prepare(s, "INSERT INTO screen_die(screen_id, part_id, run_id,"
			 " soft_bin, hard_bin, reason) VALUES (?1, ?2, ?3, ?4, ?5,"
			 " ?6)", &st);
	for (size_t i = 0; !status && i < s->n_dies; i++) {
		const die *d = &s->dies[i];
		/* a die GDBN alone rejects takes GDBN's bins */
		int gdbn_only = d->gdbn && !d->dpat && !d->spat;

		if (!d->reason[0])
			continue;
		sqlite3_bind_int64(st, 1, screen_id);
		sqlite3_bind_int64(st, 2, d->part_id);
		sqlite3_bind_int64(st, 3, d->run_id);
		sqlite3_bind_int(st, 4, gdbn_only ? s->cfg->gdbn_soft_bin
						  : s->cfg->soft_bin);
		sqlite3_bind_int(st, 5, gdbn_only ? s->cfg->gdbn_hard_bin
						  : s->cfg->hard_bin);
		sqlite3_bind_text(st, 6, d->reason, -1, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_DONE)
			status = sql_fail(s, "writing screened dies");
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	return status;
}

/* Insert or refresh the screen row of (lot, config), then its rows;
 * nothing when an identical result is already the lot's latest screen. */
static int write_screen(run_state *s)
{
	static const char find[] =
		"SELECT id, result_sha256, seq, (SELECT max(seq) FROM screen"
		" WHERE lot_id = ?1) FROM screen WHERE lot_id = ?1"
		" AND config_sha256 = ?2";
	const limit **rows = NULL;
	sqlite3_stmt *st = NULL;
	char result[65], old[65] = "";
	long long id = 0, seq = 0, max_seq = 0;
	size_t n = 0;
	int status;

	rows = malloc((s->n_lim + s->n_stat + 1) * sizeof(*rows));
	if (!rows)
		return nomem(s);
	for (size_t i = 0; i < s->n_stat; i++)
		rows[n++] = &s->stat[i];
	for (size_t i = 0; i < s->n_lim; i++)
		rows[n++] = &s->lim[i];
	status = result_digest(s, rows, n, result);
	if (status)
		goto out;
	status = prepare(s, find, &st);
	if (status)
		goto out;
	sqlite3_bind_int64(st, 1, s->lot_id);
	sqlite3_bind_text(st, 2, s->sum->config_sha256, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		id = sqlite3_column_int64(st, 0);
		snprintf(old, sizeof(old), "%s", sqlite3_column_text(st, 1));
		seq = sqlite3_column_int64(st, 2);
		max_seq = sqlite3_column_int64(st, 3);
	}
	sqlite3_finalize(st);
	st = NULL;
	s->sum->screen_id = id;
	if (id && seq == max_seq && strcmp(old, result) == 0) {
		s->sum->unchanged = 1;
		goto out;
	}
	if (id) {
		status = prepare(s, "DELETE FROM screen_die WHERE screen_id = ?1;",
				 &st);
		if (!status) {
			sqlite3_bind_int64(st, 1, id);
			if (sqlite3_step(st) != SQLITE_DONE)
				status = sql_fail(s, "replacing the screen");
			sqlite3_finalize(st);
		}
		if (!status)
			status = prepare(s, "DELETE FROM screen_limit WHERE"
					 " screen_id = ?1", &st);
		if (!status) {
			sqlite3_bind_int64(st, 1, id);
			if (sqlite3_step(st) != SQLITE_DONE)
				status = sql_fail(s, "replacing the screen");
			sqlite3_finalize(st);
		}
		if (!status)
			status = prepare(s, "UPDATE screen SET result_sha256 = ?2,"
					 " seq = CASE WHEN seq = ?3 THEN seq ELSE ?3"
					 " + 1 END, screened_at = strftime("
					 "'%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = ?1",
					 &st);
		if (!status) {
			sqlite3_bind_int64(st, 1, id);
			sqlite3_bind_text(st, 2, result, -1, SQLITE_STATIC);
			sqlite3_bind_int64(st, 3, max_seq);
			if (sqlite3_step(st) != SQLITE_DONE)
				status = sql_fail(s, "replacing the screen");
			sqlite3_finalize(st);
		}
		st = NULL;
	} else {
		status = prepare(s, "INSERT INTO screen(lot_id, config_sha256,"
				 " config_text, soft_bin, hard_bin, seq,"
				 " result_sha256, screened_at) VALUES (?1, ?2, ?3,"
				 " ?4, ?5, coalesce((SELECT max(seq) FROM screen"
				 " WHERE lot_id = ?1), 0) + 1, ?6, strftime("
				 "'%Y-%m-%dT%H:%M:%fZ', 'now'))", &st);
		if (!status) {
			sqlite3_bind_int64(st, 1, s->lot_id);
			sqlite3_bind_text(st, 2, s->sum->config_sha256, -1,
					  SQLITE_STATIC);
			sqlite3_bind_text(st, 3, s->cfg->text, (int)s->cfg->len,
					  SQLITE_STATIC);
			sqlite3_bind_int(st, 4, s->cfg->soft_bin);
			sqlite3_bind_int(st, 5, s->cfg->hard_bin);
			sqlite3_bind_text(st, 6, result, -1, SQLITE_STATIC);
			if (sqlite3_step(st) != SQLITE_DONE)
				status = sql_fail(s, "writing the screen");
			id = sqlite3_last_insert_rowid(s->h);
			sqlite3_finalize(st);
			st = NULL;
		}
	}
	s->sum->screen_id = id;
	if (!status)
		status = write_rows(s, id, rows, n);
out:
	free(rows);
	return status;
}

static void summarise(run_state *s)
{
	scr_summary *m = s->sum;

	for (size_t i = 0; i < s->n_dies; i++) {
		const die *d = &s->dies[i];

		m->rejected += d->reason[0] != 0;
		m->dpat_rejects += d->dpat;
		m->spat_rejects += d->spat;
		m->gdbn_rejects += d->gdbn;
	}
	for (size_t i = 0; i < s->n_stat + s->n_lim; i++) {
		const limit *l = i < s->n_stat ? &s->stat[i]
					       : &s->lim[i - s->n_stat];
		char key[256];

		m->limits++;
		if (l->screened)
			continue;
		if (!m->not_screened++) {
			key_text(l, key, sizeof(key));
			int w = snprintf(m->first_unscreened,
					 sizeof(m->first_unscreened), "%s %.120s: ",
					 l->method, key);

			snprintf(m->first_unscreened + w,
				 sizeof(m->first_unscreened) - (size_t)w, "%s",
				 l->note);
		}
	}
}

int scr_run(const char *db_path, const char *lot, const scr_config *cfg,
	    scr_summary *sum, kgd_err *err)
{
	run_state s;
	scr_summary dummy;
	int status, in_tx = 0;

	memset(&s, 0, sizeof(s));
	if (!sum)
		sum = &dummy;
	memset(sum, 0, sizeof(*sum));
	if (!db_path || !lot || !cfg || !cfg->text)
		return kgd_err_set(err, KGD_ERR_ARG, "screen: no database, lot or"
				   " config");
	s.path = db_path;
	s.cfg = cfg;
	s.sum = sum;
	s.err = err;
	if (sha256_hex(cfg->text, cfg->len, sum->config_sha256))
		return kgd_err_set(err, KGD_ERR_IO, "screen: SHA-256 failed");
	if (sqlite3_open_v2(db_path, &s.h, SQLITE_OPEN_READWRITE, NULL) !=
	    SQLITE_OK) {
		status = s.h ? sql_fail(&s, "open")
			     : kgd_err_set(err, KGD_ERR_NOMEM, "%s: out of memory",
					   db_path);
		goto out;
	}
	sqlite3_busy_timeout(s.h, SCR_BUSY_MS);
	status = db_check_readable(s.h, db_path, err);
	if (status)
		goto out;
	if (sqlite3_exec(s.h, "PRAGMA foreign_keys = ON; BEGIN IMMEDIATE", NULL,
			 NULL, NULL) != SQLITE_OK) {
		status = sql_fail(&s, "begin");
		goto out;
	}
	in_tx = 1;
	status = find_lot(&s, lot, &s.lot_id);
	if (!status)
		status = check_lease(&s, lot);
	if (!status)
		status = load_final(&s);
	if (!status && cfg->spat.on)
		status = pat_pass(&s, 1);
	if (!status)
		status = pat_pass(&s, 0);
	if (!status)
		status = gdbn_pass(&s);
	if (status)
		goto out;
	summarise(&s);
	status = write_screen(&s);
	if (!status && sqlite3_exec(s.h, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		status = sql_fail(&s, "commit");
	else if (!status)
		in_tx = 0;
out:
	if (s.h) {
		if (in_tx)
			sqlite3_exec(s.h, "ROLLBACK", NULL, NULL, NULL);
		sqlite3_exec(s.h, "DROP TABLE IF EXISTS temp.fin;"
			     "DROP TABLE IF EXISTS temp.reflot", NULL, NULL, NULL);
		sqlite3_close(s.h);
	}
	for (size_t i = 0; i < s.n_lim; i++)
		limit_free(&s.lim[i]);
	for (size_t i = 0; i < s.n_stat; i++)
		limit_free(&s.stat[i]);
	free(s.lim);
	free(s.stat);
	free(s.dies);
	return status;
}

void scr_config_free(scr_config *c)
{
	scr_pat *p[2];

	if (!c)
		return;
	p[0] = &c->dpat;
	p[1] = &c->spat;
	for (int j = 0; j < 2; j++) {
		for (size_t i = 0; i < p[j]->n_tests; i++) {
			free(p[j]->tests[i].step);
			free(p[j]->tests[i].name);
			free(p[j]->tests[i].coords);
		}
		free(p[j]->tests);
		for (size_t i = 0; i < p[j]->n_lots; i++)
			free(p[j]->lots[i]);
		free(p[j]->lots);
	}
	free(c->path);
	free(c->text);
	free(c);
}
