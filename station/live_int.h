/*
 * station/live_int.h - the inside of the live state (live.h), shared by
 * the files that keep it (progress.c, the tally in live_tally.c) and the
 * one that writes it as JSON (live_json.c). Everything in struct run_live
 * is guarded by mu.
 */
#ifndef KGD_LIVE_INT_H
#define KGD_LIVE_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include "live.h"

#define LIVE_MAX_BINS 64
#define LIVE_FAILS 8

/* A part's outcome as the lot counts it: its latest run. */
typedef struct live_part {
	char *key;            /* "W\x1f<wafer>\x1f<x>\x1f<y>" or "S\x1f<serial>" */
	char *wafer;          /* owned copy (NULL: unit process) */
	int x, y;
	char status;          /* 'p' pass, 'f' fail, 'e' error */
	int bin;              /* soft bin */
} live_part;

typedef struct live_tally {
	live_part *v;         /* open addressing; key NULL = empty */
	size_t cap, n;
} live_tally;

/* One cell of the map the page draws: a die (wafer process) or a part in
 * test order (unit process: x = index % 25, y = index / 25). */
typedef struct live_cell {
	int x, y, bin;
	char status;
} live_cell;

typedef struct live_bin {
	int number, pass;
	char name[48];
	size_t lot, wafer;    /* parts whose latest run is in this bin */
} live_bin;

typedef struct live_fail {
	char where[160];
	char reason[200];
	int bin;
} live_fail;

struct run_live {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	unsigned long version;

	/* the terminal */
	FILE *out;
	int tty, line_open;
	pthread_t hb;
	int hb_started, hb_quit;
	pthread_cond_t hb_cv;

	/* the lot */
	char lot[72], oper[72], station[72], process[8], product[64];
	char url[160];
	int control;
	double t_first;             /* monotonic: the session's first part */
	size_t tested;              /* this session's parts */
	size_t done, total;         /* parts done (tested or skipped) of the
	                               lot's estimated total (0: unknown) */
	size_t lot_n[3];            /* the lot's parts by latest outcome:
	                               pass, fail, error */
	live_bin bins[LIVE_MAX_BINS];
	size_t n_bins;
	live_tally tally;
	live_fail fails[LIVE_FAILS];
	size_t n_fails;             /* ever; the ring holds the last ones */

	/* the wafer (or, unit process, the lot's part strip) */
	char wafer[128];
	int slot;
	unsigned long gen;          /* bumped at each wafer */
	size_t w_done, w_total, w_retested;
	size_t w_n[3];              /* this wafer's parts, as lot_n */
	live_cell *cells;
	size_t n_cells, cap_cells;

	/* the part in flight */
	char where[160];
	double part_t0;             /* monotonic; 0: no part in flight */
	char step[64], point[128];
	char key[300];              /* its tally key */
	int cur_x, cur_y, has_xy;

	/* a prompt */
	unsigned long prompt_id;
	int prompt_open, answered;
	char ptext[256], pexpect[64], answer[256];

	/* the end */
	int stopped;
	char state[16], why[512], next[1024];
};

/* live_tally.c */
live_part *live_tally_find(live_tally *t, const char *key);
/* Add key (copied) or return its entry; NULL when out of memory. */
live_part *live_tally_add(live_tally *t, const char *key, const char *wafer,
			  int x, int y, int *created);
void live_tally_free(live_tally *t);
/* The map key of a part. */
void live_key(char *buf, size_t cap, const char *wafer, const char *serial,
	      int x, int y);

double live_mono(void);

#endif
