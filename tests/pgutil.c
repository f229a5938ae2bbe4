/*
 * tests/pgutil.c - see pgutil.h. The server itself is started and stopped
 * by tests/pgtmp.sh; this file runs it and talks libpq.
 */
#include "pgutil.h"

#include <libpq-fe.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db.h"
#include "testutil.h"

#define PGTMP KGD_SOURCE_DIR "/tests/pgtmp.sh"

static int field(const char *conninfo, const char *key, char *out, size_t cap)
{
	char pat[32];
	const char *p;
	size_t n;

	snprintf(pat, sizeof(pat), "%s=", key);
	p = strstr(conninfo, pat);
	if (!p)
		return -1;
	p += strlen(pat);
	n = strcspn(p, " \n");
	if (n >= cap)
		return -1;
	memcpy(out, p, n);
	out[n] = '\0';
	return 0;
}

int pgu_start(pgu_server *s, const char *tag, int lifetime_s)
{
	char pid[32], life[32], errbuf[4096];
	char *argv[] = { "/bin/sh", PGTMP, "start", s->dir, pid, life, NULL };

	memset(s, 0, sizeof(*s));
	snprintf(s->dir, sizeof(s->dir), "%s", tu_mkdtemp(tag));
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	snprintf(life, sizeof(life), "%d", lifetime_s);
	if (tu_run(argv, s->conninfo, sizeof(s->conninfo), errbuf, sizeof(errbuf),
		   60) != 0) {
		fprintf(stderr, "pgtmp start failed: %s\n", errbuf);
		return -1;
	}
	s->conninfo[strcspn(s->conninfo, "\n")] = '\0';
	if (field(s->conninfo, "host", s->host, sizeof(s->host)) ||
	    field(s->conninfo, "port", s->port, sizeof(s->port)))
		return -1;
	s->up = 1;
	return 0;
}

/* pgtmp.sh pause|resume: it knows the user, the bindir and the data
 * folder, retries the start and waits for the socket (a loaded machine
 * may take a while to recover from the immediate stop). */
static int pg_ctl(pgu_server *s, const char *what)
{
	char errbuf[4096] = "";
	char *argv[] = { "/bin/sh", PGTMP, (char *)what, s->dir, NULL };
	int rc = tu_run(argv, NULL, 0, errbuf, sizeof(errbuf), 300);

	if (rc != 0)
		fprintf(stderr, "pgtmp %s failed (%d): %s\n", what, rc, errbuf);
	return rc == 0 ? 0 : -1;
}

int pgu_pause(pgu_server *s)
{
	return pg_ctl(s, "pause");
}

int pgu_resume(pgu_server *s)
{
	return pg_ctl(s, "resume");
}

void pgu_stop(pgu_server *s)
{
	char *argv[] = { "/bin/sh", PGTMP, "stop", s->dir, NULL };

	if (!s->dir[0])
		return;
	if (s->up)
		tu_run(argv, NULL, 0, NULL, 0, 30);
	s->up = 0;
	tu_rmtree(s->dir);
	s->dir[0] = '\0';
}

const char *pgu_conninfo(const pgu_server *s, const char *user, char *buf,
			 size_t cap)
{
	snprintf(buf, cap, "host=%s port=%s dbname=kgd user=%s", s->host,
		 s->port, user ? user : "kgd_admin");
	return buf;
}

static void quiet(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

static PGresult *run_sql(const pgu_server *s, const char *sql, PGconn **out)
{
	PGconn *c = PQconnectdb(s->conninfo);
	PGresult *r;

	*out = c;
	if (PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "pgu: %s", PQerrorMessage(c));
		return NULL;
	}
	PQsetNoticeProcessor(c, quiet, NULL);
	r = PQexec(c, sql);
	if (PQresultStatus(r) != PGRES_COMMAND_OK &&
	    PQresultStatus(r) != PGRES_TUPLES_OK) {
		fprintf(stderr, "pgu: %s: %s", sql, PQerrorMessage(c));
		PQclear(r);
		return NULL;
	}
	return r;
}

int pgu_exec(const pgu_server *s, const char *sql)
{
	PGconn *c;
	PGresult *r = run_sql(s, sql, &c);
	int rc = r ? 0 : -1;

	PQclear(r);
	PQfinish(c);
	return rc;
}

long long pgu_q(const pgu_server *s, const char *sql)
{
	PGconn *c;
	PGresult *r = run_sql(s, sql, &c);
	long long v = -1;

	if (r && PQntuples(r) > 0 && !PQgetisnull(r, 0, 0))
		v = atoll(PQgetvalue(r, 0, 0));
	PQclear(r);
	PQfinish(c);
	return v;
}

const char *pgu_text(const pgu_server *s, const char *sql, char *buf,
		     size_t cap)
{
	PGconn *c;
	PGresult *r = run_sql(s, sql, &c);

	buf[0] = '\0';
	if (r && PQntuples(r) > 0 && !PQgetisnull(r, 0, 0))
		snprintf(buf, cap, "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	PQfinish(c);
	return buf;
}

int pgu_make_results(const char *path, const char *station, const char *lot,
		     int n_parts, int n_meas, unsigned seed)
{
	static const db_bin bins[] = { { 1, "PASS", 1, 1 }, { 20, "LOW_POWER", 0, 2 } };
	static const db_bin hard[] = { { 1, "GOOD", 1, 0 }, { 2, "BAD", 0, 0 } };
	static const db_instrument inst[] = {
		{ "pm", "keysight-n774x", 1, 1, "/x/keysight-n774x.so", "ab12",
		  "Keysight,N7745C,SIM0001,1.0" },
	};
	db_session_info si = {
		.station = station, .host = "gen-host", .operator_name = "gen",
		.lot = lot, .process = "unit", .product = "gen-product",
		.seq_name = "gen-seq", .seq_version = 1, .seq_sha256 = "5eed",
		.seq_text = "name: gen-seq\n", .limits_sha256 = "11ab",
		.limits_text = "limits: {}\n", .bins = bins, .n_bins = 2,
		.hard_bins = hard, .n_hard_bins = 2, .instruments = inst,
		.n_instruments = 1,
	};
	char serial[64], coords[64];
	kgd_err err;
	int64_t sid = 0, run_id;
	db *d = NULL;
	int rc = -1;

	if (db_open(path, &d, &err) ||
	    db_session_begin(d, &si, &sid, NULL, &err))
		goto out;
	for (int p = 0; p < n_parts; p++) {
		int tries = (p % 10 == 9) ? 2 : 1;

		snprintf(serial, sizeof(serial), "%s-%05d", lot, p + 1);
		for (int t = 0; t < tries; t++) {
			int fail = tries == 2 && t == 0;
			db_run_info info = {
				.station = station, .host = "gen-host",
				.operator_name = "gen", .lot = lot, .serial = serial,
				.seq_name = "gen-seq", .seq_version = 1,
				.seq_sha256 = "5eed", .seq_text = "name: gen-seq\n",
				.product = "gen-product", .session_id = sid,
				.limits_sha256 = "11ab", .limits_text = "limits: {}\n",
			};

			if (db_run_begin(d, &info, &run_id, &err))
				goto out;
			for (int m = 0; m < n_meas; m++) {
				/* A value with every bit of a double in play. */
				double v = -3.0 + sin((double)(seed * 7919u + (unsigned)p
							       * 131u + (unsigned)m)) *
						  0.25 - (fail ? 2.0 : 0.0);
				db_measurement x = {
					.step = "insertion_loss", .coords = coords,
					.value = v, .value_valid = (m % 97) != 5,
					.unit = "dB", .low = -4.0, .high = -1.0,
					.has_low = 1, .has_high = 1,
					.pass = v >= -4.0 && v <= -1.0,
				};
				snprintf(coords, sizeof(coords),
					 "{\"port\":%d,\"wavelength_nm\":%.1f}",
					 m % 16 + 1, 1300.0 + (m / 16) * 0.5);
				if (db_measurement_add(d, run_id, &x, &err))
					goto out;
			}
			if (db_step_result_add_timed(d, run_id, "insertion_loss",
						     fail ? "fail" : "pass",
						     fail ? 20 : 0, n_meas,
						     1.7e9 + p, 1.7e9 + p + 0.25,
						     &err) ||
			    db_run_commit(d, run_id, fail ? DB_STATUS_FAIL
							  : DB_STATUS_PASS,
					  fail ? 2 : 1, fail ? 20 : 1,
					  fail ? "insertion_loss" : NULL, &err))
				goto out;
		}
	}
	if (db_session_end(d, sid, DB_SESSION_COMPLETE, &err))
		goto out;
	rc = 0;
out:
	if (rc)
		fprintf(stderr, "pgu_make_results: %s\n", err.msg);
	db_close(d);
	return rc;
}
