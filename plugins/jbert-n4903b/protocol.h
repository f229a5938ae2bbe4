/*
 * plugins/jbert-n4903b/protocol.h - command sets and model table of the
 * Keysight (Agilent) J-BERT N4903 family as docs/INSTRUMENTS.md defines it
 * for this station: lane n is the suffix of SOURce (generator) and SENSe
 * (error detector); the bit rate is clock source 9, shared by all lanes.
 *
 * Invariant: every byte this driver puts on the wire comes from a format
 * string in a command-set table (protocol.c); a model is a row naming its
 * set and lane count, and a pattern is a row of the pattern table.
 */
#ifndef KGD_JBERT_PROTOCOL_H
#define KGD_JBERT_PROTOCOL_H

#include <stddef.h>

#include "kgd/drv_std.h"
#include "kgd/scpi.h"

#define JBERT_DRIVER "jbert-n4903b"
#define JBERT_SYNC_LOSS_BIT 0x400  /* STAT:QUES<n>:COND? */
#define JBERT_MAX_LANES 16         /* the most lanes a model row may have */

/* Commands; the comment gives the printf arguments each format takes. */
enum jbert_cmd {
	JBERT_CMD_SET_RATE,      /* double Hz */
	JBERT_CMD_GEN_PATTERN,   /* int lane, const char *pattern */
	JBERT_CMD_DET_PATTERN,   /* int lane, const char *pattern */
	JBERT_CMD_OUTPUT,        /* int lane, int on */
	JBERT_CMD_GATE_SINGLE,   /* int lane */
	JBERT_CMD_GATE_TIME,     /* int lane, double seconds */
	JBERT_CMD_GATE_START,    /* int lane */
	JBERT_CMD_GATE_RUNNING,  /* int lane; reply 1 while counting */
	JBERT_CMD_BITS,          /* int lane; compared bits of the last gate */
	JBERT_CMD_ERRORS,        /* int lane; errored bits of the last gate */
	JBERT_CMD_QUES_COND,     /* int lane; bit JBERT_SYNC_LOSS_BIT */
	JBERT_CMD_COUNT
};

typedef struct jbert_cmdset {
	const char *name;
	const char *fmt[JBERT_CMD_COUNT];
} jbert_cmdset;

typedef struct jbert_model {
	drv_std_model id;       /* *IDN? field 2, exact */
	int lanes;
	const jbert_cmdset *cmds;
} jbert_model;

/* The driver and its model table for drv_std_scpi_open (which sends the
 * *CLS): Keysight or Agilent as vendor. */
extern const drv_std_info jbert_info;

/* The ABI's pattern names to the instrument's parameter. NULL if unknown. */
const char *jbert_pattern(const char *abi_name);

/* The format of command c for model m (never NULL for a listed command). */
const char *jbert_fmt(const jbert_model *m, enum jbert_cmd c);

/* The wire operations, each command from m's table (printf arguments as
 * listed in enum jbert_cmd); errors carry the URI and command text.
 *
 * Several commands go out as one IEEE 488.2 compound message (scpi_msg of
 * kgd/scpi.h): the instrument parses a message as one unit, so gates one
 * message starts start together, and settings for many lanes cost one
 * round trip. Every command carries its leading ':', so each is absolute
 * whatever header path the one before it left. */

/* Append command c to msg; 0, or -1 with msg unchanged when it does not
 * fit (for a message that must stay one: the starts of one gate). */
int jbert_msg_add(scpi_msg *msg, const jbert_model *m, enum jbert_cmd c, ...);
/* Append command c to msg, first sending msg (checked, scpi_msg_command)
 * when c does not fit: settings for many lanes in as few messages as the
 * length cap allows. KGD_ERR_ARG if c alone does not fit a message. */
int jbert_msg_queue(xport *x, const jbert_model *m, scpi_msg *msg,
		    kgd_err *err, enum jbert_cmd c, ...);

int jbert_output(xport *x, const jbert_model *m, int lane, int on, kgd_err *err);
/* The lane's gate state: *running is 1 while it counts, 0 once closed. */
int jbert_gate_running(xport *x, const jbert_model *m, int lane, long *running,
		       kgd_err *err);
/* The raw counts of the lane's last gate: the questionable condition
 * (JBERT_SYNC_LOSS_BIT), then compared and errored bits, each read with
 * the error queue (scpi_measure_double). No judgement of the values. */
int jbert_read_counts(xport *x, const jbert_model *m, int lane, long *cond,
		      double *bits, double *errors, kgd_err *err);

#endif
