/*
 * instruments/status.c - the error context every module reports through.
 * Messages are truncated, never overflowed: a long message keeps its start,
 * which names what failed.
 */
#include "kgd/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void kgd_err_clear(kgd_err *err)
{
	if (!err)
		return;
	err->status = KGD_OK;
	err->msg[0] = '\0';
}

int kgd_err_set(kgd_err *err, int status, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return status;
	err->status = status;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return status;
}

int kgd_err_prefix(kgd_err *err, const char *fmt, ...)
{
	char prefix[KGD_ERR_MSG_MAX];
	size_t plen, olen;
	va_list ap;

	if (!err)
		return KGD_ERR_ARG;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	/* Shift the old message right by the prefix, keeping its start. */
	plen = strlen(prefix);
	olen = strnlen(err->msg, sizeof(err->msg) - 1);
	if (plen > sizeof(err->msg) - 1)
		plen = sizeof(err->msg) - 1;
	if (olen > sizeof(err->msg) - 1 - plen)
		olen = sizeof(err->msg) - 1 - plen;
	memmove(err->msg + plen, err->msg, olen);
	memcpy(err->msg, prefix, plen);
	err->msg[plen + olen] = '\0';
	return err->status;
}

const char *kgd_status_name(int status)
{
	switch (status) {
	case KGD_OK: return "ok";
	case KGD_ERR_ARG: return "bad-argument";
	case KGD_ERR_NOMEM: return "out-of-memory";
	case KGD_ERR_IO: return "io";
	case KGD_ERR_TIMEOUT: return "timeout";
	case KGD_ERR_CLOSED: return "disconnected";
	case KGD_ERR_PROTOCOL: return "protocol";
	case KGD_ERR_INSTRUMENT: return "instrument-error";
	case KGD_ERR_OVERRANGE: return "overrange";
	case KGD_ERR_PARSE: return "parse";
	case KGD_ERR_NOT_FOUND: return "not-found";
	case KGD_ERR_ABI: return "abi";
	case KGD_ERR_DB: return "database";
	case KGD_ERR_UNSUPPORTED: return "unsupported";
	case KGD_ERR_ABORTED: return "aborted";
	}
	return "unknown";
}
