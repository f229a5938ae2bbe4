/*
 * instruments/xport_tcp.c - tcp://host:port, the raw SCPI socket (LAN
 * instruments usually listen on 5025).
 *
 * Invariant: the socket is non-blocking from the moment it exists, so no
 * call here can wait longer than the timeout it was given: connect, send
 * and recv all wait in xport_wait_fd(), which also ends the wait on the
 * station's abort.
 */
#include "xport_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct tcp_impl {
	int fd;
};

/* Split "host:port" or "[v6addr]:port". */
static int tcp_split(const xport *x, const char *rest, char *host, size_t hcap,
		     char *port, size_t pcap, kgd_err *err)
{
	const char *colon, *h = rest;
	size_t hlen;
	long p;

	if (*rest == '[') {
		const char *close = strchr(rest, ']');

		if (!close || close[1] != ':')
			return kgd_err_set(err, KGD_ERR_ARG,
					   "%s: malformed address (expected [v6addr]:port)", x->uri);
		h = rest + 1;
		hlen = (size_t)(close - h);
		colon = close + 1;
	} else {
		colon = strrchr(rest, ':');
		if (!colon)
			return kgd_err_set(err, KGD_ERR_ARG,
					   "%s: missing port (expected tcp://host:port)", x->uri);
		hlen = (size_t)(colon - rest);
	}
	if (hlen == 0 || hlen >= hcap)
		return kgd_err_set(err, KGD_ERR_ARG, "%s: missing or too long host", x->uri);
	if (xport_parse_long(colon + 1, 1, 65535, &p))
		return kgd_err_set(err, KGD_ERR_ARG,
				   "%s: bad port '%s' (expected 1..65535)", x->uri, colon + 1);
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	snprintf(port, pcap, "%ld", p);
	return KGD_OK;
}

/* Connect one address before deadline; returns the fd or -1 with errno
 * (ETIMEDOUT, ECANCELED when the station's abort ended the wait). */
static int tcp_connect_one(const xport *x, const struct addrinfo *ai,
			   int64_t deadline)
{
	int fd, soerr = 0, r;
	socklen_t slen = sizeof(soerr);

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    ai->ai_protocol);
	if (fd < 0)
		return -1;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
		return fd;
	if (errno != EINPROGRESS)
		goto fail;
	r = xport_wait_fd(x, fd, POLLOUT, deadline, "connecting", NULL);
	if (r) {
		errno = r == KGD_ERR_TIMEOUT ? ETIMEDOUT
		      : r == KGD_ERR_ABORTED ? ECANCELED : errno;
		goto fail;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &slen) < 0)
		goto fail;
	if (soerr) {
		errno = soerr;
		goto fail;
	}
	return fd;
fail:
	r = errno;
	close(fd);
	errno = r;
	return -1;
}

static int tcp_open(xport *x, const struct xport_uri *u, kgd_err *err)
{
	struct addrinfo hints = {0}, *res = NULL;
	struct tcp_impl *t = NULL;
	char host[200], port[8];
	int fd = -1, one = 1, gai, rc, saved = 0;

	rc = tcp_split(x, u->rest, host, sizeof(host), port, sizeof(port), err);
	if (rc)
		goto out;
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	gai = getaddrinfo(host, port, &hints, &res);
	if (gai) {
		rc = kgd_err_set(err, KGD_ERR_NOT_FOUND, "%s: cannot resolve '%s': %s",
				 x->uri, host, gai_strerror(gai));
		goto out;
	}
	for (struct addrinfo *ai = res; ai && fd < 0 && saved != ECANCELED;
	     ai = ai->ai_next) {
		fd = tcp_connect_one(x, ai, xport_now_ms() + x->timeout_ms);
		if (fd < 0)
			saved = errno;
	}
	if (fd < 0) {
		if (saved == ECANCELED)
			rc = xport_abort_error(x, "connecting", err);
		else if (saved == ETIMEDOUT)
			rc = kgd_err_set(err, KGD_ERR_TIMEOUT,
					 "%s: connect: no answer within %d ms", x->uri,
					 x->timeout_ms);
		else
			rc = kgd_err_set(err, KGD_ERR_IO, "%s: connect: %s", x->uri,
					 strerror(saved));
		goto out;
	}
	/* SCPI is request/reply with short messages: Nagle would hold each
	 * command back for an ACK that only comes with the reply. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	t = malloc(sizeof(*t));
	if (!t) {
		rc = kgd_err_set(err, KGD_ERR_NOMEM, "%s: out of memory", x->uri);
		goto out;
	}
	t->fd = fd;
	fd = -1;
	x->impl = t;
	rc = KGD_OK;
out:
	if (fd >= 0)
		close(fd);
	if (res)
		freeaddrinfo(res);
	return rc;
}

static int tcp_write(xport *x, const uint8_t *buf, size_t len, int timeout_ms,
		     kgd_err *err)
{
	struct tcp_impl *t = x->impl;
	int64_t deadline = xport_now_ms() + timeout_ms;
	size_t done = 0;

	while (done < len) {
		/* MSG_NOSIGNAL: a peer that went away is an error to report,
		 * not a SIGPIPE that kills the station. */
		ssize_t w = send(t->fd, buf + done, len - done, MSG_NOSIGNAL);
		int rc;

		if (w > 0) {
			done += (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EPIPE || errno == ECONNRESET))
			return kgd_err_set(err, KGD_ERR_CLOSED,
					   "%s: connection closed by peer", x->uri);
		if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
			return kgd_err_set(err, KGD_ERR_IO, "%s: send: %s", x->uri,
					   strerror(errno));
		rc = xport_wait_fd(x, t->fd, POLLOUT, deadline, "waiting to send", err);
		if (rc == KGD_ERR_TIMEOUT)
			return kgd_err_set(err, rc, "%s: send blocked for %d ms", x->uri,
					   timeout_ms);
		if (rc)
			return rc;
	}
	return KGD_OK;
}

static int tcp_read_some(xport *x, uint8_t *buf, size_t cap, size_t *got,
			 int timeout_ms, kgd_err *err)
{
	struct tcp_impl *t = x->impl;
	int64_t deadline = xport_now_ms() + timeout_ms;

	for (;;) {
		ssize_t r = recv(t->fd, buf, cap, 0);
		int rc;

		if (r > 0) {
			*got = (size_t)r;
			return KGD_OK;
		}
		if (r == 0 || errno == ECONNRESET)
			return kgd_err_set(err, KGD_ERR_CLOSED,
					   "%s: connection closed by peer", x->uri);
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return kgd_err_set(err, KGD_ERR_IO, "%s: recv: %s", x->uri,
					   strerror(errno));
		if (deadline - xport_now_ms() <= 0)
			return KGD_ERR_TIMEOUT;
		rc = xport_wait_fd(x, t->fd, POLLIN, deadline, "waiting for a reply",
				   err);
		if (rc)
			return rc;
	}
}

static void tcp_close(xport *x)
{
	struct tcp_impl *t = x->impl;

	if (!t)
		return;
	close(t->fd);
	free(t);
	x->impl = NULL;
}

static const char *const tcp_params[] = {NULL};

const struct xport_ops xport_tcp_ops = {
	.scheme = "tcp",
	.params = tcp_params,
	.open = tcp_open,
	.write = tcp_write,
	.read_some = tcp_read_some,
	.clear = NULL,
	.close = tcp_close,
};
