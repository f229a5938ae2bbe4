/*
 * kgd/status.h - the one error idiom of the station (installed for plugin writers).
 *
 * Every fallible function returns an int: KGD_OK (0) or a negative kgd_status.
 * A human-readable message goes into a kgd_err the caller passes in; library
 * code never prints. Only station/ prints, and it prints err->msg verbatim, so
 * a message must name what failed: file:line:column for input files, the
 * instrument URI and command for instrument traffic.
 *
 * A NULL kgd_err is allowed everywhere: the status is still returned, the
 * message is dropped.
 */
#ifndef KGD_STATUS_H
#define KGD_STATUS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

enum kgd_status {
	KGD_OK = 0,
	KGD_ERR_ARG = -1,         /* caller passed something invalid */
	KGD_ERR_NOMEM = -2,
	KGD_ERR_IO = -3,          /* OS-level read/write/open failure */
	KGD_ERR_TIMEOUT = -4,     /* instrument did not answer in time */
	KGD_ERR_CLOSED = -5,      /* peer closed the connection */
	KGD_ERR_PROTOCOL = -6,    /* malformed or unexpected instrument reply */
	KGD_ERR_INSTRUMENT = -7,  /* instrument reported an error (SYST:ERR?, status code) */
	KGD_ERR_OVERRANGE = -8,   /* instrument returned "no valid value" (9.9E37, NaN) */
	KGD_ERR_PARSE = -9,       /* malformed input file (sequence, config, limits) */
	KGD_ERR_NOT_FOUND = -10,  /* file, plugin, device or record does not exist */
	KGD_ERR_ABI = -11,        /* plugin ABI mismatch or incomplete descriptor */
	KGD_ERR_DB = -12,         /* SQLite reported an error */
	KGD_ERR_UNSUPPORTED = -13,/* operation not provided by this driver/transport */
	KGD_ERR_ABORTED = -14,    /* operator or signal aborted the operation */
};

#define KGD_ERR_MSG_MAX 512

typedef struct kgd_err {
	int status;                 /* last status set, KGD_OK if none */
	char msg[KGD_ERR_MSG_MAX];  /* one line, no trailing newline */
} kgd_err;

/* Reset to KGD_OK with an empty message. */
void kgd_err_clear(kgd_err *err);

/* Record status and a printf-style message; returns status so callers can
 * write `return kgd_err_set(err, KGD_ERR_IO, "...")`. */
int kgd_err_set(kgd_err *err, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Put context in front of the message already recorded ("tcp://...: " +
 * old message); returns the recorded status. Use when passing an error up
 * through a layer that knows more about where it happened. With err NULL
 * there is no recorded status to return (KGD_ERR_ARG comes back), so a
 * caller returns its own status: `kgd_err_prefix(err, ...); return rc;`,
 * never `return kgd_err_prefix(err, ...)`. */
int kgd_err_prefix(kgd_err *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Short stable name of a status ("timeout", "io", ...), for logs and DB. */
const char *kgd_status_name(int status);

#ifdef __cplusplus
}
#endif
#endif
