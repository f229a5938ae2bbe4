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

#include <stdarg.h>
#include <stddef.h>

#include "kgd/scpi.h"

#define JBERT_SYNC_LOSS_BIT 0x400  /* STAT:QUES<n>:COND? */
#define JBERT_MAX_LANES 16         /* the most lanes a model row may have */

/* Commands; the comment gives the printf arguments each format takes. */
enum jbert_cmd {
	JBERT_CMD_CLEAR_STATUS,  /* (none) */
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
	JBERT_CMD_SEPARATOR,     /* (none); joins the commands of one program
				    message (IEEE 488.2 compound message) */
	JBERT_CMD_COUNT
};

typedef struct jbert_cmdset {
	const char *name;
	const char *fmt[JBERT_CMD_COUNT];
} jbert_cmdset;

typedef struct jbert_model {
	const char *model;      /* *IDN? field 2, exact */
	int lanes;
	const jbert_cmdset *cmds;
} jbert_model;

/* The ABI's pattern names to the instrument's parameter. NULL if unknown. */
const char *jbert_pattern(const char *abi_name);

const jbert_model *jbert_match_idn(const char *idn);
const char *jbert_known_models(void);

/* The format of command c for model m (never NULL for a listed command). */
const char *jbert_fmt(const jbert_model *m, enum jbert_cmd c);

/* One program message of several commands, built from the table: the
 * instrument parses a message as one unit, so gates one message starts
 * start together, and settings for many lanes cost one round trip. The
 * cap keeps a message under the 1024-byte command limit of kgd/scpi.h's
 * helpers (scpi.c), which send it. */
#define JBERT_MSG_MAX 960
typedef struct jbert_msg {
	const jbert_model *model;
	char text[JBERT_MSG_MAX];
	size_t len;
	int n_cmds;
} jbert_msg;

void jbert_msg_init(jbert_msg *msg, const jbert_model *m);
/* Append command c (its printf arguments as listed in enum jbert_cmd),
 * after the separator if the message holds a command already. 0, or -1
 * with the message unchanged when it would not fit. */
int jbert_msg_add(jbert_msg *msg, enum jbert_cmd c, ...);
int jbert_msg_vadd(jbert_msg *msg, enum jbert_cmd c, va_list ap);

#endif
