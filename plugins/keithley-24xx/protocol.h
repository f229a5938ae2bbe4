/*
 * plugins/keithley-24xx/protocol.h - command sets and model table of the
 * Keithley 2400-series SourceMeters (2400 family: the 2400's SCPI; 2450
 * family: the Touchscreen SMUs' SCPI mode), over any transport (GPIB,
 * RS-232, LAN raw socket 5025 on the 2450).
 *
 * Invariant: every byte this driver puts on the wire comes from a format
 * string of a command-set table (protocol.c); a model is a row, so a new
 * SourceMeter of either family is a table row.
 */
#ifndef KGD_K24_PROTOCOL_H
#define KGD_K24_PROTOCOL_H

#include <stddef.h>

#include "kgd/drv_std.h"
#include "kgd/scpi.h"

#define K24_DRIVER "keithley-24xx"

/* Commands; the comment gives the printf arguments each format takes. */
enum k24_cmd {
	K24_CMD_SETUP,        /* (none); NULL: nothing to set up */
	K24_CMD_SOURCE_CURR,  /* double amps, double volt limit */
	K24_CMD_SOURCE_VOLT,  /* double volts, double amp limit */
	K24_CMD_OUTPUT_ON,    /* (none) */
	K24_CMD_OUTPUT_OFF,   /* (none) */
	K24_CMD_READ,         /* (none); reply: two numbers, see k24_reply */
	/* A staircase sweep: double start, double stop, int points, double
	 * limit, int points (the trigger count); then the output on, the
	 * read (int points; reply: 2 x points numbers, pairs as k24_reply),
	 * the output off and the end (none; NULL: nothing to restore). */
	K24_CMD_SWEEP_CURR,
	K24_CMD_SWEEP_VOLT,
	K24_CMD_SWEEP_READ,
	K24_CMD_SWEEP_END,
	K24_CMD_COUNT
};

/* What the two numbers of a READ reply are. */
enum k24_reply {
	K24_REPLY_VOLT_CURR,  /* 2400 with :FORM:ELEM VOLT,CURR */
	K24_REPLY_SOUR_READ,  /* 2450 :READ? "defbuffer1",SOUR,READ: the
	                         sourced value, then the measured one */
};

typedef struct k24_cmdset {
	const char *name;
	const char *fmt[K24_CMD_COUNT];
	enum k24_reply reply;
} k24_cmdset;

typedef struct k24_model {
	drv_std_model id;       /* *IDN? field 2, exact ("MODEL 2400") */
	const k24_cmdset *cmds;
	double v_max, i_max;    /* source ranges: a level or limit beyond is
	                           refused before it reaches the wire */
} k24_model;

extern const drv_std_info k24_info;

/* The wire operations; each set command is checked with SYST:ERR?, and
 * errors carry the URI and command text (from the scpi_ helpers). */
int k24_setup(xport *x, const k24_model *m, kgd_err *err);
int k24_source(xport *x, const k24_model *m, int current, double level,
	       double limit, kgd_err *err);
int k24_output(xport *x, const k24_model *m, int on, kgd_err *err);
/* One reading: voltage and current, whichever is sourced (current = 1:
 * current sourced, voltage measured). */
int k24_read(xport *x, const k24_model *m, int current, double *volts,
	     double *amps, kgd_err *err);
/* A staircase sweep of n points (current = 1: amps from start to stop,
 * voltage limit; 0: volts, current limit), read in one trigger into
 * volts[n], amps[n]; leaves the output off and the source in fixed mode. */
int k24_sweep(xport *x, const k24_model *m, int current, double start, double stop,
	      size_t n, double limit, double *volts, double *amps, kgd_err *err);

#endif
