/*
 * plugins/thorlabs-pm100/protocol.h - command set and model table of the
 * Thorlabs PM100 family of single-channel optical power meters (SCPI; over
 * USBTMC on the real units, usbtmc://1313:<pid>).
 *
 * Invariant: every byte this driver puts on the wire comes from a format
 * string in a command-set table (protocol.c); a model is a row, so a new
 * console of the family is a table row.
 */
#ifndef KGD_PM100_PROTOCOL_H
#define KGD_PM100_PROTOCOL_H

#include <stddef.h>

#include "kgd/drv_std.h"
#include "kgd/scpi.h"

#define PM100_DRIVER "thorlabs-pm100"

/* Commands; the comment gives the printf arguments each format takes. */
enum pm100_cmd {
	PM100_CMD_UNIT_WATT,      /* (none) */
	PM100_CMD_AUTO_RANGE,     /* (none) */
	PM100_CMD_CONF_POWER,     /* (none) */
	PM100_CMD_SET_WAVELENGTH, /* double nm */
	PM100_CMD_SET_AVERAGING,  /* int samples */
	PM100_CMD_MEASURE,        /* (none); reply in W */
	PM100_CMD_COUNT
};

typedef struct pm100_cmdset {
	const char *name;
	const char *fmt[PM100_CMD_COUNT];
	/* Duration of one averaged sample, to turn the ABI's averaging time
	 * into SENS:AVER:COUN (the consoles average by count, not time). */
	double sample_s;
} pm100_cmdset;

typedef struct pm100_model {
	drv_std_model id;       /* *IDN? field 2, exact */
	const pm100_cmdset *cmds;
} pm100_model;

/* The driver and its model table for drv_std_scpi_open (which sends the
 * *CLS): vendor Thorlabs. */
extern const drv_std_info pm100_info;

/* The wire operations; each set command is checked with SYST:ERR?, and
 * errors carry the URI and command text (from the scpi_ helpers). */
/* Watts, auto range, power mode: after it every reading is watts. */
int pm100_power_mode(xport *x, const pm100_model *m, kgd_err *err);
int pm100_set_wavelength(xport *x, const pm100_model *m, double nm, kgd_err *err);
/* Average `samples` samples of cmds->sample_s each per reading. */
int pm100_set_averaging(xport *x, const pm100_model *m, int samples, kgd_err *err);
/* One reading in watts, with the error queue in the same message. */
int pm100_measure(xport *x, const pm100_model *m, double *watts, kgd_err *err);

#endif
