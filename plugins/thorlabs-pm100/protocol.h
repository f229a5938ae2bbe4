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

#include "kgd/scpi.h"

/* Commands; the comment gives the printf arguments each format takes. */
enum pm100_cmd {
	PM100_CMD_CLEAR_STATUS,   /* (none) */
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
	const char *model;      /* *IDN? field 2, exact */
	const pm100_cmdset *cmds;
} pm100_model;

const pm100_model *pm100_match_idn(const char *idn);
const char *pm100_known_models(void);
const char *pm100_fmt(const pm100_model *m, enum pm100_cmd c);

#endif
