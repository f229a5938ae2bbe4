/*
 * instruments/sim/scpi_core.h - the SCPI machinery every simulated SCPI
 * instrument shares: header matching against a table of patterns, the
 * error queue, ';'-joined replies, and the commands every instrument of the
 * virtual station answers alike (*CLS, *OPC?, SYST:ERR?, :SIMulate:DUT).
 *
 * Invariant: sim_scpi_execute() turns one program message (one line without
 * its LF) into exactly the bytes the instrument sends back, and every
 * command it cannot honour leaves an entry in the error queue instead, as a
 * real instrument does. No I/O here.
 *
 * Patterns are written as programming guides write them: upper case = short
 * form, the whole word = long form, '#' = numeric suffix, [..] = optional.
 */
#ifndef KGD_SIM_SCPI_CORE_H
#define KGD_SIM_SCPI_CORE_H

#include <stddef.h>
#include <stdint.h>

#define SIM_SCPI_MAX_NODES 8
#define SIM_SCPI_ERRQ_MAX 30

/* A growable byte buffer for replies (binary-safe). */
typedef struct sim_buf {
	uint8_t *data;
	size_t len, cap;
} sim_buf;

/* Append n bytes; 0 or -1 when out of memory. */
int sim_buf_add(sim_buf *b, const void *p, size_t n);
void sim_buf_free(sim_buf *b);

/* Faults the socket loop switched on for this command (see vstation). */
typedef struct sim_fx {
	int garbage;    /* measurement replies are not numbers */
	int overrange;  /* power readings are the overrange value */
	int error;      /* queue / answer one instrument error now */
} sim_fx;

struct sim_station;

typedef struct sim_scpi {
	struct sim_station *st;  /* shared part-under-test state (borrowed) */
	void *inst;              /* the instrument behind the table */
	struct { int code; const char *text; } errq[SIM_SCPI_ERRQ_MAX];
	int nerr;
	int oom;                 /* an append failed during this message */
	const sim_fx *fx;        /* faults of the message being executed */
} sim_scpi;

/* What a handler gets: parameters and the numeric suffix of every '#' node
 * in pattern order (1 where the node or its suffix was omitted). */
typedef struct sim_scpi_call {
	sim_scpi *s;
	void *inst;
	const char *params;
	int suffix[SIM_SCPI_MAX_NODES];
} sim_scpi_call;

typedef void (*sim_scpi_fn)(const sim_scpi_call *c, sim_buf *out);

typedef struct sim_scpi_cmd {
	const char *pattern;
	sim_scpi_fn set;    /* NULL: no set form */
	sim_scpi_fn query;  /* NULL: no query form */
} sim_scpi_cmd;

/* Execute one message against table (then the common commands). 0, or -1
 * when out of memory. */
int sim_scpi_execute(sim_scpi *s, const sim_scpi_cmd *table, size_t n,
		     const char *line, const sim_fx *fx, sim_buf *out);

void sim_scpi_error(sim_scpi *s, int code, const char *text);
void sim_scpi_reply(sim_scpi *s, sim_buf *out, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* "#<n><len>" + data; the message's LF follows. */
void sim_scpi_block(sim_scpi *s, const uint8_t *data, size_t len, sim_buf *out);

#define SIM_ERR_UNDEFINED_HEADER(s) sim_scpi_error(s, -113, "Undefined header")
#define SIM_ERR_SUFFIX(s) sim_scpi_error(s, -114, "Header suffix out of range")
#define SIM_ERR_MISSING(s) sim_scpi_error(s, -109, "Missing parameter")
#define SIM_ERR_ILLEGAL(s) sim_scpi_error(s, -224, "Illegal parameter value")
#define SIM_ERR_RANGE(s) sim_scpi_error(s, -222, "Data out of range")
#define SIM_ERR_CONFLICT(s) sim_scpi_error(s, -221, "Settings conflict")

struct sim_unit_suffix {
	const char *name;
	double mult;
};

/* "<number>[<unit>]"; with no unit the base unit applies. Queues the error
 * and returns -1 on failure. units may be NULL (plain number). */
int sim_scpi_number(sim_scpi *s, const char *p, const struct sim_unit_suffix *units,
		    double *out);
/* 0|1|OFF|ON; -1 with the error queued otherwise. */
int sim_scpi_bool(sim_scpi *s, const char *p, int *out);

#endif
