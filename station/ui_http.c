/*
 * station/ui_http.c - the station page's HTTP server (ui.h) on
 * libmicrohttpd: the embedded page (ui_page.c, generated from
 * station/ui/page.html), the live state as Server-Sent Events and as one
 * JSON snapshot, and - with a control token - a prompt's answer and the
 * abort button.
 *
 * Why a thread per connection: a view's writes then block only its own
 * thread; the sequencer only ever takes the state's mutex for a copy
 * (live.h). Each view holds at most one message (the latest state, with
 * the map cells it has not had: a bounded queue of one that coalesces),
 * so a slow browser sees fewer updates and never makes one wait; one that
 * stops reading is dropped by MHD's inactivity timeout (UI_STALL_S), and
 * views past UI_MAX_VIEWS get 503.
 */
#include "ui.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

extern const char ui_page_html[];
extern const size_t ui_page_html_len;

#define UI_BODY_MAX 1024
#define UI_MIN_GAP_MS 200     /* at most five updates a second per view */
#define UI_SNDBUF 16384       /* a view's socket send buffer */

struct ui_server {
	struct MHD_Daemon *d;
	int lfd;
	run_live *lv;
	char token[80];
	void (*abort_fn)(void *);
	void *abort_user;
	char url[96];
	pthread_mutex_t mu;
	int views;                /* SSE streams open */
	int behind;               /* of them, not yet sent the final state */
	int closing;              /* streams end */
};

typedef struct ui_view {
	ui_server *u;
	run_live_cursor cur;
	char *msg;                /* the message being sent */
	size_t len, off;
	int final_sent;
	struct timespec last;
} ui_view;

typedef struct ui_req {
	char body[UI_BODY_MAX + 1];
	size_t n;
	int too_big;
} ui_req;

static double ms_since(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t->tv_sec) * 1e3 +
	       (double)(now.tv_nsec - t->tv_nsec) / 1e6;
}

static int closing(ui_server *u)
{
	int c;

	pthread_mutex_lock(&u->mu);
	c = u->closing;
	pthread_mutex_unlock(&u->mu);
	return c;
}

/* ---- responses ----------------------------------------------------------- */

static enum MHD_Result reply(struct MHD_Connection *c, unsigned code,
			     const char *type, const char *body, size_t len,
			     const char *allow)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(
		len, (void *)body, MHD_RESPMEM_MUST_COPY);
	enum MHD_Result ret;

	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", type);
	MHD_add_response_header(r, "Cache-Control", "no-store");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	if (allow)
		MHD_add_response_header(r, "Allow", allow);
	ret = MHD_queue_response(c, code, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result text(struct MHD_Connection *c, unsigned code,
			    const char *msg, const char *allow)
{
	return reply(c, code, "text/plain; charset=utf-8", msg, strlen(msg),
		     allow);
}

/* ---- the event stream ---------------------------------------------------- */

static ssize_t sse_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	ui_view *v = cls;
	ui_server *u = v->u;
	size_t n;

	(void)pos;
	while (v->off == v->len) {
		char *json;
		size_t jlen;
		int stopped;

		free(v->msg);
		v->msg = NULL;
		v->len = v->off = 0;
		if (closing(u))
			return MHD_CONTENT_READER_END_OF_STREAM;
		/* A change, or a second's heartbeat (the seconds in the die);
		 * never more often than UI_MIN_GAP_MS. */
		if (v->cur.version && ms_since(&v->last) < UI_MIN_GAP_MS) {
			struct timespec ts = {0, UI_MIN_GAP_MS * 1000000L};

			nanosleep(&ts, NULL);
		}
		if (v->cur.version && !run_live_wait(u->lv, &v->cur, 250) &&
		    ms_since(&v->last) < 1000)
			continue;
		stopped = run_live_stopped(u->lv);
		json = run_live_json(u->lv, &v->cur, &jlen);
		if (!json)
			return MHD_CONTENT_READER_END_WITH_ERROR;
		v->msg = malloc(jlen + 9);
		if (!v->msg) {
			free(json);
			return MHD_CONTENT_READER_END_WITH_ERROR;
		}
		memcpy(v->msg, "data: ", 6);
		memcpy(v->msg + 6, json, jlen);
		memcpy(v->msg + 6 + jlen, "\n\n", 2);
		v->len = jlen + 8;
		free(json);
		clock_gettime(CLOCK_MONOTONIC, &v->last);
		if (stopped && !v->final_sent) {
			v->final_sent = 1;
			pthread_mutex_lock(&u->mu);
			u->behind--;
			pthread_mutex_unlock(&u->mu);
		}
	}
	n = v->len - v->off < max ? v->len - v->off : max;
	memcpy(buf, v->msg + v->off, n);
	v->off += n;
	return (ssize_t)n;
}

static void sse_free(void *cls)
{
	ui_view *v = cls;
	ui_server *u = v->u;

	pthread_mutex_lock(&u->mu);
	u->views--;
	if (!v->final_sent)
		u->behind--;
	pthread_mutex_unlock(&u->mu);
	free(v->msg);
	free(v);
}

static enum MHD_Result events(ui_server *u, struct MHD_Connection *c)
{
	struct MHD_Response *r;
	enum MHD_Result ret;
	ui_view *v;

	pthread_mutex_lock(&u->mu);
	if (u->views >= UI_MAX_VIEWS || u->closing) {
		pthread_mutex_unlock(&u->mu);
		return text(c, MHD_HTTP_SERVICE_UNAVAILABLE,
			    "too many station pages open\n", NULL);
	}
	u->views++;
	u->behind++;
	pthread_mutex_unlock(&u->mu);
	/* A small send buffer: a view that stops reading fills it within
	 * seconds, and MHD's inactivity timeout then drops it, instead of
	 * the kernel queueing megabytes of state nobody reads. */
	{
		const union MHD_ConnectionInfo *ci = MHD_get_connection_info(
			c, MHD_CONNECTION_INFO_CONNECTION_FD);
		int sndbuf = UI_SNDBUF;

		if (ci)
			setsockopt(ci->connect_fd, SOL_SOCKET, SO_SNDBUF, &sndbuf,
				   sizeof(sndbuf));
	}
	v = calloc(1, sizeof(*v));
	r = v ? MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384,
						  sse_read, v, sse_free)
	      : NULL;
	if (!r) {
		if (v) {
			v->u = u;
			sse_free(v);
		} else {
			pthread_mutex_lock(&u->mu);
			u->views--;
			u->behind--;
			pthread_mutex_unlock(&u->mu);
		}
		return MHD_NO;
	}
	v->u = u;
	MHD_add_response_header(r, "Content-Type", "text/event-stream");
	MHD_add_response_header(r, "Cache-Control", "no-store");
	ret = MHD_queue_response(c, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}

/* ---- control ------------------------------------------------------------- */

/* The token, compared in constant time. */
static int token_ok(ui_server *u, struct MHD_Connection *c)
{
	const char *t = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
						    "X-KGD-Token");
	size_t n = strlen(u->token), diff = 0;

	if (!t)
		t = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "token");
	if (!t || strlen(t) != n)
		return 0;
	for (size_t i = 0; i < n; i++)
		diff |= (size_t)(t[i] ^ u->token[i]);
	return diff == 0;
}

static enum MHD_Result control(ui_server *u, struct MHD_Connection *c,
			       const char *url, ui_req *req)
{
	if (!u->token[0])
		return text(c, MHD_HTTP_FORBIDDEN, "read-only station page (the "
			    "station runs without --ui-control)\n", NULL);
	if (!token_ok(u, c))
		return text(c, MHD_HTTP_FORBIDDEN, "wrong or missing token\n", NULL);
	if (req->too_big)
		return text(c, MHD_HTTP_CONTENT_TOO_LARGE, "answer too long\n", NULL);
	if (strcmp(url, "/abort") == 0) {
		u->abort_fn(u->abort_user);
		return text(c, MHD_HTTP_OK, "aborting at the next safe point\n", NULL);
	} else {
		const char *id = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND,
							     "id");
		char *end;
		unsigned long n = id ? strtoul(id, &end, 10) : 0;

		if (!id || !*id || *end)
			return text(c, MHD_HTTP_BAD_REQUEST, "which prompt? (id)\n",
				    NULL);
		req->body[req->n] = '\0';
		while (req->n && (req->body[req->n - 1] == '\n' ||
				  req->body[req->n - 1] == '\r'))
			req->body[--req->n] = '\0';
		if (strlen(req->body) != req->n)
			return text(c, MHD_HTTP_BAD_REQUEST, "not an answer\n", NULL);
		switch (run_live_answer(u->lv, n, req->body)) {
		case 0:
			return text(c, MHD_HTTP_OK, "answered\n", NULL);
		case -2:
			return text(c, MHD_HTTP_BAD_REQUEST, "not an answer\n", NULL);
		default:
			return text(c, MHD_HTTP_CONFLICT, "that prompt is no longer "
				    "open (answered first elsewhere)\n", NULL);
		}
	}
}

/* ---- routing ------------------------------------------------------------- */

static enum MHD_Result handle(void *cls, struct MHD_Connection *c,
			      const char *url, const char *method,
			      const char *version, const char *upload,
			      size_t *upload_size, void **con_cls)
{
	ui_server *u = cls;
	int get = !strcmp(method, "GET") || !strcmp(method, "HEAD");
	int post = !strcmp(method, "POST");
	ui_req *req = *con_cls;

	(void)version;
	if (!strcmp(url, "/answer") || !strcmp(url, "/abort")) {
		if (!post)
			return text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "use POST\n",
				    "POST");
		if (!req) {   /* the headers: the body follows */
			req = calloc(1, sizeof(*req));
			if (!req)
				return MHD_NO;
			*con_cls = req;
			return MHD_YES;
		}
		if (*upload_size) {
			if (req->n + *upload_size > UI_BODY_MAX)
				req->too_big = 1;
			else {
				memcpy(req->body + req->n, upload, *upload_size);
				req->n += *upload_size;
			}
			*upload_size = 0;
			return MHD_YES;
		}
		return control(u, c, url, req);
	}
	if (!strcmp(url, "/") || !strcmp(url, "/events") ||
	    !strcmp(url, "/state.json")) {
		if (!get)
			return text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "use GET\n",
				    "GET, HEAD");
		if (!strcmp(url, "/"))
			return reply(c, MHD_HTTP_OK, "text/html; charset=utf-8",
				     ui_page_html, ui_page_html_len, NULL);
		if (!strcmp(url, "/events"))
			return events(u, c);
		{
			run_live_cursor cur = {0};
			size_t len;
			char *json = run_live_json(u->lv, &cur, &len);
			enum MHD_Result ret;

			if (!json)
				return MHD_NO;
			ret = reply(c, MHD_HTTP_OK, "application/json", json, len,
				    NULL);
			free(json);
			return ret;
		}
	}
	return text(c, MHD_HTTP_NOT_FOUND, "not found\n", NULL);
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
		      enum MHD_RequestTerminationCode why)
{
	(void)cls;
	(void)c;
	(void)why;
	free(*con_cls);
	*con_cls = NULL;
}

/* ---- life ---------------------------------------------------------------- */

/* "PORT" or "ADDR:PORT" (IPv4, or localhost). */
static int parse_spec(const char *spec, struct sockaddr_in *sa, kgd_err *err)
{
	const char *colon = strrchr(spec, ':');
	char host[64] = "127.0.0.1", *end;
	unsigned long port;

	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	if (colon) {
		if ((size_t)(colon - spec) >= sizeof(host) || colon == spec)
			return kgd_err_set(err, KGD_ERR_ARG, "--ui %s: want "
					   "[ADDR:]PORT, e.g. 8080 or 127.0.0.1:8080",
					   spec);
		memcpy(host, spec, (size_t)(colon - spec));
		host[colon - spec] = '\0';
		spec = colon + 1;
	}
	port = strtoul(spec, &end, 10);
	if (!*spec || *end || port > 65535)
		return kgd_err_set(err, KGD_ERR_ARG, "--ui: '%s' is no port "
				   "(0..65535)", spec);
	if (!strcmp(host, "localhost"))
		strcpy(host, "127.0.0.1");
	if (inet_pton(AF_INET, host, &sa->sin_addr) != 1)
		return kgd_err_set(err, KGD_ERR_ARG, "--ui: '%s' is no IPv4 "
				   "address", host);
	sa->sin_port = htons((uint16_t)port);
	return KGD_OK;
}

static unsigned stall_s(void)
{
	/* KGD_UI_STALL_S: a test's shorter patience with a view that does
	 * not read. */
	const char *v = getenv("KGD_UI_STALL_S");
	unsigned long n = v ? strtoul(v, NULL, 10) : 0;

	return n >= 1 && n <= 3600 ? (unsigned)n : UI_STALL_S;
}

int ui_start(const char *spec, run_live *lv, const char *token,
	     void (*abort_fn)(void *), void *abort_user, ui_server **out,
	     kgd_err *err)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	char addr[INET_ADDRSTRLEN];
	ui_server *u;
	int one = 1, rc;

	*out = NULL;
	rc = parse_spec(spec, &sa, err);
	if (rc)
		return rc;
	u = calloc(1, sizeof(*u));
	if (!u)
		return kgd_err_set(err, KGD_ERR_NOMEM, "out of memory");
	pthread_mutex_init(&u->mu, NULL);
	u->lv = lv;
	u->abort_fn = abort_fn;
	u->abort_user = abort_user;
	snprintf(u->token, sizeof(u->token), "%s", token ? token : "");
	u->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (u->lfd < 0 ||
	    setsockopt(u->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(u->lfd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(u->lfd, 64) ||
	    getsockname(u->lfd, (struct sockaddr *)&sa, &sl)) {
		rc = kgd_err_set(err, KGD_ERR_IO, "--ui %s: %s", spec,
				 strerror(errno));
		goto fail;
	}
	inet_ntop(AF_INET, &sa.sin_addr, addr, sizeof(addr));
	snprintf(u->url, sizeof(u->url), "http://%s:%u/", addr,
		 (unsigned)ntohs(sa.sin_port));
	u->d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION |
				MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL,
				handle, u,
				MHD_OPTION_LISTEN_SOCKET, (MHD_socket)u->lfd,
				/* views, plus the page and control requests */
				MHD_OPTION_CONNECTION_LIMIT,
				(unsigned)(UI_MAX_VIEWS + 16),
				MHD_OPTION_CONNECTION_TIMEOUT, stall_s(),
				MHD_OPTION_NOTIFY_COMPLETED, completed, u,
				MHD_OPTION_END);
	if (!u->d) {
		rc = kgd_err_set(err, KGD_ERR_IO, "--ui %s: the HTTP server did not "
				 "start", spec);
		goto fail;
	}
	*out = u;
	return KGD_OK;
fail:
	if (u->lfd >= 0)
		close(u->lfd);
	pthread_mutex_destroy(&u->mu);
	free(u);
	return rc;
}

const char *ui_url(const ui_server *u)
{
	return u->url;
}

int ui_views(ui_server *u)
{
	int n;

	pthread_mutex_lock(&u->mu);
	n = u->views;
	pthread_mutex_unlock(&u->mu);
	return n;
}

void ui_stop(ui_server *u)
{
	struct timespec t0, slice = {0, 20000000L};

	if (!u)
		return;
	/* The views that are reading get the final state (why the lot
	 * stopped); one that is not is not waited for long. */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		int behind;

		pthread_mutex_lock(&u->mu);
		behind = u->behind;
		pthread_mutex_unlock(&u->mu);
		if (behind <= 0 || ms_since(&t0) > 2000)
			break;
		nanosleep(&slice, NULL);
	}
	pthread_mutex_lock(&u->mu);
	u->closing = 1;
	pthread_mutex_unlock(&u->mu);
	MHD_stop_daemon(u->d);   /* closes the listening socket too */
	pthread_mutex_destroy(&u->mu);
	free(u);
}
