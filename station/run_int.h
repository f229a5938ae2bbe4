/*
 * station/run_int.h - what the sequencer's files share (not installed, not
 * for other modules): the opened station, the operations table's row type,
 * the part in flight, and the process models' entry points.
 *
 * Invariant: an operation function (ops_*.c) only talks to its instrument
 * and fills a run_call; logging, limits, retries and verdicts belong to
 * runner.c, so every operation is judged by the same rules.
 */
#ifndef KGD_RUN_INT_H
#define KGD_RUN_INT_H

#include "kgd/driver.h"
#include "plugin.h"
#include "runner.h"

#define RUN_MAX_SWEEP 8
#define RUN_MAX_ROLES 16
#define RUN_MAX_VALUES 6
#define RUN_MAX_PARAMS 8

/* An instrument the sequence uses, opened. */
typedef struct run_role {
	const cfg_instrument *inst;
	drv_plugin *plugin;
	xport *x;
	void *h;
} run_role;

struct run_station {
	run_role roles[RUN_MAX_ROLES];
	size_t n_roles;
};

/* What a step is judged on. */
typedef enum run_kind {
	RUN_KIND_NUMERIC,  /* values checked against limits (one or several) */
	RUN_KIND_MATCH,    /* a string checked against glob/regex */
	RUN_KIND_ACTION,   /* passes when the operation succeeds */
	RUN_KIND_PROMPT,   /* operator answer; pass/fail with `expect` */
} run_kind;

typedef struct run_value {
	const char *name;   /* NULL: the step's own value (limits: {low, ...}) */
	const char *unit;   /* native unit the driver returns it in */
} run_value;

typedef struct run_param {
	const char *name;
	char type;          /* 'n' number, 's' string, 'p' BERT pattern,
	                       'c' channels (all | 1..n), 'b' boolean,
	                       'r' regex, 'f' step[/value] reference */
} run_param;

typedef struct run_part run_part;
typedef struct run_ctx run_ctx;
typedef struct run_committer run_committer;

/* One sweep point of a step. */
typedef struct run_point {
	const seq_step *st;
	double vals[RUN_MAX_SWEEP];
	size_t idx[RUN_MAX_SWEEP];    /* index of vals[i] in sweep[i].values:
	                                 picks per-point limits */
} run_point;

/* One call of an operation at one sweep point. */
typedef struct run_call {
	run_ctx *cx;
	run_role *r;                  /* NULL for built-in steps */
	const seq_step *st;
	const run_point *pt;
	double v[RUN_MAX_VALUES];     /* out: in the op's value order, native */
	int matched;                  /* out: MATCH / PROMPT verdict */
	char text[256];               /* out: string read (identity, answer) */
} run_call;

typedef int (*run_exec_fn)(run_call *c, kgd_err *err);

typedef struct run_op {
	const char *name;             /* the <operation> of <role>.<operation> */
	int klass;                    /* enum drv_class; 0: any class (identify)
	                                 or -1: built-in, no role */
	run_kind kind;
	run_value values[RUN_MAX_VALUES];
	const char *sweep_vars[RUN_MAX_SWEEP];
	run_param params[RUN_MAX_PARAMS];
	run_exec_fn exec;
	int unit_only;                /* prompt: needs an operator */
} run_op;

/* A value measured earlier in the part, for references (insertion loss). */
typedef struct run_rec {
	size_t step;                  /* seq_step_at index */
	const char *value;            /* value name, NULL = the step's own */
	double vals[RUN_MAX_SWEEP];
	double native;
} run_rec;

/* Step outcomes, as stored in step results. */
enum run_step_status { RUN_ST_NOT_RUN, RUN_ST_PASS, RUN_ST_FAIL, RUN_ST_ERROR,
		       RUN_ST_SKIPPED };

/* The verdict of the part in flight; only ever gets worse. */
enum run_verdict { RUN_PASS, RUN_FAIL, RUN_ERROR };

struct run_part {
	enum run_verdict verdict;
	int soft_bin;
	char reason[KGD_ERR_MSG_MAX];
	size_t measurements;
	unsigned char *status;        /* per step, enum run_step_status */
	run_role *err_role;           /* the instrument of the first error */
	int err_status;               /* and its kgd_status */
	run_rec *recs;
	size_t n_recs, cap_recs;
};

/* Everything a lot needs, passed down to parts and operations. */
struct run_ctx {
	run_station *rs;
	const seq_sequence *s;
	const cfg_station *c;
	db *d;
	const run_opts *o;
	run_summary *sum;
	char host[256];
	size_t part_index;
	int64_t run_id;               /* the open run */
	run_part part;
	int in_cleanup;               /* the abort flag is not honoured here */
	int line_open;                /* tty progress line not yet ended */
	unsigned errors_in_row;       /* parts in a row in the error bin */
	run_committer *committer;     /* wafer process: the commit thread
	                                 (run_commit.c), NULL = commit inline */
};

/* The operations table (runner.c). */
const run_op *run_find_op(const char *name);
run_role *run_find_role(run_station *rs, const char *role);
int run_point_get(const run_point *pt, const char *var, double *out);
int run_aborted(const run_ctx *cx);
/* Convert between units of one family (W/mW/uW/nW/dBm, A/mA); 0 if not
 * convertible. *out is NAN for a power <= 0 in dBm. */
int run_unit_convert(double v, const char *from, const char *to, double *out);
/* The latest value of step[/value] measured in this part at a point whose
 * shared sweep variables equal pt's; 0 if none. */
int run_reference(const run_ctx *cx, const char *ref, const run_point *pt,
		  double *native, const char **unit);

/* A param as a number / boolean (on/yes/true) / text, or dflt when absent.
 * run_lint has checked the text. */
double run_param_num(const seq_step *st, const char *key, double dflt);
int run_param_bool(const seq_step *st, const char *key, int dflt);
const char *run_param_str(const seq_step *st, const char *key,
			  const char *dflt);

/* Operation functions (ops_*.c). */
int run_op_pm_optical_power(run_call *c, kgd_err *err);
int run_op_pm_insertion_loss(run_call *c, kgd_err *err);
int run_op_bert_configure(run_call *c, kgd_err *err);
int run_op_bert_ber(run_call *c, kgd_err *err);
int run_op_laser_enable(run_call *c, kgd_err *err);
int run_op_laser_disable(run_call *c, kgd_err *err);
int run_op_laser_read(run_call *c, kgd_err *err);
int run_op_identify(run_call *c, kgd_err *err);
int run_op_wait(run_call *c, kgd_err *err);
int run_op_prompt(run_call *c, kgd_err *err);

/* One part, in runner.c: opens the run, runs setup/main/cleanup. On
 * KGD_OK the run is still open with cx->part holding the verdict; the
 * caller commits it with run_part_commit() or drops it with
 * db_run_rollback(). On an error (abort, database) it is rolled back. */
int run_part_begin(run_ctx *cx, const db_run_info *info, kgd_err *err);
int run_part_commit(run_ctx *cx, kgd_err *err);
/* The commit overlap (run_commit.c). With cx->committer set,
 * run_part_commit() only hands the open run to the commit thread; the
 * handle belongs to that thread until run_part_sync() returns, which
 * waits for the commit and gives its status (KGD_OK without a committer
 * or a commit in flight). run_commit_open() starts the thread,
 * run_commit_close() stops it (after a final run_part_sync()). */
int run_commit_open(run_ctx *cx, kgd_err *err);
int run_commit_submit(run_ctx *cx, kgd_err *err);
int run_part_sync(run_ctx *cx, kgd_err *err);
void run_commit_close(run_ctx *cx);
/* A part that could not be tested (the prober refused contact): its run
 * opened and closed at once in the error bin, no steps run, `reason` as
 * its fail reason. The run is still open on KGD_OK, as after
 * run_part_begin. */
int run_part_begin_error(run_ctx *cx, const db_run_info *info,
			 const char *reason, kgd_err *err);
/* The error policy after a committed and tallied part: a lost connection
 * is reopened once, and the lot stops after opts->max_errors error parts
 * in a row. KGD_OK: go on with the next part. */
int run_part_policy(run_ctx *cx, kgd_err *err);
int run_part_hard_bin(const run_ctx *cx);
void run_part_tally(run_ctx *cx);
void run_fill_info(const run_ctx *cx, db_run_info *info);

/* Process models. */
int run_proc_unit(run_ctx *cx, kgd_err *err);
int run_proc_wafer(run_ctx *cx, kgd_err *err);

/* Live progress (progress.c). */
void run_progress_part(run_ctx *cx, const char *where, size_t done,
		       size_t total);
void run_progress_note(run_ctx *cx, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void run_progress_end(run_ctx *cx);

const char *run_verdict_status(enum run_verdict v);

#endif
