/*
 * station/diag.h - one way to collect "file:line:column: message"
 * problems, for every checker of the station's input files: the sequence
 * and limits loaders (seq.c) and the station lint (lint.c).
 *
 * A checker keeps going after a problem, so `station check` shows every
 * problem at once: each goes to the report callback (may be NULL) as it is
 * found, and the first one also into err with its status.
 */
#ifndef KGD_DIAG_H
#define KGD_DIAG_H

#include "kgd/status.h"

typedef void (*diag_report_fn)(void *user, const char *msg);

typedef struct diag {
	diag_report_fn report;
	void *user;
	kgd_err *err;      /* borrowed, may be NULL: gets the first problem */
	int status;        /* KGD_OK until the first problem */
} diag;

void diag_init(diag *d, diag_report_fn report, void *user, kgd_err *err);
/* A problem at file:line:column (KGD_ERR_PARSE). */
void diag_at(diag *d, const char *file, int line, int column,
	     const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* A problem already formatted, with its own status (a driver that does
 * not load: its message names the config file:line:column). */
void diag_msg(diag *d, int status, const char *msg);

#endif
