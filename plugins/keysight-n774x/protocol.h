/*
 * plugins/keysight-n774x/protocol.h - the command sets and model table of
 * the Keysight (formerly Agilent) multiport optical power meters.
 *
 * Invariant: every byte this driver puts on the wire comes from a format
 * string in a command-set table (protocol.c). A model is a row naming its
 * command set and port count, so supporting a new model is adding a row,
 * and a command a family lacks is a NULL entry (KGD_ERR_UNSUPPORTED).
 */
#ifndef KGD_N774X_PROTOCOL_H
#define KGD_N774X_PROTOCOL_H

#include <stddef.h>

#include "kgd/drv_std.h"
#include "kgd/scpi.h"

#define N774X_DRIVER "keysight-n774x"
#define N774X_MAX_PORTS 16

/* Commands; the comment gives the printf arguments each format takes. */
enum n774x_cmd {
	N774X_CMD_SET_UNIT_WATT,   /* int port */
	N774X_CMD_SET_WAVELENGTH,  /* int port, double nm */
	N774X_CMD_SET_ATIME,       /* int port, double seconds */
	N774X_CMD_READ_POWER,      /* int port; reply in the unit set above */
	N774X_CMD_READ_ALL,        /* (none); block of float32 LE watts */
	N774X_CMD_COUNT
};

typedef struct n774x_cmdset {
	const char *name;
	const char *fmt[N774X_CMD_COUNT];
} n774x_cmdset;

typedef struct n774x_model {
	drv_std_model id;           /* *IDN? field 2, exact */
	int ports;
	const n774x_cmdset *cmds;
} n774x_model;

/* The driver and its model table for drv_std_scpi_open (which sends the
 * *CLS): Keysight or Agilent as vendor. */
extern const drv_std_info n774x_info;

/* The wire operations. Each takes the model so it uses that family's format;
 * errors carry the URI and command text (from the scpi_ helpers). */
/* Every port of the model to watts, so every reading is watts. */
int n774x_set_unit_watt_all(xport *x, const n774x_model *m, kgd_err *err);
/* Append the set-wavelength command of port to a compound message; -1
 * when it does not fit. */
int n774x_msg_set_wavelength(scpi_msg *msg, const n774x_model *m, int port,
			     double nm);
int n774x_set_wavelength(xport *x, const n774x_model *m, int port, double nm,
			 kgd_err *err);
int n774x_set_atime(xport *x, const n774x_model *m, int port, double seconds,
		    kgd_err *err);
int n774x_read_power(xport *x, const n774x_model *m, int port, double *watts,
		     kgd_err *err);
/* Fills watts[0..*n-1], *n <= max; KGD_ERR_OVERRANGE names the first port
 * without a valid value. */
int n774x_read_all(xport *x, const n774x_model *m, double *watts, int max,
		   int *n, kgd_err *err);

#endif
