/*
 * tests/pgutil.h - a throwaway PostgreSQL server for tests and benchmarks
 * (through tests/pgtmp.sh, the one place that knows how to start one),
 * SQL on it, and a generator of station results files of any size.
 *
 * Invariant: a server started here is stopped by pgu_stop(), or by the
 * script's watchdog when this process is gone or its lifetime is over:
 * nothing outlives the test.
 */
#ifndef KGD_PGUTIL_H
#define KGD_PGUTIL_H

#include <stddef.h>

typedef struct pgu_server {
	char dir[512];        /* its scratch folder */
	char conninfo[700];   /* the admin's: host=... port=... dbname=kgd user=kgd_admin */
	char host[600];       /* the socket folder */
	char port[16];
	int up;
} pgu_server;

/* Start a server in a new scratch folder; lifetime_s bounds it. 0 = ok. */
int pgu_start(pgu_server *s, const char *tag, int lifetime_s);
/* Stop it (immediate) and remove its folder. Safe to call twice. */
void pgu_stop(pgu_server *s);
/* Stop and start it again on the same data (a server restart). */
int pgu_pause(pgu_server *s);
int pgu_resume(pgu_server *s);

/* A conninfo for role user (NULL: the admin) on s, into buf. */
const char *pgu_conninfo(const pgu_server *s, const char *user, char *buf,
			 size_t cap);

/* Run sql as the admin; -1 on error (printed). pgu_q: the first value of
 * the first row as a long long (-1 on error). */
int pgu_exec(const pgu_server *s, const char *sql);
long long pgu_q(const pgu_server *s, const char *sql);
/* The first value as text into buf ("" on error or NULL). */
const char *pgu_text(const pgu_server *s, const char *sql, char *buf,
		     size_t cap);

/* Write a station results file at path through db.h, as a station
 * would: one session of lot `lot` on station `station`, n_parts units
 * (serials <lot>-<n>), each with n_meas measurements (a sweep of one
 * step) and a step result; every tenth part fails and is retested once.
 * seed varies the values. 0 = ok. */
int pgu_make_results(const char *path, const char *station, const char *lot,
		     int n_parts, int n_meas, unsigned seed);

#endif
