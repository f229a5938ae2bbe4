/*
 * instruments/xport.c - the scheme-independent half of every transport:
 * URI parsing and dispatch to a backend, the read-ahead buffer, terminator
 * handling and deadlines.
 *
 * Invariants: bytes received after a terminator are kept in x->rbuf and
 * handed to the next read, never dropped; every read is bounded by the
 * transport's timeout measured from the start of the call, however many
 * backend reads it takes, and by the station's abort (one slice after it,
 * or after the call began); every error message starts with the URI.
 * With a trace sink set, every write and every read (or its failure) is
 * one whole line handed to the sink; without one, a call pays a single
 * atomic load for it.
 */
#include "xport_priv.h"

#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The abort flag and the suspend counter are process-wide and read by
 * every transport on every thread: atomics, so no lock is ever taken in a
 * wait and nothing here is unsafe next to a signal handler. */
static _Atomic(volatile sig_atomic_t *) xport_abort_flag;
static atomic_int xport_abort_suspended;

/* The trace sink (kgd/xport.h), read by every call on every thread: an
 * atomic as the abort flag, and NULL (off) costs one load. */
static _Atomic(xport_trace_fn) xport_trace_sink;
static _Atomic(void *) xport_trace_user;

/* A line of this size or less is built on the stack. */
#define XPORT_TRACE_STACK 2048

static const struct xport_ops *const xport_schemes[] = {
	&xport_tcp_ops,
	&xport_serial_ops,
	&xport_usbtmc_ops,
};

int64_t xport_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void xport_set_abort_flag(volatile sig_atomic_t *flag)
{
	atomic_store(&xport_abort_flag, flag);
}

void xport_abort_suspend(int on)
{
	int n = atomic_load(&xport_abort_suspended);

	if (on) {
		atomic_fetch_add(&xport_abort_suspended, 1);
		return;
	}
	/* An unmatched resume must not leave the counter negative, which
	 * would make the next suspend a no-op. */
	while (n > 0 && !atomic_compare_exchange_weak(&xport_abort_suspended, &n,
						      n - 1))
		;
}

int xport_abort_pending(void)
{
	volatile sig_atomic_t *flag = atomic_load(&xport_abort_flag);

	/* Set by a signal handler, read here on any thread: an atomic load
	 * (lock-free, so also what a handler may pair it with). */
	return flag && __atomic_load_n(flag, __ATOMIC_RELAXED) &&
	       atomic_load(&xport_abort_suspended) == 0;
}

/* ---- trace ---- */

void xport_set_trace(xport_trace_fn fn, void *user)
{
	/* Off while the user changes, so a new fn never sees an old user once
	 * this returns (a call already past its load may still; see xport.h). */
	atomic_store(&xport_trace_sink, NULL);
	atomic_store(&xport_trace_user, user);
	atomic_store(&xport_trace_sink, fn);
}

static inline int xport_tracing(void)
{
	return atomic_load_explicit(&xport_trace_sink, memory_order_relaxed) != NULL;
}

int xport_set_label(xport *x, const char *label)
{
	char *copy = NULL;

	if (!x)
		return KGD_ERR_ARG;
	if (label && !(copy = strdup(label))) {
		free(x->label);
		x->label = NULL;
		return KGD_ERR_NOMEM;
	}
	free(x->label);
	x->label = copy;
	return KGD_OK;
}

const char *xport_label(const xport *x)
{
	return x && x->label ? x->label : "";
}

/* The escaped form of p[0..n) at out, which has room for 4 * n; returns
 * the end. in_field: a space too is escaped (\x20), so LABEL and URI stay
 * one field each whatever they hold. */
static char *xport_escape(char *out, const uint8_t *p, size_t n, int in_field)
{
	static const char hex[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		uint8_t c = p[i];

		if (c == '\\' || c == '\r' || c == '\n' || c == '\t') {
			*out++ = '\\';
			*out++ = c == '\\' ? '\\' : c == '\r' ? 'r' : c == '\n' ? 'n' : 't';
		} else if (c > ' ' && c < 0x7f) {
			*out++ = (char)c;
		} else if (c == ' ' && !in_field) {
			*out++ = ' ';
		} else {
			*out++ = '\\';
			*out++ = 'x';
			*out++ = hex[c >> 4];
			*out++ = hex[c & 15];
		}
	}
	return out;
}

/* One trace line for x: DIR, then note (a status name) if any, then the
 * bytes a[0..na) followed by b[0..nb) (a reply and its terminator). */
static void xport_trace(const xport *x, char dir, const char *note,
			const void *a, size_t na, const void *b, size_t nb)
{
	xport_trace_fn fn = atomic_load(&xport_trace_sink);
	void *user = atomic_load(&xport_trace_user);
	const char *label = x->label && x->label[0] ? x->label : "-";
	size_t nlabel = strlen(label), nuri = strlen(x->uri);
	size_t nnote = note ? strlen(note) + 1 : 0;
	char stack[XPORT_TRACE_STACK], *line = stack, *p;
	size_t fixed;
	struct timespec ts;
	struct tm tm;
	int cut = 0;

	if (!fn)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	/* At worst 4 bytes out per byte in; the time (28), separators, DIR,
	 * a cut's marker, newline and NUL fit in the rest of fixed. */
	fixed = 48 + 4 * (nlabel + nuri) + nnote;
	if (fixed + 4 * (na + nb) > sizeof(stack) &&
	    !(line = malloc(fixed + 4 * (na + nb)))) {
		/* Out of memory: a line cut to the stack buffer, its bytes ending
		 * in a backslash and three dots (an escape the format otherwise
		 * never has), beats no line at all. */
		size_t room;

		line = stack;
		if (fixed > sizeof(stack))
			return;
		room = (sizeof(stack) - fixed) / 4;
		if (na > room)
			na = room, nb = 0;
		else if (nb > room - na)
			nb = room - na;
		cut = 1;
	}
	gmtime_r(&ts.tv_sec, &tm);
	p = line + strftime(line, 32, "%Y-%m-%dT%H:%M:%S", &tm);
	p += snprintf(p, 16, ".%06ldZ ", (long)(ts.tv_nsec / 1000));
	p = xport_escape(p, (const uint8_t *)label, nlabel, 1);
	*p++ = ' ';
	p = xport_escape(p, (const uint8_t *)x->uri, nuri, 1);
	*p++ = ' ';
	*p++ = dir;
	*p++ = ' ';
	if (note) {
		memcpy(p, note, nnote - 1);
		p += nnote - 1;
		if (na + nb)
			*p++ = ' ';
	}
	p = xport_escape(p, a, na, 0);
	p = xport_escape(p, b, nb, 0);
	if (cut) {
		memcpy(p, "\\...", 4);
		p += 4;
	}
	*p++ = '\n';
	*p = '\0';
	fn(user, line, (size_t)(p - line));
	if (line != stack)
		free(line);
}

/* The grace (kgd/xport.h) is one slice per operation, with no window
 * after which new exchanges fail at once: such a window ends a driver's
 * poll loop sooner, but an exchange after it - a cleanup nobody bracketed
 * with xport_abort_suspend, after a long poll - then fails and leaves a
 * laser on. Late is better than unsafe. */
int xport_abort_due(const xport *x)
{
	return xport_abort_pending() &&
	       xport_now_ms() - x->op_start_ms >= XPORT_ABORT_SLICE_MS;
}

int xport_abort_error(const xport *x, const char *what, kgd_err *err)
{
	return kgd_err_set(err, KGD_ERR_ABORTED, "%s: aborted while %s", x->uri, what);
}

int xport_slice_ms(int64_t deadline)
{
	int64_t left = deadline - xport_now_ms();

	if (left <= 0)
		return 0;
	return left < XPORT_ABORT_SLICE_MS ? (int)left : XPORT_ABORT_SLICE_MS;
}

int xport_wait_fd(const xport *x, int fd, short events, int64_t deadline,
		  const char *what, kgd_err *err)
{
	struct pollfd pfd = {.fd = fd, .events = events};

	for (;;) {
		int r = poll(&pfd, 1, xport_slice_ms(deadline));

		if (r > 0)
			return KGD_OK;
		if (r < 0 && errno != EINTR)
			return kgd_err_set(err, KGD_ERR_IO, "%s: poll: %s", x->uri,
					   strerror(errno));
		/* A slice passed, or a signal (likely the abort) cut it short. */
		if (xport_abort_due(x))
			return xport_abort_error(x, what, err);
		if (deadline - xport_now_ms() <= 0)
			return KGD_ERR_TIMEOUT;
	}
}

int xport_parse_long(const char *s, long lo, long hi, long *out)
{
	char *end;
	long v;

	/* strtol alone accepts leading blanks and signs; a URI value is digits. */
	if (!s || *s < '0' || *s > '9')
		return KGD_ERR_ARG;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < lo || v > hi)
		return KGD_ERR_ARG;
	*out = v;
	return KGD_OK;
}

const char *xport_uri_param(const struct xport_uri *u, const char *key)
{
	for (size_t i = 0; i < u->nparams; i++)
		if (strcmp(u->params[i].key, key) == 0)
			return u->params[i].value;
	return NULL;
}

/* Split "scheme://rest?k=v&k=v". Values are taken verbatim (no %-decoding:
 * device paths and serial numbers never need it). */
static int xport_uri_split(const char *uri, struct xport_uri *u, kgd_err *err)
{
	const char *sep = strstr(uri, "://");
	const char *rest, *q;
	size_t n;

	memset(u, 0, sizeof(*u));
	if (!sep || sep == uri)
		return kgd_err_set(err, KGD_ERR_ARG,
				   "%s: not a transport URI (expected scheme://..., "
				   "e.g. tcp://host:5025)", uri);
	n = (size_t)(sep - uri);
	if (n >= sizeof(u->scheme))
		return kgd_err_set(err, KGD_ERR_ARG, "%s: unknown scheme", uri);
	memcpy(u->scheme, uri, n);
	rest = sep + 3;
	q = strchr(rest, '?');
	n = q ? (size_t)(q - rest) : strlen(rest);
	if (n >= sizeof(u->rest))
		return kgd_err_set(err, KGD_ERR_ARG, "%s: address too long", uri);
	memcpy(u->rest, rest, n);
	if (!q)
		return KGD_OK;

	for (const char *p = q + 1; *p;) {
		const char *amp = strchr(p, '&');
		const char *end = amp ? amp : p + strlen(p);
		const char *eq = memchr(p, '=', (size_t)(end - p));
		struct xport_param *pa;

		if (!eq || eq == p)
			return kgd_err_set(err, KGD_ERR_ARG,
					   "%s: malformed parameter '%.*s' (expected key=value)",
					   uri, (int)(end - p), p);
		if (u->nparams == XPORT_MAX_PARAMS)
			return kgd_err_set(err, KGD_ERR_ARG, "%s: too many parameters", uri);
		pa = &u->params[u->nparams++];
		if ((size_t)(eq - p) >= sizeof(pa->key) ||
		    (size_t)(end - eq - 1) >= sizeof(pa->value))
			return kgd_err_set(err, KGD_ERR_ARG,
					   "%s: parameter '%.*s' too long", uri,
					   (int)(end - p), p);
		memcpy(pa->key, p, (size_t)(eq - p));
		memcpy(pa->value, eq + 1, (size_t)(end - eq - 1));
		p = amp ? amp + 1 : end;
	}
	return KGD_OK;
}

/* Reject keys the scheme does not know, and apply the one key every scheme
 * shares: term. */
static int xport_apply_common(xport *x, const struct xport_uri *u, kgd_err *err)
{
	const char *term;

	for (size_t i = 0; i < u->nparams; i++) {
		const char *key = u->params[i].key;
		int known = strcmp(key, "term") == 0;

		for (const char *const *k = x->ops->params; !known && k && *k; k++)
			known = strcmp(key, *k) == 0;
		if (!known)
			return kgd_err_set(err, KGD_ERR_ARG,
					   "%s: unknown parameter '%s' for %s://", x->uri,
					   key, x->ops->scheme);
	}
	term = xport_uri_param(u, "term");
	if (!term || strcmp(term, "lf") == 0)
		strcpy(x->term, "\n");
	else if (strcmp(term, "crlf") == 0)
		strcpy(x->term, "\r\n");
	else if (strcmp(term, "cr") == 0)
		strcpy(x->term, "\r");
	else
		return kgd_err_set(err, KGD_ERR_ARG,
				   "%s: bad term '%s' (expected lf, crlf or cr)", x->uri, term);
	x->term_len = strlen(x->term);
	return KGD_OK;
}

int xport_open(const char *uri, int timeout_ms, xport **out, kgd_err *err)
{
	struct xport_uri u;
	xport *x = NULL;
	int rc;

	if (!out || !uri)
		return kgd_err_set(err, KGD_ERR_ARG, "xport_open: NULL argument");
	*out = NULL;
	rc = xport_uri_split(uri, &u, err);
	if (rc)
		goto error;
	x = calloc(1, sizeof(*x));
	if (!x || !(x->uri = strdup(uri))) {
		rc = kgd_err_set(err, KGD_ERR_NOMEM, "%s: out of memory", uri);
		goto error;
	}
	x->timeout_ms = timeout_ms > 0 ? timeout_ms : XPORT_DEFAULT_TIMEOUT_MS;
	for (size_t i = 0; i < sizeof(xport_schemes) / sizeof(xport_schemes[0]); i++)
		if (strcmp(u.scheme, xport_schemes[i]->scheme) == 0)
			x->ops = xport_schemes[i];
	if (!x->ops) {
		rc = kgd_err_set(err, KGD_ERR_ARG,
				 "%s: unknown scheme '%s' (expected tcp, serial or usbtmc)",
				 uri, u.scheme);
		goto error;
	}
	rc = xport_apply_common(x, &u, err);
	if (rc)
		goto error;
	x->op_start_ms = xport_now_ms();
	rc = x->ops->open(x, &u, err);
	if (rc) {
		x->ops = NULL; /* the backend cleaned up after itself */
		goto error;
	}
	*out = x;
	return KGD_OK;

error:
	if (x) {
		free(x->uri);
		free(x);
	}
	return rc;
}

void xport_close(xport *x)
{
	if (!x)
		return;
	if (x->ops)
		x->ops->close(x);
	free(x->label);
	free(x->uri);
	free(x);
}

const char *xport_uri(const xport *x)
{
	return x ? x->uri : "";
}

void xport_set_timeout(xport *x, int timeout_ms)
{
	if (x && timeout_ms > 0)
		x->timeout_ms = timeout_ms;
}

int xport_timeout(const xport *x)
{
	return x ? x->timeout_ms : 0;
}

const char *xport_terminator(const xport *x)
{
	return x ? x->term : "\n";
}

/* A read the abort cut short left its reply on the way. Before the next
 * command, take whatever of it has arrived (without waiting) and drop it
 * with the read-ahead, so a cleanup command is less likely to be answered
 * with the reply of the abandoned one. What arrives later than this cannot
 * be told apart from the new reply; drivers handle that as after a
 * timeout. */
static void xport_drop_abandoned(xport *x)
{
	size_t got;

	x->abandoned = 0;
	for (int i = 0; i < 64; i++) {
		got = 0;
		x->rpos = x->rlen = 0;
		if (x->ops->read_some(x, x->rbuf, sizeof(x->rbuf), &got, 0, NULL) ||
		    got == 0)
			break;
	}
	x->rpos = x->rlen = 0;
}

int xport_write(xport *x, const void *buf, size_t len, kgd_err *err)
{
	int rc;

	if (!x || (!buf && len))
		return kgd_err_set(err, KGD_ERR_ARG, "xport_write: NULL argument");
	if (len == 0)
		return KGD_OK;
	x->op_start_ms = xport_now_ms();
	if (x->abandoned)
		xport_drop_abandoned(x);
	if (xport_tracing())
		xport_trace(x, '>', NULL, buf, len, NULL, 0);
	rc = x->ops->write(x, buf, len, x->timeout_ms, err);
	if (rc && xport_tracing())
		xport_trace(x, '!', kgd_status_name(rc), NULL, 0, NULL, 0);
	return rc;
}

int xport_write_line(xport *x, const char *line, kgd_err *err)
{
	size_t n;
	char *msg;
	int rc;

	if (!x || !line)
		return kgd_err_set(err, KGD_ERR_ARG, "xport_write_line: NULL argument");
	/* One write for text and terminator: USBTMC sends it as one message
	 * with EOM, and a TCP peer sees one segment. */
	n = strlen(line);
	msg = malloc(n + x->term_len);
	if (!msg)
		return kgd_err_set(err, KGD_ERR_NOMEM, "%s: out of memory", x->uri);
	memcpy(msg, line, n);
	memcpy(msg + n, x->term, x->term_len);
	rc = xport_write(x, msg, n + x->term_len, err);
	free(msg);
	return rc;
}

/* Refill rbuf (which the caller has consumed) before deadline. */
static int xport_fill(xport *x, int64_t deadline, kgd_err *err)
{
	int64_t left = deadline - xport_now_ms();
	size_t got = 0;
	int rc;

	/* Checked here too, not only in the backend's wait: an instrument
	 * trickling a byte at a time would otherwise never let a wait last a
	 * slice. */
	if (xport_abort_due(x))
		rc = xport_abort_error(x, "waiting for a reply", err);
	else if (left <= 0)
		return KGD_ERR_TIMEOUT;
	else {
		x->rpos = x->rlen = 0;
		rc = x->ops->read_some(x, x->rbuf, sizeof(x->rbuf), &got, (int)left,
				       err);
	}
	if (rc == KGD_ERR_ABORTED)
		x->abandoned = 1;
	if (rc)
		return rc;
	x->rlen = got;
	return KGD_OK;
}

int xport_read_line(xport *x, char *buf, size_t cap, size_t *len, kgd_err *err)
{
	int64_t deadline;
	size_t n = 0, seen = 0;
	int overflow = 0, pending_cr = 0;
	int rc;

	if (!x || !buf || cap == 0)
		return kgd_err_set(err, KGD_ERR_ARG, "xport_read_line: bad argument");
	buf[0] = '\0';
	if (len)
		*len = 0;
	x->op_start_ms = xport_now_ms();
	deadline = x->op_start_ms + x->timeout_ms;
	for (;;) {
		while (x->rpos < x->rlen) {
			char c = (char)x->rbuf[x->rpos++];

			seen++;
			/* For CRLF a CR is held back until we know whether LF follows,
			 * so the terminator never lands in buf. */
			if (x->term_len == 2) {
				if (pending_cr && c == '\n')
					goto done;
				if (pending_cr) {
					if (n < cap - 1)
						buf[n++] = '\r';
					else
						overflow = 1;
				}
				pending_cr = c == '\r';
				if (pending_cr)
					continue;
			} else if (c == x->term[0]) {
				goto done;
			}
			if (n < cap - 1)
				buf[n++] = c;
			else
				overflow = 1;
		}
		rc = xport_fill(x, deadline, err);
		if (rc && xport_tracing())
			xport_trace(x, '!', kgd_status_name(rc), buf, n, "\r",
				    pending_cr ? 1 : 0);
		if (rc == KGD_ERR_TIMEOUT) {
			buf[n] = '\0';
			if (seen)
				return kgd_err_set(err, rc,
						   "%s: reply incomplete after %d ms (%zu bytes "
						   "without terminator)", x->uri, x->timeout_ms, seen);
			return kgd_err_set(err, rc, "%s: no reply within %d ms", x->uri,
					   x->timeout_ms);
		}
		if (rc) {
			buf[n] = '\0';
			return rc;
		}
	}
done:
	buf[n] = '\0';
	if (len)
		*len = n;
	if (xport_tracing())
		xport_trace(x, overflow ? '!' : '<',
			    overflow ? kgd_status_name(KGD_ERR_PROTOCOL) : NULL, buf, n,
			    x->term, overflow ? 0 : x->term_len);
	/* The whole over-long line was consumed, so the next read starts at the
	 * next reply rather than in the middle of this one. */
	if (overflow)
		return kgd_err_set(err, KGD_ERR_PROTOCOL,
				   "%s: reply of %zu bytes longer than buffer (%zu)", x->uri,
				   seen - x->term_len, cap - 1);
	return KGD_OK;
}

int xport_read_n(xport *x, void *buf, size_t n, kgd_err *err)
{
	uint8_t *dst = buf;
	size_t done = 0;
	int64_t deadline;
	int rc;

	if (!x || (!buf && n))
		return kgd_err_set(err, KGD_ERR_ARG, "xport_read_n: NULL argument");
	x->op_start_ms = xport_now_ms();
	deadline = x->op_start_ms + x->timeout_ms;
	while (done < n) {
		size_t take = x->rlen - x->rpos;

		if (take) {
			if (take > n - done)
				take = n - done;
			memcpy(dst + done, x->rbuf + x->rpos, take);
			x->rpos += take;
			done += take;
			continue;
		}
		rc = xport_fill(x, deadline, err);
		if (rc && xport_tracing())
			xport_trace(x, '!', kgd_status_name(rc), dst, done, NULL, 0);
		if (rc == KGD_ERR_TIMEOUT)
			return kgd_err_set(err, rc, "%s: got %zu of %zu bytes within %d ms",
					   x->uri, done, n, x->timeout_ms);
		if (rc)
			return rc;
	}
	if (n && xport_tracing())
		xport_trace(x, '<', NULL, dst, n, NULL, 0);
	return KGD_OK;
}

int xport_clear(xport *x, kgd_err *err)
{
	if (!x)
		return kgd_err_set(err, KGD_ERR_ARG, "xport_clear: NULL argument");
	/* Whatever was read ahead belongs to the exchange being abandoned. */
	x->rpos = x->rlen = 0;
	return x->ops->clear ? x->ops->clear(x, err) : KGD_OK;
}
