/*
 * db/db_lease.c - the lot lease: which station holds a lot, so two
 * stations never test one lot at once (issue 19). A lease is a row of
 * lot_lease (schema 5), keyed by the lot: the station, host and pid of the
 * holder, the pid's start time and the host's boot id (so a pid reused
 * after the holder died, or a reboot, is not taken for the holder), when it
 * was taken and when last renewed. db.c takes it with the session, renews
 * it as the session commits (at most once a minute: DB_LEASE_RENEW_S)
 * and drops it at the session's end.
 *
 * A holder is alive:
 *  - on this host: while its process is (kill(pid, 0) finds it, with the
 *    same start time, in the same boot), however long it has been quiet -
 *    an operator may take an hour over a serial number;
 *  - on another host (the file on a disk moved between machines, or a
 *    shared folder, which WAL does not support): while it renewed its
 *    lease in the last DB_LEASE_STALE_S seconds.
 * A lease that is not alive is stale; db_lease_check drops it, and the
 * session it belonged to is then marked interrupted (db.c).
 *
 * Place in db/: below db.c, above db_core.c (the statement cache).
 */
#include "db_int.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Who a process is, as a lease names it. */
struct holder {
	char host[256];
	long long pid;
	long long start;           /* clock ticks after boot; -1 unknown */
	char boot[64];             /* "" unknown */
};

/* The start time of pid (field 22 of /proc/<pid>/stat), -1 if unknown. */
static long long proc_start(long long pid)
{
	char path[64], buf[1024], *p;
	long long start = -1;
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%lld/stat", pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* The command name (field 2) may hold spaces and parentheses: the
	 * fields after it start at the last ')'. */
	p = strrchr(buf, ')');
	for (int field = 2; p && field < 22; field++)
		p = strchr(p + 1, ' ');
	if (p)
		start = strtoll(p + 1, NULL, 10);
	return start > 0 ? start : -1;
}

static void me(struct holder *h)
{
	FILE *f;

	memset(h, 0, sizeof(*h));
	if (gethostname(h->host, sizeof(h->host) - 1) != 0 || !h->host[0])
		snprintf(h->host, sizeof(h->host), "localhost");
	h->pid = (long long)getpid();
	h->start = proc_start(h->pid);
	f = fopen("/proc/sys/kernel/random/boot_id", "r");
	if (f) {
		if (!fgets(h->boot, sizeof(h->boot), f))
			h->boot[0] = '\0';
		h->boot[strcspn(h->boot, "\n")] = '\0';
		fclose(f);
	}
}

/* One lot_lease row. */
struct lease {
	int64_t lot_id, session_id;
	char station[128], host[256], since[32], renewed[32], lot[128];
	char boot[64];
	long long pid, start;      /* start -1: NULL */
	int expired;               /* not renewed for DB_LEASE_STALE_S */
};

static void col_text(sqlite3_stmt *st, int col, char *buf, size_t cap)
{
	const unsigned char *t = sqlite3_column_text(st, col);

	snprintf(buf, cap, "%s", t ? (const char *)t : "");
}

static int alive(const struct lease *l, const struct holder *self)
{
	if (strcmp(l->host, self->host) != 0)
		return !l->expired;
	if (l->boot[0] && self->boot[0] && strcmp(l->boot, self->boot) != 0)
		return 0;          /* the host has rebooted since */
	if (l->pid <= 0 || l->pid > INT_MAX)
		return 0;
	if (kill((pid_t)l->pid, 0) != 0 && errno == ESRCH)
		return 0;
	/* The pid is in use: by the holder, or by a process that got the
	 * number after the holder died. */
	if (l->start > 0 && self->start > 0) {
		long long now = proc_start(l->pid);

		if (now > 0 && now != l->start)
			return 0;
	}
	return 1;
}

static int refuse(db *d, const struct lease *l, const char *lot,
		  const struct holder *self, kgd_err *err)
{
	char remote[160] = "";

	if (strcmp(l->host, self->host) != 0)
		snprintf(remote, sizeof(remote), "; a lease of another host lapses "
			 "%d minutes after its last renewal (%s)",
			 DB_LEASE_STALE_S / 60, l->renewed);
	return kgd_err_set(err, KGD_ERR_DB, "%s: lot '%s' is held by station "
			   "'%s' on host %s (pid %lld) since %s (session %lld): "
			   "two stations on one lot would test its parts twice. "
			   "Nothing was written; let that run finish or stop it "
			   "first%s", d->path, lot, l->station, l->host, l->pid,
			   l->since, (long long)l->session_id, remote);
}

int db_lease_check(db *d, int64_t lot_id, const char *lot, kgd_err *err)
{
	sqlite3_stmt *st = d->st[ST_LEASE_LIST];
	struct lease *v = NULL, *grown;
	size_t n = 0, cap = 0, i;
	struct holder self;
	int rc, status = KGD_OK;

	me(&self);
	rc = sqlite3_bind_int(st, 1, DB_LEASE_STALE_S);
	while (rc == SQLITE_OK || rc == SQLITE_ROW) {
		struct lease *l;

		if ((rc = sqlite3_step(st)) != SQLITE_ROW)
			break;
		if (n == cap) {
			cap = cap ? 2 * cap : 8;
			grown = realloc(v, cap * sizeof(*v));
			if (!grown) {
				status = kgd_err_set(err, KGD_ERR_NOMEM,
						     "%s: out of memory", d->path);
				break;
			}
			v = grown;
		}
		l = &v[n++];
		l->lot_id = sqlite3_column_int64(st, 0);
		l->session_id = sqlite3_column_int64(st, 1);
		col_text(st, 2, l->station, sizeof(l->station));
		col_text(st, 3, l->host, sizeof(l->host));
		l->pid = sqlite3_column_int64(st, 4);
		l->start = sqlite3_column_type(st, 5) == SQLITE_NULL
			   ? -1 : sqlite3_column_int64(st, 5);
		col_text(st, 6, l->boot, sizeof(l->boot));
		col_text(st, 7, l->since, sizeof(l->since));
		col_text(st, 8, l->renewed, sizeof(l->renewed));
		l->expired = sqlite3_column_int(st, 9);
		col_text(st, 10, l->lot, sizeof(l->lot));
	}
	if (!status && rc != SQLITE_DONE)
		status = db_fail(d->h, d->path, err, "reading the lot leases");
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	/* Every stale lease goes, whichever lot it is of: its session is
	 * then one no one holds, and db.c marks it interrupted. */
	for (i = 0; !status && i < n; i++) {
		if (alive(&v[i], &self)) {
			if (v[i].lot_id == lot_id)
				status = refuse(d, &v[i], lot, &self, err);
			continue;
		}
		status = db_st_exec(d, ST_LEASE_DROP,
				    (db_val[]){ VAL_INT(v[i].lot_id) }, 1,
				    "dropping a stale lot lease", err);
	}
	free(v);
	return status;
}

int db_lease_take(db *d, int64_t lot_id, int64_t session_id,
		  const char *station, kgd_err *err)
{
	struct holder self;

	me(&self);
	return db_st_exec(d, ST_LEASE_ADD,
			  (db_val[]){ VAL_INT(lot_id), VAL_INT(session_id),
				      VAL_TEXT(station), VAL_TEXT(self.host),
				      VAL_INT(self.pid),
				      self.start > 0 ? VAL_INT(self.start) : VAL_NULL,
				      self.boot[0] ? VAL_TEXT(self.boot) : VAL_NULL },
			  7, "taking the lot lease", err);
}

int db_lease_renew(db *d, int64_t session_id, kgd_err *err)
{
	sqlite3_stmt *st = d->st[ST_LEASE_HELD];
	int rc, due = 0, status = KGD_OK;

	rc = sqlite3_bind_int64(st, 1, session_id);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int(st, 2, DB_LEASE_RENEW_S);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		due = sqlite3_column_int(st, 0);
	else if (rc == SQLITE_DONE)
		status = KGD_ERR_NOT_FOUND;
	else
		status = db_fail(d->h, d->path, err, "reading the lot lease");
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (!status && due)
		status = db_st_exec(d, ST_LEASE_RENEW,
				    (db_val[]){ VAL_INT(session_id) }, 1,
				    "renewing the lot lease", err);
	return status;
}

int db_lease_release(db *d, int64_t session_id, kgd_err *err)
{
	return db_st_exec(d, ST_LEASE_RELEASE, (db_val[]){ VAL_INT(session_id) },
			  1, "releasing the lot lease", err);
}
