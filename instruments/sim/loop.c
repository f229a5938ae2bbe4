/*
 * instruments/sim/loop.c - see loop.h.
 */
#include "loop.h"
#include "station.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#define IN_MAX 8192
#define POLL_SLICE_MS 100
/* Every listener and client of the largest station (teraphy --pd-ring:
 * 37 endpoints, up to SIM_MAX_CLIENTS clients each) fits. */
#define POLL_MAX 512

typedef struct sim_client {
	int fd;
	int is_pty;
	size_t in_len;
	int overlong;
	char in[IN_MAX];
	sim_buf pending;      /* reply waiting for its due time */
	int has_pending;
	int close_after;      /* disconnect fault: close once pending is out */
	double due;
	double taken;         /* when the pending command's line was taken */
} sim_client;

/* The union of busy intervals over every endpoint: the loop is one thread
 * and sees every take and every reply in time order, so a count of
 * commands in progress is enough. */
static struct {
	int active;
	double since, union_s, first, last;
} busy;

static void busy_begin(double now)
{
	if (busy.active++ == 0)
		busy.since = now;
	if (busy.first == 0)
		busy.first = now;
}

static void busy_end(sim_endpoint *e, sim_client *c, double now)
{
	e->busy_s += now - c->taken;
	e->replies++;
	if (--busy.active == 0)
		busy.union_s += now - busy.since;
	busy.last = now;
}

int sim_loop_stats_write(const sim_endpoint *eps, int n, const char *path)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -1;
	fprintf(f, "role,commands,replies,busy_s\n");
	for (int i = 0; i < n; i++)
		fprintf(f, "%s,%ld,%ld,%.6f\n", eps[i].role, eps[i].commands,
			eps[i].replies, eps[i].busy_s);
	fprintf(f, "union,,,%.6f\n", busy.union_s);
	fprintf(f, "span,,,%.6f\n", busy.last > busy.first ? busy.last - busy.first : 0);
	return fclose(f) ? -1 : 0;
}

int sim_endpoint_open(sim_endpoint *e)
{
	e->lfd = e->master = e->slave = -1;
	e->clients = calloc(SIM_MAX_CLIENTS, sizeof(*e->clients));
	if (!e->clients)
		return -1;
	if (e->is_pty) {
		struct termios t;
		const char *name;

		e->master = posix_openpt(O_RDWR | O_NOCTTY);
		if (e->master < 0 || grantpt(e->master) || unlockpt(e->master)
		    || !(name = ptsname(e->master)))
			return -1;
		snprintf(e->pty_path, sizeof(e->pty_path), "%s", name);
		/* Raw: no echo, no line editing, no CR/LF translation. */
		if (tcgetattr(e->master, &t) == 0) {
			cfmakeraw(&t);
			tcsetattr(e->master, TCSANOW, &t);
		}
		e->slave = open(e->pty_path, O_RDWR | O_NOCTTY);
		if (e->slave < 0)
			return -1;
		e->clients[0].fd = e->master;
		e->clients[0].is_pty = 1;
		e->n_clients = 1;
		return 0;
	}
	{
		struct sockaddr_in sa;
		socklen_t sl = sizeof(sa);

		e->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (e->lfd < 0)
			return -1;
		memset(&sa, 0, sizeof(sa));
		sa.sin_family = AF_INET;
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sa.sin_port = 0;  /* ephemeral: parallel tests never collide */
		if (bind(e->lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0
		    || listen(e->lfd, SIM_MAX_CLIENTS) != 0
		    || getsockname(e->lfd, (struct sockaddr *)&sa, &sl) != 0)
			return -1;
		e->port = ntohs(sa.sin_port);
	}
	return 0;
}

void sim_endpoint_adopt_pty(sim_endpoint *e, int master, int slave, const char *path)
{
	close(e->master);
	close(e->slave);
	e->master = master;
	e->slave = slave;
	e->clients[0].fd = master;
	snprintf(e->pty_path, sizeof(e->pty_path), "%s", path);
}

void sim_endpoint_close(sim_endpoint *e)
{
	for (int i = 0; e->clients && i < e->n_clients; i++) {
		if (!e->clients[i].is_pty)
			close(e->clients[i].fd);
		sim_buf_free(&e->clients[i].pending);
	}
	free(e->clients);
	e->clients = NULL;
	e->n_clients = 0;
	if (e->lfd >= 0)
		close(e->lfd);
	if (e->slave >= 0)
		close(e->slave);
	if (e->master >= 0)
		close(e->master);
	e->lfd = e->slave = e->master = -1;
}

void sim_endpoint_uri(const sim_endpoint *e, char *buf, size_t cap)
{
	if (e->is_pty)
		snprintf(buf, cap, "serial://%s?baud=115200", e->pty_path);
	else
		snprintf(buf, cap, "tcp://127.0.0.1:%d", e->port);
}

static int write_all(int fd, int is_pty, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t w = is_pty ? write(fd, p, n) : send(fd, p, n, MSG_NOSIGNAL);

		if (w < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Execute one line under the endpoint's faults. Returns -1 to drop the
 * client. */
static int run_line(sim_endpoint *e, sim_client *c, const char *line, double time_scale)
{
	sim_fx fx = {0};
	double busy = 0;
	long n = ++e->commands;

	c->taken = sim_now();

	for (int i = 0; i < e->n_faults; i++) {
		sim_fault *f = &e->faults[i];
		int active = n > f->after;

		if (!active)
			continue;
		switch (f->kind) {
		case SIM_FAULT_NO_REPLY:
			return 0;  /* swallowed: never executed, never answered */
		case SIM_FAULT_GARBAGE:
			fx.garbage = 1;
			break;
		case SIM_FAULT_OVERRANGE:
			fx.overrange = 1;
			break;
		case SIM_FAULT_SCPI_ERROR:
			if (!f->fired)
				fx.error = f->fired = 1;
			break;
		case SIM_FAULT_DISCONNECT:
			if (!f->fired && !c->is_pty)
				c->close_after = f->fired = 1;
			break;
		case SIM_FAULT_CONTACT_FAIL:
			break;  /* the prober's own business */
		}
	}
	if (e->exec(e->inst, line, &fx, &c->pending, &busy))
		return -1;
	busy_begin(c->taken);
	if (c->close_after && c->pending.len > 1)
		c->pending.len /= 2;  /* disconnect mid-reply */
	c->has_pending = 1;
	c->due = c->taken + e->latency_s + busy * time_scale;
	return 0;
}

/* Take lines from the client's input while no reply is pending. */
static int drain(sim_endpoint *e, sim_client *c, double time_scale)
{
	while (!c->has_pending) {
		char *lf = memchr(c->in, '\n', c->in_len);
		size_t n;

		if (!lf) {
			if (c->in_len == IN_MAX) {
				/* A message too long for the buffer is
				 * dropped whole, never executed in part. */
				c->in_len = 0;
				c->overlong = 1;
			}
			return 0;
		}
		n = (size_t)(lf - c->in);
		*lf = '\0';
		if (n > 0 && c->in[n - 1] == '\r')
			c->in[n - 1] = '\0';
		if (c->overlong)
			c->overlong = 0;
		else if (run_line(e, c, c->in, time_scale))
			return -1;
		memmove(c->in, lf + 1, c->in_len - n - 1);
		c->in_len -= n + 1;
	}
	return 0;
}

/* Send a due reply. -1 to drop the client. */
static int flush_due(sim_endpoint *e, sim_client *c, double now, double time_scale)
{
	if (!c->has_pending || now < c->due)
		return 0;
	if (c->pending.len && write_all(c->fd, c->is_pty, c->pending.data, c->pending.len)) {
		c->has_pending = 0;
		busy_end(e, c, sim_now());
		return -1;
	}
	c->pending.len = 0;
	c->has_pending = 0;
	busy_end(e, c, sim_now());
	if (c->close_after)
		return -1;
	return drain(e, c, time_scale);
}

static void drop(sim_endpoint *e, int i)
{
	sim_client *c = &e->clients[i];

	if (c->has_pending)
		busy_end(e, c, sim_now());   /* the reply will never go out */
	if (c->is_pty) {
		/* A pty is never dropped: forget the partial state only. */
		c->in_len = 0;
		c->pending.len = 0;
		c->has_pending = 0;
		return;
	}
	close(c->fd);
	sim_buf_free(&c->pending);
	e->clients[i] = e->clients[--e->n_clients];
	memset(&e->clients[e->n_clients], 0, sizeof(sim_client));
}

void sim_loop_run(sim_endpoint *eps, int n, double time_scale, double deadline,
		  volatile sig_atomic_t *stop)
{
	static struct pollfd pf[POLL_MAX];
	static struct { int ep, client; } who[POLL_MAX];

	while (!*stop && sim_now() < deadline) {
		double now = sim_now(), next = now + POLL_SLICE_MS / 1000.0;
		int np = 0, timeout;

		for (int k = 0; k < n; k++) {
			sim_endpoint *e = &eps[k];

			if (!e->is_pty && e->n_clients < SIM_MAX_CLIENTS && np < POLL_MAX) {
				pf[np] = (struct pollfd){e->lfd, POLLIN, 0};
				who[np].ep = k;
				who[np++].client = -1;
			}
			for (int i = 0; i < e->n_clients && np < POLL_MAX; i++) {
				sim_client *c = &e->clients[i];

				if (c->has_pending && c->due < next)
					next = c->due;
				pf[np] = (struct pollfd){c->fd, c->has_pending ? 0 : POLLIN, 0};
				who[np].ep = k;
				who[np++].client = i;
			}
		}
		timeout = (int)((next - now) * 1000.0 + 0.999);
		if (poll(pf, (nfds_t)np, timeout < 0 ? 0 : timeout) < 0 && errno != EINTR)
			break;
		now = sim_now();
		/* Backwards, so dropping a client never skips another. */
		for (int j = np - 1; j >= 0; j--) {
			sim_endpoint *e = &eps[who[j].ep];
			sim_client *c;

			if (who[j].client < 0) {
				if (pf[j].revents & POLLIN) {
					int fd = accept4(e->lfd, NULL, NULL, SOCK_CLOEXEC);

					if (fd >= 0 && e->n_clients < SIM_MAX_CLIENTS) {
						memset(&e->clients[e->n_clients], 0, sizeof(sim_client));
						e->clients[e->n_clients++].fd = fd;
					} else if (fd >= 0) {
						close(fd);
					}
				}
				continue;
			}
			c = &e->clients[who[j].client];
			if (pf[j].revents & (POLLIN | POLLHUP | POLLERR)) {
				ssize_t got = read(c->fd, c->in + c->in_len, IN_MAX - c->in_len);

				if (got < 0 && (errno == EINTR || errno == EAGAIN))
					continue;
				if (got > 0)
					c->in_len += (size_t)got;
				if (got <= 0 || drain(e, c, time_scale))
					drop(e, who[j].client);
			}
		}
		/* Replies whose time has come. */
		for (int k = 0; k < n; k++)
			for (int i = eps[k].n_clients - 1; i >= 0; i--)
				if (flush_due(&eps[k], &eps[k].clients[i], now, time_scale))
					drop(&eps[k], i);
	}
}
