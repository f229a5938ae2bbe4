/*
 * instruments/sim/vstation.c - kgd-vstation, the virtual station: simulated
 * instruments as real TCP peers on 127.0.0.1, over one seeded model of a lot
 * of parts (model.c). Today it serves one instrument, the N7745A power meter
 * (pm_scpi.c); this file only owns sockets, options, signals and time.
 *
 * Invariants:
 *  - it never outlives --lifetime-s, so a crashed test cannot leave it behind;
 *  - the --config-out file appears whole or not at all (written to .tmp,
 *    then renamed), and only after the socket is listening, so a reader that
 *    sees it can connect at once;
 *  - up to MAX_CLIENTS clients are served at once, one command at a time,
 *    over one shared instrument state; a client's leaving never stops it.
 */
#include <errno.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "model.h"
#include "pm_scpi.h"

#define LINE_MAX_BYTES 4096
#define POLL_SLICE_MS 100
#define MAX_CLIENTS 8

struct options {
	sim_model_params model;
	const char *config_out;
	double lifetime_s;
	int latency_ms;
	long fault_no_reply_after;  /* -1: never */
	int fault_garbage;
	int ground_truth;
	double ground_truth_nm;
	double window_low_dbm, window_high_dbm;
};

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: kgd-vstation [options]\n"
		"Simulated instruments of a KGD test station on 127.0.0.1.\n"
		"Serves a Keysight N7745A power meter (SCPI over raw TCP, LF-terminated)\n"
		"on an ephemeral port, over a seeded model of a lot of units.\n"
		"\n"
		"  --seed N                 model seed (default 1)\n"
		"  --units N                lot size (default 25); select the unit under\n"
		"                           test with :SIMulate:DUT <n> (default unit 0)\n"
		"  --config-out PATH        write a station config naming the instruments'\n"
		"                           URIs to PATH once listening (atomic rename)\n"
		"  --lifetime-s N           exit by itself after N seconds (default 600)\n"
		"  --latency-ms N           delay before each reply (default 0)\n"
		"  --fault-no-reply-after N answer N commands, then stay silent\n"
		"  --fault-garbage          answer power readings with non-numbers\n"
		"  --ground-truth           print each unit's defect and per-port mean\n"
		"                           power, PASS/FAIL against --window, and exit\n"
		"  --ground-truth-nm NM     wavelength for --ground-truth (default 1310)\n"
		"  --window LOW:HIGH        pass window in dBm (default -3:3)\n"
		"  --help                   this text\n"
		"\n"
		"Without --config-out, prints 'listening tcp://127.0.0.1:<port>' on stdout.\n"
		"Exits 0 on SIGINT, SIGTERM or end of lifetime.\n");
}

/* Parse a whole-string number; -1 if s is not one. */
static int parse_num(const char *s, double *out)
{
	char *end;

	*out = strtod(s, &end);
	return (end == s || *end) ? -1 : 0;
}

static int parse_options(int argc, char **argv, struct options *o)
{
	sim_model_defaults(&o->model);
	o->config_out = NULL;
	o->lifetime_s = 600;
	o->latency_ms = 0;
	o->fault_no_reply_after = -1;
	o->fault_garbage = 0;
	o->ground_truth = 0;
	o->ground_truth_nm = 1310.0;
	o->window_low_dbm = -3.0;
	o->window_high_dbm = 3.0;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		double d;

		if (strcmp(a, "--help") == 0) {
			usage(stdout);
			exit(0);
		} else if (strcmp(a, "--fault-garbage") == 0) {
			o->fault_garbage = 1;
			continue;
		} else if (strcmp(a, "--ground-truth") == 0) {
			o->ground_truth = 1;
			continue;
		}
		if (!v) {
			fprintf(stderr, "kgd-vstation: %s: unknown option or missing value\n", a);
			return -1;
		}
		i++;
		if (strcmp(a, "--config-out") == 0) {
			o->config_out = v;
			continue;
		}
		if (strcmp(a, "--window") == 0) {
			if (sscanf(v, "%lf:%lf", &o->window_low_dbm, &o->window_high_dbm) != 2)
				goto bad_value;
			continue;
		}
		if (parse_num(v, &d))
			goto bad_value;
		if (strcmp(a, "--seed") == 0 && d >= 0)
			o->model.seed = strtoull(v, NULL, 10);
		else if (strcmp(a, "--units") == 0 && d >= 1 && d <= 1e6)
			o->model.units = (int)d;
		else if (strcmp(a, "--lifetime-s") == 0 && d > 0)
			o->lifetime_s = d;
		else if (strcmp(a, "--latency-ms") == 0 && d >= 0 && d <= 60000)
			o->latency_ms = (int)d;
		else if (strcmp(a, "--fault-no-reply-after") == 0 && d >= 0)
			o->fault_no_reply_after = (long)d;
		else if (strcmp(a, "--ground-truth-nm") == 0 && d > 0)
			o->ground_truth_nm = d;
		else
			goto bad_value;
		continue;
bad_value:
		fprintf(stderr, "kgd-vstation: %s: bad value '%s'\n", a, v);
		return -1;
	}
	return 0;
}

static void print_ground_truth(const sim_model *m, const struct options *o)
{
	static const char *defect_names[] = {"none", "weak-port", "dead-port"};

	printf("# seed %llu, %d units, %d ports, %.3f nm, window %.2f..%.2f dBm\n",
	       (unsigned long long)m->p.seed, m->p.units, m->p.ports,
	       o->ground_truth_nm, o->window_low_dbm, o->window_high_dbm);
	printf("unit,defect,defect_port,result");
	for (int p = 1; p <= m->p.ports; p++)
		printf(",port%d_dbm", p);
	printf("\n");
	for (int u = 0; u < m->p.units; u++) {
		int port, pass = 1;
		enum sim_defect d = sim_model_defect(m, u, &port);
		double dbm[SIM_MAX_PORTS];

		for (int p = 1; p <= m->p.ports; p++) {
			dbm[p - 1] = sim_model_mean_dbm(m, u, p, o->ground_truth_nm);
			if (dbm[p - 1] < o->window_low_dbm || dbm[p - 1] > o->window_high_dbm)
				pass = 0;
		}
		printf("%d,%s,%d,%s", u, defect_names[d], port, pass ? "PASS" : "FAIL");
		for (int p = 0; p < m->p.ports; p++)
			printf(",%.4f", dbm[p]);
		printf("\n");
	}
}

static int write_config(const char *path, int port)
{
	char tmp[4096];
	FILE *f;
	int rc = -1;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return -1;
	f = fopen(tmp, "w");
	if (!f)
		return -1;
	fprintf(f,
		"# written by kgd-vstation; valid while it runs\n"
		"station: virtual-1\n"
		"instruments:\n"
		"  pm: {driver: keysight-n774x, uri: \"tcp://127.0.0.1:%d\"}\n",
		port);
	if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
		fclose(f);
		goto out;
	}
	if (fclose(f) != 0)
		goto out;
	if (rename(tmp, path) != 0)
		goto out;
	rc = 0;
out:
	if (rc)
		unlink(tmp);
	return rc;
}

static int listen_loopback(int *port)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = 0;  /* ephemeral: parallel tests never collide */
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, MAX_CLIENTS) != 0
	    || getsockname(fd, (struct sockaddr *)&sa, &sl) != 0) {
		close(fd);
		return -1;
	}
	*port = ntohs(sa.sin_port);
	return fd;
}

static int send_all(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Sleep ms, but wake for a signal or the end of life. */
static void latency_sleep(int ms, double deadline)
{
	double until = now_s() + ms / 1000.0;

	while (!stop_signal && now_s() < until && now_s() < deadline)
		poll(NULL, 0, POLL_SLICE_MS < ms ? POLL_SLICE_MS : ms);
}

/* One connected client: its partial input line. */
struct client {
	int fd;
	size_t used;
	int overlong;
	char line[LINE_MAX_BYTES];
};

/* Feed received bytes to the instrument, one message per LF. -1 when the
 * client must be dropped. *commands counts across clients for
 * --fault-no-reply-after. */
static int client_input(struct client *c, const char *buf, size_t n, sim_pm *pm,
			const struct options *o, double deadline, long *commands)
{
	for (size_t i = 0; i < n; i++) {
		sim_buf reply = {0};
		int rc = 0;

		if (buf[i] != '\n') {
			if (c->used < sizeof(c->line) - 1)
				c->line[c->used++] = buf[i];
			else
				c->overlong = 1;
			continue;
		}
		if (c->used > 0 && c->line[c->used - 1] == '\r')
			c->used--;
		c->line[c->used] = '\0';
		c->used = 0;
		if (c->overlong) {
			/* A message too long for the input buffer is dropped
			 * whole, never executed in part. */
			c->overlong = 0;
			continue;
		}
		if (o->fault_no_reply_after >= 0 && *commands >= o->fault_no_reply_after)
			continue;
		(*commands)++;
		/* Out of memory drops the client, not the process. */
		rc = sim_pm_execute(pm, c->line, &reply);
		if (o->latency_ms > 0)
			latency_sleep(o->latency_ms, deadline);
		if (!rc && reply.len)
			rc = send_all(c->fd, reply.data, reply.len);
		sim_buf_free(&reply);
		if (rc)
			return -1;
	}
	return 0;
}

/* Serve every client until a signal arrives or life ends. Several clients
 * may be connected at once (a station's driver plus an operator link that
 * swaps units, as with a LAN instrument's sessions); they share the one
 * instrument and its error queue, and commands run one at a time. */
static void serve(int lfd, sim_pm *pm, const struct options *o, double deadline)
{
	struct client clients[MAX_CLIENTS];
	struct pollfd pf[MAX_CLIENTS + 1];
	long commands = 0;
	int n = 0;

	while (!stop_signal && now_s() < deadline) {
		pf[0].fd = lfd;
		pf[0].events = POLLIN;
		for (int i = 0; i < n; i++) {
			pf[i + 1].fd = clients[i].fd;
			pf[i + 1].events = POLLIN;
		}
		if (poll(pf, (nfds_t)n + 1, POLL_SLICE_MS) <= 0)
			continue;
		for (int i = n - 1; i >= 0; i--) {
			char buf[1024];
			ssize_t got;

			if (!(pf[i + 1].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			got = recv(clients[i].fd, buf, sizeof(buf), 0);
			if (got < 0 && errno == EINTR)
				continue;
			if (got > 0 && client_input(&clients[i], buf, (size_t)got, pm, o,
						    deadline, &commands) == 0)
				continue;
			close(clients[i].fd);
			clients[i] = clients[--n];
		}
		if (pf[0].revents & POLLIN) {
			int cfd = accept(lfd, NULL, NULL);

			if (cfd >= 0 && n == MAX_CLIENTS)
				close(cfd);  /* full: refuse rather than leave it hanging */
			else if (cfd >= 0) {
				clients[n].fd = cfd;
				clients[n].used = 0;
				clients[n].overlong = 0;
				n++;
			}
		}
	}
	for (int i = 0; i < n; i++)
		close(clients[i].fd);
}

int main(int argc, char **argv)
{
	struct options o;
	struct sigaction sa;
	sim_model model;
	sim_pm *pm = NULL;
	int lfd = -1, port = 0, rc = 1;
	double deadline;

	if (parse_options(argc, argv, &o) != 0) {
		usage(stderr);
		return 2;
	}
	if (sim_model_init(&model, &o.model) != 0) {
		fprintf(stderr, "kgd-vstation: invalid model parameters\n");
		return 2;
	}
	if (o.ground_truth) {
		print_ground_truth(&model, &o);
		return 0;
	}
	deadline = now_s() + o.lifetime_s;

	/* No SA_RESTART: a signal must interrupt poll() so we exit promptly. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	pm = sim_pm_new(&model, o.fault_garbage);
	if (!pm) {
		fprintf(stderr, "kgd-vstation: out of memory\n");
		goto out;
	}
	lfd = listen_loopback(&port);
	if (lfd < 0) {
		fprintf(stderr, "kgd-vstation: cannot listen on 127.0.0.1: %s\n",
			strerror(errno));
		goto out;
	}
	if (o.config_out && write_config(o.config_out, port) != 0) {
		fprintf(stderr, "kgd-vstation: cannot write %s: %s\n", o.config_out,
			strerror(errno));
		goto out;
	}
	/* With a config file that file is the handshake; stay quiet so a
	 * parent's own output (station demo) is not interleaved with ours. */
	if (!o.config_out) {
		printf("listening tcp://127.0.0.1:%d\n", port);
		fflush(stdout);
	}

	serve(lfd, pm, &o, deadline);
	rc = 0;
out:
	if (lfd >= 0)
		close(lfd);
	sim_pm_free(pm);
	return rc;
}
