/*
 * station/diag.c - see diag.h.
 */
#include "diag.h"

#include <stdarg.h>
#include <stdio.h>

void diag_init(diag *d, diag_report_fn report, void *user, kgd_err *err)
{
	d->report = report;
	d->user = user;
	d->err = err;
	d->status = KGD_OK;
}

void diag_msg(diag *d, int status, const char *msg)
{
	if (d->report)
		d->report(d->user, msg);
	if (d->status == KGD_OK)
		kgd_err_set(d->err, status, "%s", msg);
	if (d->status == KGD_OK)
		d->status = status;
}

void diag_at(diag *d, const char *file, int line, int column,
	     const char *fmt, ...)
{
	char msg[KGD_ERR_MSG_MAX / 2], text[KGD_ERR_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(text, sizeof(text), "%.200s:%d:%d: %s", file, line, column, msg);
	diag_msg(d, KGD_ERR_PARSE, text);
}
