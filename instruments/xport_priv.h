/*
 * instruments/xport_priv.h - what the generic transport layer (xport.c) and
 * the per-scheme backends (xport_tcp.c, xport_serial.c, xport_usbtmc.c)
 * share. Not installed: drivers only ever see kgd/xport.h.
 *
 * Invariant: a backend only moves raw bytes. Terminators, buffering of
 * leftover bytes, deadlines and the wording of timeout messages live in
 * xport.c, so every scheme behaves identically above the wire. Every wait
 * a backend makes is at most XPORT_ABORT_SLICE_MS long and is followed by
 * an xport_abort_due() check, so the station's abort ends it in bounded
 * time whatever the instrument's timeout.
 */
#ifndef KGD_XPORT_PRIV_H
#define KGD_XPORT_PRIV_H

#include <stddef.h>
#include <stdint.h>

#include "kgd/xport.h"

/* Bytes read ahead of the caller; anything after a terminator stays here
 * for the next read. */
#define XPORT_RBUF_SIZE 4096
#define XPORT_MAX_PARAMS 16

/* One key=value from the URI's query string. */
struct xport_param {
	char key[32];
	char value[96];
};

/* A URI split into its parts; filled by xport_uri_split(). */
struct xport_uri {
	char scheme[16];
	char rest[256];            /* between "://" and "?" */
	struct xport_param params[XPORT_MAX_PARAMS];
	size_t nparams;
};

/* The table one scheme provides. All functions report errors with the URI
 * in the message, except read_some's KGD_ERR_TIMEOUT, which xport.c words
 * (it knows whether part of a reply had arrived). */
struct xport_ops {
	const char *scheme;
	/* Query keys the scheme accepts (NULL-terminated); anything else in the
	 * URI is rejected before open so a typo never goes unnoticed. */
	const char *const *params;
	int (*open)(xport *x, const struct xport_uri *u, kgd_err *err);
	int (*write)(xport *x, const uint8_t *buf, size_t len, int timeout_ms,
		     kgd_err *err);
	/* Wait up to timeout_ms for at least one byte; *got > 0 on KGD_OK.
	 * KGD_ERR_ABORTED (worded, see xport_abort_error) when the station's
	 * abort ended the wait. A timeout_ms of 0 only takes what has already
	 * arrived. */
	int (*read_some)(xport *x, uint8_t *buf, size_t cap, size_t *got,
			 int timeout_ms, kgd_err *err);
	/* Device clear (USBTMC INITIATE_CLEAR); NULL when the wire has none. */
	int (*clear)(xport *x, kgd_err *err);
	void (*close)(xport *x);
};

struct xport {
	const struct xport_ops *ops;
	void *impl;                /* owned by the backend, freed in close */
	char *uri;                 /* owned */
	int timeout_ms;
	char term[3];              /* "\n", "\r\n" or "\r" */
	size_t term_len;
	uint8_t rbuf[XPORT_RBUF_SIZE];
	size_t rpos, rlen;         /* unread bytes are rbuf[rpos..rlen) */
	int64_t op_start_ms;       /* when the open, write or read in progress
	                              began: the abort's grace is measured
	                              from it (see kgd/xport.h) */
	int abandoned;             /* an abort cut a read short: its reply may
	                              still come, drop it before the next write */
	char *label;               /* owned; the trace's LABEL, NULL: none */
};

extern const struct xport_ops xport_tcp_ops;
extern const struct xport_ops xport_serial_ops;
extern const struct xport_ops xport_usbtmc_ops;

/* The value of key in u, or NULL. */
const char *xport_uri_param(const struct xport_uri *u, const char *key);

/* Parse a decimal integer in [lo, hi] with no trailing junk. */
int xport_parse_long(const char *s, long lo, long hi, long *out);

/* Monotonic milliseconds, for deadlines. */
int64_t xport_now_ms(void);

/* ---- abortable waits (see "abort" in kgd/xport.h) ---- */

/* 1 when the station's abort should end x's current wait now: the flag is
 * set, not suspended, and the operation has lasted a slice. */
int xport_abort_due(const xport *x);

/* KGD_ERR_ABORTED with "<uri>: aborted while <what>". */
int xport_abort_error(const xport *x, const char *what, kgd_err *err);

/* The next wait towards deadline: at most one slice, never negative. */
int xport_slice_ms(int64_t deadline);

/* Wait until fd has events or deadline passes, in slices, checking the
 * abort after each. KGD_OK when ready; KGD_ERR_TIMEOUT without a message
 * (the caller words it); KGD_ERR_ABORTED ("aborted while <what>") or
 * KGD_ERR_IO with one. */
int xport_wait_fd(const xport *x, int fd, short events, int64_t deadline,
		  const char *what, kgd_err *err);

#endif
