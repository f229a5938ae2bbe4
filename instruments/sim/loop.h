/*
 * instruments/sim/loop.h - the one socket/pty loop under every simulated
 * instrument of kgd-vstation: accepts clients on 127.0.0.1 listeners,
 * serves a pseudo-terminal, splits input into LF-terminated lines, hands
 * each line to its instrument, and sends the reply after the instrument's
 * modelled busy time (x --time-scale) plus the configured latency. Faults
 * (no reply, garbage, disconnect, instrument error, overrange) are applied
 * here, by command count.
 *
 * Busy time (for bench_wafer): an instrument is busy for a command from the
 * moment its line is taken until its reply is written (modelled time,
 * latency and this loop's own reply granularity included). The loop sums
 * that per endpoint and keeps the union over all endpoints - the time at
 * least one instrument was working for the station, which for a station
 * that waits on one instrument at a time is its critical path.
 *
 * Invariants: one thread; a client waiting for a delayed reply sends
 * nothing further to its instrument until that reply is out (as with a
 * real instrument's single input queue), but other clients and
 * instruments keep being served; nothing listens beyond 127.0.0.1.
 */
#ifndef KGD_SIM_LOOP_H
#define KGD_SIM_LOOP_H

#include <signal.h>

#include "scpi_core.h"

#define SIM_MAX_FAULTS 8
#define SIM_MAX_CLIENTS 8

enum sim_fault_kind {
	SIM_FAULT_NO_REPLY, SIM_FAULT_GARBAGE, SIM_FAULT_DISCONNECT,
	SIM_FAULT_SCPI_ERROR, SIM_FAULT_OVERRANGE, SIM_FAULT_CONTACT_FAIL,
};

typedef struct sim_fault {
	enum sim_fault_kind kind;
	long after;          /* active from command after+1 on */
	int fired;           /* one-shot faults (disconnect, scpi-error) */
} sim_fault;

typedef int (*sim_exec_fn)(void *inst, const char *line, const sim_fx *fx,
			   sim_buf *out, double *busy_s);

struct sim_client;

typedef struct sim_endpoint {
	const char *role;        /* pm, pm100, bert, prober, laser */
	const char *driver;
	int timeout_ms;          /* written to the station config */
	int is_pty;
	sim_exec_fn exec;
	void *inst;
	double latency_s;
	sim_fault faults[SIM_MAX_FAULTS];
	int n_faults;
	long commands;
	/* busy-time statistics (sim_loop_stats_write) */
	long replies;
	double busy_s;
	/* transport */
	int lfd, port;           /* TCP listener */
	int master, slave;       /* pty; slave kept open so the master never hangs up */
	char pty_path[64];
	struct sim_client *clients;
	int n_clients;
} sim_endpoint;

/* Open the endpoint's listener (ephemeral 127.0.0.1 port) or pty. 0 / -1. */
int sim_endpoint_open(sim_endpoint *e);
/* Serve a pty opened elsewhere (master, an open slave; both now owned by
 * e) instead of the endpoint's own, named path in its URI. */
void sim_endpoint_adopt_pty(sim_endpoint *e, int master, int slave, const char *path);
void sim_endpoint_close(sim_endpoint *e);
/* Its URI as the station config names it. */
void sim_endpoint_uri(const sim_endpoint *e, char *buf, size_t cap);

/* Serve until *stop is set or the deadline (monotonic s) passes. */
void sim_loop_run(sim_endpoint *eps, int n, double time_scale, double deadline,
		  volatile sig_atomic_t *stop);

/* Write the busy-time statistics of the loop's endpoints to path as CSV
 * (role,commands,replies,busy_s; then a row "union" with the time at least
 * one endpoint was busy and a row "span" from the first command taken to
 * the last reply written). 0 / -1. */
int sim_loop_stats_write(const sim_endpoint *eps, int n, const char *path);

#endif
