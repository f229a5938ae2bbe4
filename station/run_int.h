/*
 * station/run_int.h - what the sequencer's files share (not installed, not
 * for other modules): the opened station, the operations table's row type,
 * the part in flight and its record, and each layer's entry points.
 *
 * Calls go one way, top to bottom (docs/ARCHITECTURE.md draws it):
 *
 *   lot.c        run_lot: the session, picks the process model
 *   proc_*.c     process models: which part is next, prober moves, binning
 *   part.c       one part: setup/main/cleanup, parallel blocks, the verdict
 *   step.c       one step: its sweep, batches, retries, limits, rows
 *   ops.c        the operations table; ops_*.c talk to one driver each
 *   rig.c        the opened instruments (load, open, reopen, close)
 *
 * and two sinks the layers above feed and that never call back:
 * run_commit.c (writes a finished part's record to the database) and
 * progress.c (the operator's terminal). lint.c checks a sequence against
 * ops.c and rig.c before anything runs.
 *
 * Invariants:
 *  - An operation function (ops_*.c) only talks to its instrument and fills
 *    run_calls; logging, limits, retries and verdicts belong to step.c, so
 *    every operation is judged by the same rules.
 *  - Nothing touches the database while a part is measured: a part's rows
 *    go into its run_record in file order and are written in one
 *    transaction when the part is committed (run_record_write). So a
 *    parallel branch never needs the db handle, and the write lock is held
 *    only for the commit.
 */
#ifndef KGD_RUN_INT_H
#define KGD_RUN_INT_H

#include <stdatomic.h>
#include "kgd/driver.h"
#include "plugin.h"
#include "runner.h"
#include "live.h"

#define RUN_MAX_SWEEP 8
#define RUN_MAX_ROLES 40    /* teraphy-sort.yaml: 35 (an SMU per photodiode and heater) */
#define RUN_MAX_VALUES 8
#define RUN_MAX_PARAMS 12
/* Points one batch call measures at most: ports of a power meter, lanes
 * of a BERT. */
#define RUN_MAX_BATCH 64

/* An instrument the sequence uses, opened. */
typedef struct run_role {
	const cfg_instrument *inst;
	drv_plugin *plugin;
	xport *x;
	void *h;
	char idn[256];                /* the instrument's identity when the
	                                 station opened it (driver identify),
	                                 recorded with the session */
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

/* How a param's text is checked (lint.c) and read. */
typedef enum run_ptype {
	RUN_P_NUMBER = 1,  /* a non-negative number */
	RUN_P_STRING,      /* any text */
	RUN_P_PATTERN,     /* a BERT pattern: PRBS7/15/23/31 */
	RUN_P_CHANNELS,    /* all | 1..64 */
	RUN_P_BOOL,        /* on/off (yu_bool_word) */
	RUN_P_REGEX,       /* a POSIX extended regex */
	RUN_P_STEPREF,     /* step[/value] measured earlier: an optical power */
	RUN_P_PM_ROLE,     /* another role the step also uses: a power meter */
} run_ptype;

typedef struct run_param {
	const char *name;
	run_ptype type;
} run_param;

/* The plausible values of a sweep variable or numeric param of an
 * operation: outside them a value is a check error (lint.c), most often a
 * unit slip (1.31 for 1310 nm), which would otherwise reach the
 * instrument as an error part. Every sweep variable and RUN_P_NUMBER param
 * of an operation has one (test_seq checks the table). */
typedef struct run_range {
	const char *name;             /* sweep variable or param; NULL: end */
	double lo, hi;
	const char *unit;             /* the value's unit: nm, s, Gb/s, dBm; ""
	                                 for an index (port, lane) */
	int whole;                    /* an index: whole numbers only */
} run_range;
#define RUN_MAX_RANGES (RUN_MAX_SWEEP + RUN_MAX_PARAMS)

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
	run_role *meter;              /* the role a RUN_P_PM_ROLE param names
	                                 (an LIV's power meter), else NULL */
	const seq_step *st;
	const run_point *pt;
	double v[RUN_MAX_VALUES];     /* out: in the op's value order, native */
	int matched;                  /* out: MATCH / PROMPT verdict */
	char text[256];               /* out: string read (identity, answer) */
	int rc;                       /* out (batch only): this point's status */
	kgd_err ierr;                 /* out (batch only): and its message */
	size_t step_idx;              /* derive: the step whose points to read */
} run_call;

typedef int (*run_exec_fn)(run_call *c, kgd_err *err);
/* Measure n points that differ only in the op's batch variable (all ports
 * at one wavelength, all lanes) in one go: each call's v[] and rc/ierr are
 * set as exec would for that point alone. Returns KGD_ERR_ABORTED when
 * the abort came while waiting, else KGD_OK (per-point errors are in the
 * calls). */
typedef int (*run_batch_fn)(run_call *calls, size_t n, kgd_err *err);

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
	/* The parallel form, if any: the sweep variable one batch call covers,
	 * the call, and whether this role's driver offers it. */
	const char *batch_var;
	run_batch_fn batch;
	int (*can_batch)(const run_role *r);
	/* The plausible range of each sweep variable and numeric param. */
	run_range ranges[RUN_MAX_RANGES];
} run_op;

/* Derived values of an operation (ops_table.c's second table): its
 * values[first..] are computed once, after the whole sweep measured
 * without error, from the points the step remembered (run_step_points),
 * into c->v at their indices; c->text gets the JSON the rows carry as
 * coords (which points they came from). A value the points cannot
 * support is NAN. */
typedef struct run_derive {
	const char *op;
	int first;                    /* index of the first derived value */
	run_exec_fn derive;
} run_derive;

/* A value measured earlier in the part, for references (insertion loss). */
typedef struct run_rec {
	size_t step;                  /* seq_step_at index */
	const char *value;            /* value name, NULL = the step's own */
	const char *unit;             /* its native unit */
	double vals[RUN_MAX_SWEEP];
	double native;
} run_rec;

/* Step outcomes, as stored in step results. */
enum run_step_status { RUN_ST_NOT_RUN, RUN_ST_PASS, RUN_ST_FAIL, RUN_ST_ERROR,
		       RUN_ST_SKIPPED };

/* The verdict of the part in flight; only ever gets worse. */
enum run_verdict { RUN_PASS, RUN_FAIL, RUN_ERROR };

/* One row of a part, waiting for the commit: a measurement or a step
 * result. Strings are the sequence's or the ops table's (they outlive the
 * lot) except coords and unit, which are the row's own. */
typedef struct run_row {
	int is_step;                  /* 0: measurement, 1: step result */
	const char *step;
	const char *name;             /* value name; NULL: the step's own */
	char *coords;                 /* owned JSON text, NULL: none */
	double value;
	int value_valid;
	char unit[16];
	double low, high;
	int has_low, has_high;
	int pass;
	/* step results */
	const char *status;
	int bin, n_values;
	double started, ended;        /* unix seconds */
} run_row;

/* Everything one part will write, in file order, plus who it was. */
typedef struct run_record {
	db_run_info info;             /* strings borrowed, except: */
	char *wafer, *serial;         /* the part's own copies (NULL: none):
	                                 the process model's buffers move on
	                                 while the record waits for commit */
	run_row *rows;
	size_t n_rows, cap_rows;
	/* the verdict, set when the part is done */
	const char *status;
	int hard_bin, soft_bin;
	char reason[KGD_ERR_MSG_MAX];
} run_record;

struct run_part {
	enum run_verdict verdict;
	int soft_bin;
	char reason[KGD_ERR_MSG_MAX];
	size_t measurements;
	unsigned char *status;        /* per step, enum run_step_status;
	                                 branches write only their own steps */
	run_role *err_role;           /* the instrument of the first error */
	int err_status;               /* and its kgd_status */
	run_rec *recs;
	size_t n_recs, cap_recs;
	run_record rec;               /* the rows so far */
};

/* Everything a lot needs, passed down to parts and operations. A parallel
 * branch runs on a copy with its own part (run_ctx.part) and the same
 * everything else. */
struct run_ctx {
	run_station *rs;
	const seq_sequence *s;
	const cfg_station *c;
	db *d;
	const run_opts *o;
	run_summary *sum;
	char host[256];
	size_t part_index;
	run_part part;
	int in_cleanup;               /* the abort flag is not honoured here */
	atomic_int *block_stop;       /* in a branch: the first branch (in file
	                                 order) that erred, INT_MAX while none
	                                 has; NULL outside parallel blocks */
	int branch_no;                /* in a branch: its index in the block */
	int line_open;                /* tty progress line not yet ended */
	unsigned errors_in_row;       /* parts in a row in the error bin */
	run_committer *committer;     /* wafer process: the commit thread
	                                 (run_commit.c), NULL = commit inline */
	run_live *live;               /* the live state both views read
	                                 (progress.c, live.h) */
};

/* ---- ops.c: the operations table, params, units ---------------------- */

const run_op *run_find_op(const char *name);
/* The operation's derived values, or NULL when it has none; whether value
 * vi is one of them. */
const run_derive *run_op_derive(const run_op *op);
int run_value_derived(const run_op *op, int vi);
/* Every operation name, comma-separated, for messages. */
const char *run_op_names(void);
/* The operations a role of class klass can run (its class's and those of
 * any class), comma-separated, in table order; into buf. */
const char *run_op_names_of(int klass, char *buf, size_t cap);
/* The table, row by row (i < run_n_ops()). */
size_t run_n_ops(void);
const run_op *run_op_at(size_t i);
/* The declared range of sweep variable or param `name`; NULL: none. */
const run_range *run_op_range(const run_op *op, const char *name);
int run_op_n_values(const run_op *op);
const run_value *run_op_value(const run_op *op, const char *name, int *idx);
const run_param *run_op_param(const run_op *op, const char *name);
int run_point_get(const run_point *pt, const char *var, double *out);
/* A param as a number / boolean / text, or dflt when absent. run_lint has
 * checked the text. */
double run_param_num(const seq_step *st, const char *key, double dflt);
int run_param_bool(const seq_step *st, const char *key, int dflt);
const char *run_param_str(const seq_step *st, const char *key,
			  const char *dflt);
/* Convert between units of one family (W/mW/uW/nW/dBm, A/mA); 0 if not
 * convertible. *out is NAN for a power <= 0 in dBm. */
int run_unit_convert(double v, const char *from, const char *to, double *out);
/* The units a value of native unit `native` may be limited in, for
 * messages ("W, mW, uW, nW, dBm"; counts: "count"). */
const char *run_unit_choices(const char *native);
/* The physically plausible values of a limit in `unit` ("" counts):
 * *lo..*hi; 0 for a unit with no known range. */
int run_unit_span(const char *unit, double *lo, double *hi);
/* Abort (SIGINT...) asked and not in cleanup; run_stopped: or, in a
 * parallel branch, a branch before it in the file erred. */
int run_aborted(const run_ctx *cx);
int run_stopped(const run_ctx *cx);
/* Sleep `seconds`, in slices, ending early on run_stopped():
 * KGD_ERR_ABORTED then. */
int run_sleep(const run_ctx *cx, double seconds, kgd_err *err);
/* Wall-clock time, unix seconds (what the db stores step and part times
 * in). */
double run_now(void);

/* The latest value of step[/value] measured in this part at a point whose
 * shared sweep variables equal pt's; 0 if none (step.c records them). */
int run_reference(const run_ctx *cx, const char *ref, const run_point *pt,
		  double *native, const char **unit);
/* The sweep variable of st that matches the reference step's ref_var:
 * the one its reference_match param pairs with it ("port=channel":
 * port k takes the reference's channel k), else ref_var itself. */
const char *run_reference_var(const seq_step *st, const char *ref_var,
			      char *buf, size_t cap);

/* The points step c->step_idx logged for value `value` in this part, in
 * sweep order: sweep variable `var` into x[] and the native value into
 * y[], at most cap; returns how many. */
size_t run_step_points(const run_call *c, const char *value, const char *var,
		       double *x, double *y, size_t cap);

/* Operation functions (ops_*.c). */
int run_op_pm_optical_power(run_call *c, kgd_err *err);
int run_op_pm_insertion_loss(run_call *c, kgd_err *err);
int run_batch_pm_optical_power(run_call *calls, size_t n, kgd_err *err);
int run_batch_pm_insertion_loss(run_call *calls, size_t n, kgd_err *err);
int run_can_batch_pm(const run_role *r);
int run_op_bert_configure(run_call *c, kgd_err *err);
int run_op_bert_ber(run_call *c, kgd_err *err);
int run_batch_bert_ber(run_call *calls, size_t n, kgd_err *err);
int run_can_batch_bert(const run_role *r);
int run_op_laser_enable(run_call *c, kgd_err *err);
int run_op_laser_disable(run_call *c, kgd_err *err);
int run_op_laser_read(run_call *c, kgd_err *err);
int run_op_smu_liv(run_call *c, kgd_err *err);
int run_derive_smu_liv(run_call *c, kgd_err *err);
int run_op_smu_dark_current(run_call *c, kgd_err *err);
int run_op_smu_off(run_call *c, kgd_err *err);
int run_op_smu_responsivity(run_call *c, kgd_err *err);
int run_derive_smu_responsivity(run_call *c, kgd_err *err);
int run_op_smu_ring_tune(run_call *c, kgd_err *err);
int run_derive_smu_ring_tune(run_call *c, kgd_err *err);
int run_op_smu_iv(run_call *c, kgd_err *err);
int run_batch_smu_iv(run_call *calls, size_t n, kgd_err *err);
int run_can_batch_smu(const run_role *r);
int run_derive_smu_iv(run_call *c, kgd_err *err);
int run_op_prober_align(run_call *c, kgd_err *err);
int run_op_identify(run_call *c, kgd_err *err);
int run_op_wait(run_call *c, kgd_err *err);
int run_op_prompt(run_call *c, kgd_err *err);

/* ---- rig.c: the opened instruments ------------------------------------ */

run_role *run_find_role(run_station *rs, const char *role);
/* Load the driver a role names and check its class (need_class 0: any).
 * Errors name the config file:line:column. */
int run_load_driver(const cfg_station *c, const cfg_instrument *inst,
		    int need_class, drv_plugin **out, kgd_err *err);
/* The checks of run_load_driver that need no dlopen: the name, the file
 * found in the plugin folders, its owner and permissions (`station
 * check` for a role whose class nothing needs confirmed). */
int run_locate_driver(const cfg_station *c, const cfg_instrument *inst,
		      kgd_err *err);
/* Open the instrument behind a role whose driver is loaded; close and
 * open again one whose connection was lost. On failure the role is left
 * closed (r->h NULL). */
int run_open_role(run_role *r, kgd_err *err);
int run_reopen_role(run_role *r, kgd_err *err);

/* A role the lot needs, with the class its operations need (0: any). */
typedef struct run_need {
	const char *name;
	int klass;
	seq_loc loc;
	const char *why;   /* what fixed the class, for messages */
} run_need;

/* The roles of the roles: header, of the steps, and the prober of the
 * wafer process, each with its class, at most RUN_MAX_ROLES (lint.c
 * reports more and class conflicts; this only collects). */
size_t run_collect_roles(const seq_sequence *s, run_need *out);

/* ---- step.c: one step ------------------------------------------------- */

/* Run step idx of the sequence over its whole sweep, appending its rows
 * to cx->part.rec and folding it into cx->part. *stop is set when the
 * part (or branch) must go on to cleanup. Returns KGD_OK, or what must
 * end the part: KGD_ERR_ABORTED, KGD_ERR_NOMEM. */
int run_step(run_ctx *cx, size_t idx, int *stop, kgd_err *err);
/* The part's verdict after a limit failure of st; why it failed. */
void run_part_fail(run_part *part, const seq_step *st);
void run_part_reason(run_part *part, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* A new slot for a remembered reading (references); NULL: out of memory. */
run_rec *run_part_rec_add(run_part *part);

/* ---- part.c: one part ------------------------------------------------- */

/* Run setup, main (with its parallel blocks) and cleanup for the part
 * described by info. On KGD_OK cx->part holds the verdict and its record;
 * the caller hands it to run_part_commit() or drops it. On an error
 * (abort, out of memory) nothing of the part is kept. */
int run_part_exec(run_ctx *cx, const db_run_info *info, kgd_err *err);
/* A part that could not be tested (the prober refused contact): no steps
 * run, the error bin, `reason` as its fail reason; commit it as above. */
void run_part_untested(run_ctx *cx, const db_run_info *info,
		       const char *reason);
/* Seal the verdict into the record and write it (run_commit.c: on the
 * commit thread when there is one); the summary counts it. */
int run_part_commit(run_ctx *cx, kgd_err *err);
/* The error policy after a committed part: a lost connection is reopened
 * once, and the lot stops after opts->max_errors error parts in a row.
 * KGD_OK: go on with the next part. */
int run_part_policy(run_ctx *cx, kgd_err *err);
int run_part_hard_bin(const run_ctx *cx);
void run_fill_info(const run_ctx *cx, db_run_info *info);
void run_part_free(run_part *p);
/* The run.status a verdict is stored as (header-only: the progress sink
 * needs it too, and must not call into part.c). */
static inline const char *run_verdict_status(enum run_verdict v)
{
	return v == RUN_PASS ? DB_STATUS_PASS
			     : v == RUN_FAIL ? DB_STATUS_FAIL : DB_STATUS_ERROR;
}

/* The record's rows (run_commit.c). run_record_add returns a zeroed row or NULL
 * when out of memory; run_record_clear drops the rows and keeps the
 * memory. */
run_row *run_record_add(run_record *r);
void run_record_clear(run_record *r);
void run_record_free(run_record *r);

/* ---- run_commit.c: the commit sink ------------------------------------- */

/* Write a finished record in one transaction: the run, its rows in order,
 * the verdict. Nothing of it stays on error. */
int run_record_write(db *d, const run_record *r, kgd_err *err);
/* The commit overlap. With cx->committer set, run_commit_submit() takes
 * the record (cx->part.rec is left empty) to the commit thread, and the
 * handle belongs to that thread until run_part_sync() returns, which
 * waits for the commit and gives its status (KGD_OK without a committer
 * or a commit in flight). */
int run_commit_open(run_ctx *cx, kgd_err *err);
int run_commit_submit(run_ctx *cx, kgd_err *err);
int run_part_sync(run_ctx *cx, kgd_err *err);
void run_commit_close(run_ctx *cx);

/* ---- process models (proc_*.c) ----------------------------------------- */

typedef struct run_process {
	const char *name;             /* "unit", "wafer": session.process */
	int (*run)(run_ctx *cx, kgd_err *err);
} run_process;

extern const run_process run_process_unit;
extern const run_process run_process_wafer;

/* ---- progress.c: the live state and the operator's terminal (a sink) --- */

/* The lot begins (identity, the sequence's bins). */
void run_progress_lot(run_ctx *cx);
/* One part of the lot's earlier sessions, its latest run (db_lot_results'
 * callback; user is the run_live). */
int run_progress_seed(void *user, const char *wafer, const char *serial,
		      int x, int y, const char *status, int soft_bin);
/* The parts the lot is expected to have, for the time left (0: unknown). */
void run_progress_total(run_ctx *cx, size_t total);
/* A wafer loaded: w_total dies (0: unknown), slots_left wafers to go
 * counting this one (for the time left). */
void run_progress_wafer(run_ctx *cx, const char *wafer, int slot,
			size_t w_total, size_t slots_left);
/* A wafer's summary line (both views). */
void run_progress_wafer_end(run_ctx *cx);
/* A part begins (also one that will be untested); a retest is noticed. */
void run_progress_begin(run_ctx *cx, const db_run_info *info);
/* The step and sweep point in flight (pt NULL: all points of a batch). */
void run_progress_point(run_ctx *cx, const seq_step *st, const run_point *pt);
/* A part skipped as already tested (--resume). */
void run_progress_skip(run_ctx *cx);
void run_progress_part(run_ctx *cx, const char *where, size_t done,
		       size_t total);
void run_progress_note(run_ctx *cx, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void run_progress_end(run_ctx *cx);
/* The lot's parts and passes, earlier sessions included. */
void run_progress_lot_counts(run_ctx *cx, size_t *parts, size_t *passed);
/* Ask the operator (terminal, or the page with --ui-control: the first
 * answer wins); the answer, trimmed, in ans. KGD_ERR_ABORTED on abort,
 * KGD_ERR_IO when the input ended. */
int run_progress_ask(run_ctx *cx, const char *text, const char *expect,
		     char *ans, size_t cap, kgd_err *err);
/* A yes/no question: 1 yes, 0 anything else, or the error status. */
int run_progress_confirm(run_ctx *cx, const char *question, kgd_err *err);

#endif
