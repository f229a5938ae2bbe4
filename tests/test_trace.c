/*
 * tests/test_trace.c - the instrument trace (kgd/xport.h "trace",
 * docs/SEQUENCES.md "Instrument trace"): one line per write and per read,
 * TIME LABEL URI DIR BYTES, every byte outside printable ASCII escaped.
 *
 *  1. Through the library, on a loopback peer: the exact line of a command,
 *     of a reply holding CR, TAB, a backslash and bytes >= 0x80, of a block
 *     read, of a timeout with part of a reply ('!'); a label with a space
 *     stays one field; the sink is called once per line; with no sink set
 *     nothing is traced.
 *  2. Through the real `station run` against kgd-vstation (ELSFP): the
 *     trace holds the pm's *IDN? and its reply under role 'pm' and the
 *     pm's URI, the laser adapter's under 'laser'; every line is whole and
 *     well formed, each role's lines in time order; the all-port read's
 *     binary block decodes back to exactly the bytes its header announced;
 *     KGD_TRACE is the default, --trace wins over it and --trace ''
 *     turns it off; the file is truncated; without either nothing is
 *     written; a trace file that cannot be created stops the run (exit 1)
 *     naming it, before the database is created.
 *  3. A scripted power meter (drv_peer) answering *IDN? with CR, TAB, a
 *     backslash and bytes >= 0x80: the refused identity is in the trace,
 *     escaped; one that never answers leaves a '!' timeout line.
 *  4. The parallel TeraPHY screen (sequences/teraphy-kgd-parallel.yaml):
 *     pm and BERT lines interleave - BERT exchanges while the pm waits for
 *     a reply - yet every line is whole, its URI its role's; the same run
 *     with KGD_NO_PARALLEL=1 has no such interleaving (the control that
 *     shows the count measures the threads).
 *
 * Invariant: every process started here is stopped and reaped by the test
 * that started it (tu_run, tu_wait, tu_vstation_stop, drv_peer_stop).
 */
#include <CUnit/CUnit.h>
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "drv_peer.h"
#include "kgd/xport.h"
#include "testutil.h"

#define STATION KGD_BIN_DIR "/station"
#define ELSFP_SEQ KGD_SOURCE_DIR "/sequences/elsfp-module.yaml"
#define PAR_SEQ KGD_SOURCE_DIR "/sequences/teraphy-kgd-parallel.yaml"
#define RUN_TIMEOUT_S 180

static char dir[512];
static char out[65536], errbuf[65536];

static int suite_init(void)
{
	snprintf(dir, sizeof(dir), "%s", tu_mkdtemp("trace"));
	return 0;
}

static int suite_clean(void)
{
	tu_rmtree(dir);
	return 0;
}

/* ---- reading trace lines -------------------------------------------------- */

typedef struct tline {
	char time[32];
	char label[64];
	char uri[256];
	char dir;
	const char *bytes;   /* escaped, into the caller's text */
	size_t nbytes;
} tline;

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int is_hex(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f');
}

/* Decode an escaped BYTES field into out (cap); the byte count, or -1 for
 * an escape the format does not have. */
static long unescape(const char *s, size_t n, unsigned char *out, size_t cap)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\\') {
			if (i + 1 >= n)
				return -1;
			c = (unsigned char)s[++i];
			if (c == '\\')
				c = '\\';
			else if (c == 'r')
				c = '\r';
			else if (c == 'n')
				c = '\n';
			else if (c == 't')
				c = '\t';
			else if (c == 'x' && i + 2 < n && is_hex(s[i + 1]) &&
				 is_hex(s[i + 2])) {
				char h[3] = {s[i + 1], s[i + 2], 0};

				c = (unsigned char)strtol(h, NULL, 16);
				i += 2;
			} else
				return -1;
		}
		if (o < cap)
			out[o] = c;
		o++;
	}
	return (long)o;
}

/* One trace line (its newline already cut) split into its fields; 0 when
 * it is well formed (kgd/xport.h), otherwise -1 with the reason printed. */
static int parse_line(const char *s, size_t n, tline *t)
{
	static const char shape[] = "dddd-dd-ddTdd:dd:dd.ddddddZ";
	const char *p = s, *end = s + n, *sp;
	unsigned char tmp[1];
	const char *why = NULL;

	memset(t, 0, sizeof(*t));
	for (size_t i = 0; i < n && !why; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			why = "a raw control byte or a byte >= 0x80";
	for (size_t i = 0; !why && i < sizeof(shape) - 1; i++)
		if (i >= n || (shape[i] == 'd' ? !is_digit(s[i]) : s[i] != shape[i]))
			why = "time not YYYY-MM-DDTHH:MM:SS.uuuuuuZ";
	if (!why) {
		memcpy(t->time, s, sizeof(shape) - 1);
		p = s + sizeof(shape) - 1;
		if (p >= end || *p++ != ' ')
			why = "no space after the time";
	}
	if (!why) {
		sp = memchr(p, ' ', (size_t)(end - p));
		if (!sp || sp == p || (size_t)(sp - p) >= sizeof(t->label))
			why = "no label";
		else {
			memcpy(t->label, p, (size_t)(sp - p));
			p = sp + 1;
		}
	}
	if (!why) {
		sp = memchr(p, ' ', (size_t)(end - p));
		if (!sp || sp == p || (size_t)(sp - p) >= sizeof(t->uri))
			why = "no URI";
		else {
			memcpy(t->uri, p, (size_t)(sp - p));
			p = sp + 1;
		}
	}
	if (!why && (end - p < 3 || !strchr("<>!", *p) || p[1] != ' '))
		why = "no direction < > ! followed by a space";
	if (!why) {
		t->dir = *p;
		t->bytes = p + 2;
		t->nbytes = (size_t)(end - p - 2);
		if (unescape(t->bytes, t->nbytes, tmp, 0) < 0)
			why = "an escape that is not \\\\ \\r \\n \\t or \\xNN";
	}
	if (why)
		fprintf(stderr, "\n  bad trace line (%s): %.*s", why, (int)n, s);
	return why ? -1 : 0;
}

/* A whole trace file: text and its lines. */
typedef struct trace {
	char *text;
	size_t n;
	tline *lines;
	int bad;             /* lines that did not parse, or no final newline */
} trace;

static void trace_free(trace *tr)
{
	free(tr->text);
	free(tr->lines);
	memset(tr, 0, sizeof(*tr));
}

/* Read and parse path; 0 when it exists (even if some lines are bad). */
static int trace_read(const char *path, trace *tr)
{
	size_t len = 0, cap = 0;
	char *p, *nl;

	memset(tr, 0, sizeof(*tr));
	tr->text = tu_slurp(path, &len);
	if (!tr->text)
		return -1;
	if (len && tr->text[len - 1] != '\n') {
		fprintf(stderr, "\n  %s does not end with a newline", path);
		tr->bad++;
	}
	for (p = tr->text; p < tr->text + len; p = nl + 1) {
		nl = memchr(p, '\n', (size_t)(tr->text + len - p));
		if (!nl)
			nl = tr->text + len;
		if (tr->n == cap) {
			cap = cap ? 2 * cap : 256;
			tr->lines = realloc(tr->lines, cap * sizeof(*tr->lines));
			CU_ASSERT_PTR_NOT_NULL_FATAL(tr->lines);
		}
		if (parse_line(p, (size_t)(nl - p), &tr->lines[tr->n]) == 0)
			tr->n++;
		else
			tr->bad++;
	}
	return 0;
}

/* 1 when line i has this label, direction and exactly these escaped bytes. */
static int is_line(const trace *tr, size_t i, const char *label, char d,
		   const char *bytes)
{
	const tline *t = &tr->lines[i];

	return strcmp(t->label, label) == 0 && t->dir == d &&
	       t->nbytes == strlen(bytes) && memcmp(t->bytes, bytes, t->nbytes) == 0;
}

/* The next line of label after line i, or tr->n. */
static size_t next_of(const trace *tr, size_t i, const char *label)
{
	for (i++; i < tr->n; i++)
		if (strcmp(tr->lines[i].label, label) == 0)
			break;
	return i;
}

/* Every line's label is one of roles (NULL-terminated) and its URI that
 * role's in vs; each role's lines are in time order. The count of lines
 * that break either. */
static int trace_roles_ok(const trace *tr, const tu_vstation *vs,
			  const char *const *roles)
{
	int bad = 0;

	for (size_t i = 0; i < tr->n; i++) {
		const tline *t = &tr->lines[i];
		const char *uri = NULL;
		size_t prev;

		for (const char *const *r = roles; *r; r++)
			if (strcmp(*r, t->label) == 0)
				uri = tu_vstation_uri(vs, *r);
		if (!uri || strcmp(uri, t->uri) != 0) {
			fprintf(stderr, "\n  line %zu: role '%s' with URI %s", i + 1,
				t->label, t->uri);
			bad++;
			continue;
		}
		for (prev = i; prev-- > 0;)
			if (strcmp(tr->lines[prev].label, t->label) == 0)
				break;
		if (prev < i && strcmp(tr->lines[prev].time, t->time) > 0) {
			fprintf(stderr, "\n  line %zu: %s before its role's line %zu (%s)",
				i + 1, t->time, prev + 1, tr->lines[prev].time);
			bad++;
		}
	}
	return bad;
}

/* ---- 1. the library, on a loopback peer ------------------------------------ */

typedef struct sink {
	pthread_mutex_t mu;
	char text[1 << 16];
	size_t used;
	int calls, bad;
} sink;

static sink lib_sink = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void sink_line(void *user, const char *line, size_t len)
{
	sink *s = user;

	pthread_mutex_lock(&s->mu);
	s->calls++;
	/* one line a call: ends in its only newline, NUL right after */
	if (len == 0 || line[len - 1] != '\n' || memchr(line, '\n', len - 1) ||
	    line[len] != '\0')
		s->bad++;
	if (s->used + len < sizeof(s->text)) {
		memcpy(s->text + s->used, line, len);
		s->used += len;
		s->text[s->used] = '\0';
	}
	pthread_mutex_unlock(&s->mu);
}

static void sink_reset(void)
{
	pthread_mutex_lock(&lib_sink.mu);
	lib_sink.used = 0;
	lib_sink.text[0] = '\0';
	lib_sink.calls = lib_sink.bad = 0;
	pthread_mutex_unlock(&lib_sink.mu);
}

static int peer_answer(void *user, int fd, const char *line)
{
	(void)user;
	if (strcmp(line, "*IDN?") == 0) {
		static const char odd[] = "Odd\r\tCo\\,M\x80\xff 1 \n";

		tu_send_all(fd, odd, sizeof(odd) - 1);
	} else if (strcmp(line, "BLOCK?") == 0) {
		tu_send_all(fd, "\x00\x01\x7f\x80", 4);
	} else if (strcmp(line, "HALF?") == 0) {
		tu_send_all(fd, "par", 3);
	}
	return 1;
}

/* The lines in lib_sink with the time cut off: "LABEL URI DIR BYTES\n". */
static const char *untimed(char *buf, size_t cap)
{
	size_t o = 0;

	pthread_mutex_lock(&lib_sink.mu);
	for (const char *p = lib_sink.text; *p && o + 1 < cap;) {
		const char *nl = strchr(p, '\n');
		size_t n;

		nl = nl ? nl + 1 : p + strlen(p);
		if (nl - p > 28) {
			n = (size_t)(nl - p - 28);
			if (o + n >= cap)
				break;
			memcpy(buf + o, p + 28, n);
			o += n;
		}
		p = nl;
	}
	buf[o] = '\0';
	pthread_mutex_unlock(&lib_sink.mu);
	return buf;
}

static void test_library_lines(void)
{
	tu_peer p;
	xport *x = NULL;
	char line[128], want[2048], got[4096];
	unsigned char block[4];
	kgd_err err;
	trace tr = {0};
	time_t before = time(NULL);

	CU_ASSERT_FATAL(tu_peer_start(&p, peer_answer, NULL) == 0);
	CU_ASSERT_EQUAL_FATAL(xport_open(p.uri, 300, &x, &err), KGD_OK);
	CU_ASSERT_STRING_EQUAL(xport_label(x), "");

	/* Off: nothing reaches a sink. */
	sink_reset();
	CU_ASSERT_EQUAL(xport_write_line(x, "*IDN?", &err), KGD_OK);
	CU_ASSERT_EQUAL(xport_read_line(x, line, sizeof(line), NULL, &err), KGD_OK);
	CU_ASSERT_EQUAL(lib_sink.calls, 0);

	xport_set_trace(sink_line, &lib_sink);
	CU_ASSERT_EQUAL(xport_write_line(x, "*IDN?", &err), KGD_OK);
	CU_ASSERT_EQUAL(xport_read_line(x, line, sizeof(line), NULL, &err), KGD_OK);
	CU_ASSERT_STRING_EQUAL(line, "Odd\r\tCo\\,M\x80\xff 1 ");
	CU_ASSERT_EQUAL(xport_set_label(x, "pm 2"), KGD_OK);
	CU_ASSERT_STRING_EQUAL(xport_label(x), "pm 2");
	CU_ASSERT_EQUAL(xport_write(x, "BLOCK?\n", 7, &err), KGD_OK);
	CU_ASSERT_EQUAL(xport_read_n(x, block, 4, &err), KGD_OK);
	CU_ASSERT_EQUAL(xport_set_label(x, "pm"), KGD_OK);
	CU_ASSERT_EQUAL(xport_write_line(x, "HALF?", &err), KGD_OK);
	CU_ASSERT_EQUAL(xport_read_line(x, line, sizeof(line), NULL, &err),
			KGD_ERR_TIMEOUT);
	xport_set_trace(NULL, NULL);
	/* Off again. */
	CU_ASSERT_EQUAL(xport_write_line(x, "SILENT", &err), KGD_OK);

	snprintf(want, sizeof(want),
		 "- %1$s > *IDN?\\n\n"
		 "- %1$s < Odd\\r\\tCo\\\\,M\\x80\\xff 1 \\n\n"
		 "pm\\x202 %1$s > BLOCK?\\n\n"
		 "pm\\x202 %1$s < \\x00\\x01\\x7f\\x80\n"
		 "pm %1$s > HALF?\\n\n"
		 "pm %1$s ! timeout par\n", p.uri);
	CU_ASSERT_STRING_EQUAL(untimed(got, sizeof(got)), want);
	CU_ASSERT_EQUAL(lib_sink.calls, 6);
	CU_ASSERT_EQUAL(lib_sink.bad, 0);

	/* The time: UTC, microseconds, now, in order. */
	{
		char path[700];
		FILE *f;

		snprintf(path, sizeof(path), "%s/lib.trace", dir);
		f = fopen(path, "w");
		CU_ASSERT_PTR_NOT_NULL_FATAL(f);
		fputs(lib_sink.text, f);
		fclose(f);
		CU_ASSERT_EQUAL_FATAL(trace_read(path, &tr), 0);
		CU_ASSERT_EQUAL(tr.bad, 0);
		CU_ASSERT_EQUAL(tr.n, 6);
		for (size_t i = 0; i < tr.n; i++) {
			struct tm tm = {0};
			time_t t;

			CU_ASSERT_EQUAL(sscanf(tr.lines[i].time, "%4d-%2d-%2dT%2d:%2d:%2d",
					       &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
					       &tm.tm_hour, &tm.tm_min, &tm.tm_sec), 6);
			tm.tm_year -= 1900;
			tm.tm_mon -= 1;
			t = timegm(&tm);
			CU_ASSERT(t >= before - 1 && t <= time(NULL) + 1);
			if (i)
				CU_ASSERT(strcmp(tr.lines[i - 1].time, tr.lines[i].time) <= 0);
		}
		trace_free(&tr);
	}
	xport_close(x);
	tu_peer_join(&p);
}

/* ---- 2. station run on the virtual ELSFP station --------------------------- */

static tu_vstation elsfp_vs;

static int elsfp_init(void)
{
	const char *args[] = {"--product", "elsfp", "--units", "8", "--time-scale",
			      "0.01", "--lifetime-s", "300", NULL};

	suite_init();
	return tu_vstation_start(dir, args, &elsfp_vs) == 0 ? 0 : -1;
}

static int elsfp_clean(void)
{
	tu_vstation_stop(&elsfp_vs);
	return suite_clean();
}

static const char *const elsfp_roles[] = {"pm", "laser", NULL};

/* station run of the ELSFP sequence, 2 units, with extra options (up to
 * 2, NULL-terminated) and environment (tu_spawn's form); its exit status,
 * stdout and stderr in out and errbuf, both printed when the status is
 * not the one expected. */
static int run_elsfp(const char *db, const char *const *env, const char *o1,
		     const char *o2, int expect)
{
	char *argv[] = {STATION, "run", ELSFP_SEQ, "--config", elsfp_vs.config,
			"--db", (char *)db, "--lot", "TR", "--units", "2", "--quiet",
			(char *)o1, (char *)o2, NULL};
	char op[700], ep[700];
	char *text;
	int pid, rc;

	snprintf(op, sizeof(op), "%s/run.out", dir);
	snprintf(ep, sizeof(ep), "%s/run.err", dir);
	pid = tu_spawn(argv, env, op, ep);
	if (pid < 0)
		return -1;
	rc = tu_wait(pid, RUN_TIMEOUT_S);
	text = tu_slurp(op, NULL);
	snprintf(out, sizeof(out), "%s", text ? text : "");
	free(text);
	text = tu_slurp(ep, NULL);
	snprintf(errbuf, sizeof(errbuf), "%s", text ? text : "");
	free(text);
	unlink(op);
	unlink(ep);
	if (rc != expect)
		fprintf(stderr, "\n  station run exited %d:\n%s%s", rc, out, errbuf);
	return rc;
}

/* The first index of a pm "> *IDN?\n" line, or tr->n. */
static size_t find_line(const trace *tr, const char *label, char d,
			const char *bytes)
{
	for (size_t i = 0; i < tr->n; i++)
		if (is_line(tr, i, label, d, bytes))
			return i;
	return tr->n;
}

static int starts(const tline *t, const char *prefix)
{
	return t->nbytes >= strlen(prefix) &&
	       memcmp(t->bytes, prefix, strlen(prefix)) == 0;
}

static int ends(const tline *t, const char *suffix)
{
	size_t n = strlen(suffix);

	return t->nbytes >= n && memcmp(t->bytes + t->nbytes - n, suffix, n) == 0;
}

static void test_run_trace_elsfp(void)
{
	const char *env[] = {"KGD_TRACE", NULL};
	char db[700], path[700];
	trace tr;
	size_t i, j, blocks = 0, high = 0;

	snprintf(db, sizeof(db), "%s/run.db", dir);
	snprintf(path, sizeof(path), "%s/run.trace", dir);
	CU_ASSERT_EQUAL_FATAL(run_elsfp(db, env, "--trace", path, 0), 0);
	CU_ASSERT_EQUAL_FATAL(trace_read(path, &tr), 0);
	CU_ASSERT_EQUAL(tr.bad, 0);
	CU_ASSERT(tr.n > 50);
	CU_ASSERT_EQUAL(trace_roles_ok(&tr, &elsfp_vs, elsfp_roles), 0);

	/* The pm's identity query and its reply, one after the other. */
	i = find_line(&tr, "pm", '>', "*IDN?\\n");
	CU_ASSERT_FATAL(i < tr.n);
	CU_ASSERT_STRING_EQUAL(tr.lines[i].uri, tu_vstation_uri(&elsfp_vs, "pm"));
	j = next_of(&tr, i, "pm");
	CU_ASSERT_FATAL(j < tr.n);
	CU_ASSERT_EQUAL(tr.lines[j].dir, '<');
	CU_ASSERT(starts(&tr.lines[j], "Keysight Technologies,N7745A,"));
	CU_ASSERT(ends(&tr.lines[j], "\\n"));
	/* The laser adapter's, on its pty. */
	i = find_line(&tr, "laser", '>', "*IDN?\\n");
	CU_ASSERT_FATAL(i < tr.n);
	j = next_of(&tr, i, "laser");
	CU_ASSERT_FATAL(j < tr.n);
	CU_ASSERT(tr.lines[j].dir == '<' && starts(&tr.lines[j], "KGD,USB-I2C,"));

	/* The all-port read answers an IEEE 488.2 block of float32 watts: its
	 * header, length and data come as three reads, and the data, escaped
	 * (>= 0x80 as \xNN), decodes to exactly the length announced. */
	for (i = 0; i < tr.n; i++) {
		unsigned char data[4096];
		char lenbuf[16] = "";
		size_t k, d;
		long n;

		if (!is_line(&tr, i, "pm", '>', ":READ1:POW:ALL?\\n"))
			continue;
		j = next_of(&tr, i, "pm");
		CU_ASSERT_FATAL(j < tr.n && tr.lines[j].dir == '<' &&
				tr.lines[j].nbytes == 2 && tr.lines[j].bytes[0] == '#');
		d = (size_t)(tr.lines[j].bytes[1] - '0');
		k = next_of(&tr, j, "pm");
		CU_ASSERT_FATAL(k < tr.n && tr.lines[k].nbytes == d && d < 16);
		memcpy(lenbuf, tr.lines[k].bytes, d);
		k = next_of(&tr, k, "pm");
		CU_ASSERT_FATAL(k < tr.n);
		n = unescape(tr.lines[k].bytes, tr.lines[k].nbytes, data, sizeof(data));
		CU_ASSERT_EQUAL(n, atol(lenbuf));
		for (long b = 0; b < n && b < (long)sizeof(data); b++)
			high += data[b] >= 0x80;
		blocks++;
	}
	CU_ASSERT(blocks >= 2);           /* one a part at least */
	CU_ASSERT(high > 0);              /* float32 bytes >= 0x80 were escaped */
	trace_free(&tr);
}

/* No --trace, no KGD_TRACE: the run writes nothing but its database, and
 * nothing of the traffic on its terminal. */
static void test_no_trace_by_default(void)
{
	const char *env[] = {"KGD_TRACE", NULL};
	char sub[700], db[800], cwd[4096];
	DIR *d;
	struct dirent *e;
	int others = 0;

	snprintf(sub, sizeof(sub), "%s/quiet", dir);
	CU_ASSERT_EQUAL_FATAL(mkdir(sub, 0755), 0);
	snprintf(db, sizeof(db), "%s/q.db", sub);
	CU_ASSERT_PTR_NOT_NULL_FATAL(getcwd(cwd, sizeof(cwd)));
	/* run from the empty folder, so a default file name would land in it */
	CU_ASSERT_EQUAL_FATAL(chdir(sub), 0);
	CU_ASSERT_EQUAL(run_elsfp(db, env, NULL, NULL, 0), 0);
	CU_ASSERT_EQUAL_FATAL(chdir(cwd), 0);
	d = opendir(sub);
	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") &&
		    strncmp(e->d_name, "q.db", 4) != 0) {
			fprintf(stderr, "\n  unexpected file %s/%s", sub, e->d_name);
			others++;
		}
	closedir(d);
	CU_ASSERT_EQUAL(others, 0);
	CU_ASSERT_PTR_NULL(strstr(out, "IDN"));
	CU_ASSERT_PTR_NULL(strstr(errbuf, "IDN"));
}

/* KGD_TRACE is the default; the file is truncated; --trace wins over it;
 * --trace '' turns it off. */
static void test_env_trace(void)
{
	char db[700], envp[700], envv[800], optp[700];
	const char *env[] = {envv, NULL};
	struct stat st;
	trace tr;
	mode_t mask = umask(022);
	FILE *f;

	umask(mask);
	snprintf(db, sizeof(db), "%s/env.db", dir);
	snprintf(envp, sizeof(envp), "%s/env.trace", dir);
	snprintf(envv, sizeof(envv), "KGD_TRACE=%s", envp);
	f = fopen(envp, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fputs("stale line from an earlier run\n", f);
	fclose(f);
	CU_ASSERT_EQUAL_FATAL(run_elsfp(db, env, NULL, NULL, 0), 0);
	CU_ASSERT_EQUAL_FATAL(trace_read(envp, &tr), 0);
	CU_ASSERT_EQUAL(tr.bad, 0);          /* the stale line is gone */
	CU_ASSERT(find_line(&tr, "pm", '>', "*IDN?\\n") < tr.n);
	CU_ASSERT_EQUAL(trace_roles_ok(&tr, &elsfp_vs, elsfp_roles), 0);
	trace_free(&tr);

	/* --trace FILE wins: the environment's file is not even created. */
	CU_ASSERT_EQUAL(unlink(envp), 0);
	snprintf(optp, sizeof(optp), "%s/opt.trace", dir);
	CU_ASSERT_EQUAL_FATAL(run_elsfp(db, env, "--trace", optp, 0), 0);
	CU_ASSERT_NOT_EQUAL(stat(envp, &st), 0);
	CU_ASSERT_EQUAL_FATAL(stat(optp, &st), 0);
	CU_ASSERT_EQUAL(st.st_mode & 0777, 0644 & ~mask);
	CU_ASSERT_EQUAL_FATAL(trace_read(optp, &tr), 0);
	CU_ASSERT(tr.n > 50 && tr.bad == 0);
	CU_ASSERT(find_line(&tr, "pm", '>', "*IDN?\\n") < tr.n);
	trace_free(&tr);

	/* --trace '' turns a KGD_TRACE off. */
	CU_ASSERT_EQUAL_FATAL(run_elsfp(db, env, "--trace", "", 0), 0);
	CU_ASSERT_NOT_EQUAL(stat(envp, &st), 0);
}

/* A trace file that cannot be created: exit 1, one line naming it, before
 * anything is opened or the database created. */
static void test_bad_trace_path(void)
{
	const char *env[] = {"KGD_TRACE", NULL};
	char db[700], path[700], want[1600];
	struct stat st;

	snprintf(db, sizeof(db), "%s/bad.db", dir);
	snprintf(path, sizeof(path), "%s/no-such-folder/t.trace", dir);
	CU_ASSERT_EQUAL(run_elsfp(db, env, "--trace", path, 1), 1);
	snprintf(want, sizeof(want), "station: cannot create trace file '%s': "
		 "No such file or directory\n", path);
	CU_ASSERT_STRING_EQUAL(errbuf, want);
	CU_ASSERT_NOT_EQUAL(stat(db, &st), 0);
}

/* ---- 3. a scripted power meter ------------------------------------------ */

/* *IDN? answered with a CR, a TAB, a backslash and two bytes >= 0x80
 * (drv_peer appends the LF); everything else unanswered. */
static int odd_pm(void *state, const char *line, char *reply, size_t cap)
{
	(void)state;
	if (strcmp(line, "*IDN?") != 0)
		return PEER_NONE;
	snprintf(reply, cap, "Keysight\rTechnologies,\tN7745A\\,\x80\xff");
	return PEER_REPLY;
}

static int silent_pm(void *state, const char *line, char *reply, size_t cap)
{
	(void)state;
	(void)line;
	(void)reply;
	(void)cap;
	return PEER_HANG;
}

/* A config with the pm at pm_uri (timeout 500 ms) and the simulator's
 * laser. */
static void peer_config(const char *path, const char *pm_uri)
{
	FILE *f = fopen(path, "w");

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fprintf(f, "station: trace\ninstruments:\n"
		   "  pm: {driver: keysight-n774x, uri: \"%s\", timeout_ms: 500}\n"
		   "  laser: {driver: elsfp-cmis, uri: \"%s\"}\n",
		pm_uri, tu_vstation_uri(&elsfp_vs, "laser"));
	fclose(f);
}

static void test_peer_escapes(void)
{
	char uri[128], cfg[700], db[700], path[700];
	char *argv[] = {STATION, "run", ELSFP_SEQ, "--config", cfg, "--db", db,
			"--lot", "ODD", "--units", "1", "--quiet", "--trace", path,
			NULL};
	trace tr;
	size_t i;
	pid_t peer;

	snprintf(cfg, sizeof(cfg), "%s/odd.yaml", dir);
	snprintf(db, sizeof(db), "%s/odd.db", dir);
	snprintf(path, sizeof(path), "%s/odd.trace", dir);
	peer = drv_peer_tcp(odd_pm, NULL, uri, sizeof(uri));
	CU_ASSERT_FATAL(peer > 0);
	peer_config(cfg, uri);
	/* The driver refuses the identity: exit 1, and the trace says what the
	 * instrument answered, byte for byte. */
	CU_ASSERT_EQUAL(tu_run(argv, out, sizeof(out), errbuf, sizeof(errbuf), 60), 1);
	drv_peer_stop(peer);
	CU_ASSERT_PTR_NOT_NULL(strstr(errbuf, "role 'pm'"));
	CU_ASSERT_EQUAL_FATAL(trace_read(path, &tr), 0);
	CU_ASSERT_EQUAL(tr.bad, 0);
	i = find_line(&tr, "pm", '>', "*IDN?\\n");
	CU_ASSERT_FATAL(i < tr.n);
	CU_ASSERT_STRING_EQUAL(tr.lines[i].uri, uri);
	i = next_of(&tr, i, "pm");
	CU_ASSERT_FATAL(i < tr.n);
	CU_ASSERT(is_line(&tr, i, "pm", '<',
			  "Keysight\\rTechnologies,\\tN7745A\\\\,\\x80\\xff\\n"));
	trace_free(&tr);

	/* A meter that never answers: the query, then '! timeout'. */
	peer = drv_peer_tcp(silent_pm, NULL, uri, sizeof(uri));
	CU_ASSERT_FATAL(peer > 0);
	peer_config(cfg, uri);
	CU_ASSERT_EQUAL(tu_run(argv, out, sizeof(out), errbuf, sizeof(errbuf), 60), 1);
	drv_peer_stop(peer);
	CU_ASSERT_EQUAL_FATAL(trace_read(path, &tr), 0);
	CU_ASSERT_EQUAL(tr.bad, 0);
	i = find_line(&tr, "pm", '>', "*IDN?\\n");
	CU_ASSERT_FATAL(i < tr.n);
	i = next_of(&tr, i, "pm");
	CU_ASSERT(i < tr.n && is_line(&tr, i, "pm", '!', "timeout"));
	trace_free(&tr);
}

/* ---- 4. the parallel TeraPHY screen ---------------------------------------- */

typedef struct par_run {
	const char *tag;
	const char *env[4];
	tu_vstation vs;
	char db[700], path[700], op[700], ep[700];
	int pid;
} par_run;

static int par_start(par_run *r)
{
	const char *args[] = {"--product", "teraphy", "--lot", "TRP", "--seed", "300",
			      "--wafers", "1", "--die", "40x40", "--time-scale",
			      "0.1", NULL};
	char *argv[] = {STATION, "run", PAR_SEQ, "--config", r->vs.config, "--db",
			r->db, "--lot", "TRP", "--wafers", "1", "--quiet", "--trace",
			r->path, NULL};

	snprintf(r->db, sizeof(r->db), "%s/%s.db", dir, r->tag);
	snprintf(r->path, sizeof(r->path), "%s/%s.trace", dir, r->tag);
	snprintf(r->op, sizeof(r->op), "%s/%s.out", dir, r->tag);
	snprintf(r->ep, sizeof(r->ep), "%s/%s.err", dir, r->tag);
	if (tu_vstation_start(dir, args, &r->vs))
		return -1;
	r->pid = tu_spawn(argv, r->env, r->op, r->ep);
	return r->pid > 0 ? 0 : -1;
}

static int par_finish(par_run *r)
{
	int rc = r->pid > 0 ? tu_wait(r->pid, RUN_TIMEOUT_S) : -1;

	tu_vstation_stop(&r->vs);
	if (rc != 0) {
		char *e = tu_slurp(r->ep, NULL);

		fprintf(stderr, "\n  %s: station run exited %d: %s", r->tag, rc,
			e ? e : "");
		free(e);
	}
	return rc;
}

/* pm queries during which the BERT was talked to: a pm '>' whose next pm
 * line is its reply '<', with a bert line between the two. */
static int pm_waits_with_bert(const trace *tr)
{
	int n = 0;

	for (size_t i = 0; i < tr->n; i++) {
		size_t j;
		int bert = 0;

		if (strcmp(tr->lines[i].label, "pm") || tr->lines[i].dir != '>')
			continue;
		j = next_of(tr, i, "pm");
		if (j >= tr->n || tr->lines[j].dir != '<')
			continue;
		for (size_t k = i + 1; k < j; k++)
			bert |= strcmp(tr->lines[k].label, "bert") == 0;
		n += bert;
	}
	return n;
}

static void test_parallel_lines(void)
{
	static const char *const roles[] = {"prober", "pm", "bert", NULL};
	par_run par = {.tag = "par", .env = {"KGD_TRACE", "KGD_NO_BATCH", "KGD_NO_PARALLEL",
							NULL}};
	par_run ser = {.tag = "ser", .env = {"KGD_TRACE", "KGD_NO_BATCH",
							"KGD_NO_PARALLEL=1", NULL}};
	trace tp, ts;
	int np, ns;

	CU_ASSERT_EQUAL_FATAL(par_start(&par), 0);
	CU_ASSERT_EQUAL(par_start(&ser), 0);
	CU_ASSERT_EQUAL(par_finish(&par), 0);
	CU_ASSERT_EQUAL(par_finish(&ser), 0);
	CU_ASSERT_EQUAL_FATAL(trace_read(par.path, &tp), 0);
	CU_ASSERT_EQUAL_FATAL(trace_read(ser.path, &ts), 0);

	/* Whole lines only: each parses and names one role with that role's
	 * URI, in time order per role. */
	CU_ASSERT_EQUAL(tp.bad, 0);
	CU_ASSERT_EQUAL(trace_roles_ok(&tp, &par.vs, roles), 0);
	CU_ASSERT_EQUAL(ts.bad, 0);
	CU_ASSERT_EQUAL(trace_roles_ok(&ts, &ser.vs, roles), 0);
	CU_ASSERT(find_line(&tp, "bert", '>', "*IDN?\\n") < tp.n);
	CU_ASSERT(next_of(&tp, (size_t)-1, "prober") < tp.n);

	/* Interleaved: the BERT talked while the pm waited; never in the run
	 * with one branch after the other. */
	np = pm_waits_with_bert(&tp);
	ns = pm_waits_with_bert(&ts);
	fprintf(stderr, "\n  [pm replies waited with BERT traffic between: "
		"parallel %d, KGD_NO_PARALLEL %d; lines %zu / %zu]", np, ns, tp.n,
		ts.n);
	CU_ASSERT(np >= 10);
	CU_ASSERT_EQUAL(ns, 0);
	trace_free(&tp);
	trace_free(&ts);
}

int cu_register(void)
{
	CU_pSuite lib = CU_add_suite("trace: library", suite_init, suite_clean);
	CU_pSuite run = CU_add_suite("trace: station run, ELSFP", elsfp_init,
				     elsfp_clean);
	CU_pSuite par = CU_add_suite("trace: parallel TeraPHY", suite_init,
				     suite_clean);

	CU_add_test(lib, "line format, escapes, labels, '!', off",
		    test_library_lines);
	CU_add_test(run, "--trace: pm *IDN? and reply, whole lines, blocks",
		    test_run_trace_elsfp);
	CU_add_test(run, "no --trace, no KGD_TRACE: no file", test_no_trace_by_default);
	CU_add_test(run, "KGD_TRACE, truncation, --trace wins, --trace ''",
		    test_env_trace);
	CU_add_test(run, "a trace file that cannot be created", test_bad_trace_path);
	CU_add_test(run, "odd identity escaped; silent meter '!'", test_peer_escapes);
	CU_add_test(par, "parallel pm and bert: interleaved, never mixed",
		    test_parallel_lines);
	return 0;
}
