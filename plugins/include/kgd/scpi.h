/*
 * kgd/scpi.h - SCPI / IEEE 488.2 helpers over any transport (installed).
 *
 * Commands are sent with an LF terminator. Replies are read with
 * xport_read_line. Numeric replies are parsed with the SCPI rules for "no
 * valid value": 9.9E37 (+INF), -9.9E37 (-INF), 9.91E37 (NaN) and anything
 * with magnitude above 1e20 are KGD_ERR_OVERRANGE, never a number.
 *
 * Errors carry the transport URI and the command text, e.g.
 *   "tcp://127.0.0.1:40001: ':READ1:POW?': timeout after 2000 ms"
 */
#ifndef KGD_SCPI_H
#define KGD_SCPI_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include "kgd/status.h"
#include "kgd/xport.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SCPI_REPLY_MAX 4096
/* Largest block scpi_query_block accepts; a bigger length is taken as a
 * corrupt header rather than a reason to allocate gigabytes. */
#define SCPI_BLOCK_MAX (64 * 1024 * 1024)

/* The four fields of an *IDN? reply. */
struct scpi_idn {
	char vendor[64];
	char model[64];
	char serial[64];
	char firmware[64];
};

/* Send one command (printf-style; the transport's terminator, LF unless the
 * URI says term=..., is appended). */
int scpi_write(xport *x, kgd_err *err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Send a query and read one reply line into reply (NUL-terminated);
 * trailing CR and blanks are dropped (CRLF instruments on an LF link). */
int scpi_query(xport *x, char *reply, size_t cap, kgd_err *err,
	       const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Query and parse a single number; KGD_ERR_OVERRANGE for no-valid-value. */
int scpi_query_double(xport *x, double *out, kgd_err *err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* A measurement query whose value can be trusted: sends "<query>;:SYST:ERR?"
 * as one program message and reads both replies from one line
 * ("<value>;<code>,\"<text>\""), so an error the instrument queued while
 * measuring is seen with the value, at no extra round trip. An error in the
 * queue is KGD_ERR_INSTRUMENT (the rest of the queue is drained), never a
 * number; a no-valid-value reply is KGD_ERR_OVERRANGE. */
int scpi_measure_double(xport *x, double *out, kgd_err *err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Drain SYST:ERR? until "0,..." / "+0,...". The first error found is
 * reported verbatim (e.g. -113,"Undefined header") as KGD_ERR_INSTRUMENT,
 * naming the command given in after_cmd (may be NULL). */
int scpi_check_error(xport *x, const char *after_cmd, kgd_err *err);

/* Send a configuration command, then scpi_check_error for it. */
int scpi_command(xport *x, kgd_err *err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* An IEEE 488.2 compound program message: several commands in one line,
 * joined by ';' (each command written with its leading ':' so each is
 * absolute), so an instrument takes a set-up of many ports or lanes in
 * one round trip. scpi_msg_add returns -1, leaving the message as it was,
 * when the command does not fit: send what is there and start again. */
#define SCPI_MSG_MAX 1000
typedef struct scpi_msg {
	char text[SCPI_MSG_MAX];
	size_t len;
	size_t n_cmds;
} scpi_msg;

void scpi_msg_init(scpi_msg *m);
int scpi_msg_add(scpi_msg *m, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* scpi_msg_add with the arguments as a va_list (for a driver's wrapper
 * that takes a command of its table and that command's arguments). */
int scpi_msg_vadd(scpi_msg *m, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));
/* Send the message (nothing when empty) and check the error queue once,
 * as scpi_command; the message is emptied either way. */
int scpi_msg_command(xport *x, scpi_msg *m, kgd_err *err);

/* Query and parse a single integer (NR1, or NR2/NR3 with no fraction). */
int scpi_query_long(xport *x, long *out, kgd_err *err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* *IDN? split into its four fields (each truncated to fit). */
int scpi_idn(xport *x, struct scpi_idn *idn, kgd_err *err);

/* Hand the *IDN? reply a driver cached at open to a caller's buffer (the
 * identify operation of every SCPI driver: identity does not change under
 * us, and asking again could disturb a measurement in flight). KGD_ERR_ARG,
 * naming the URI, when buf is NULL or too small. */
int scpi_copy_idn(xport *x, const char *idn, char *buf, size_t cap,
		  kgd_err *err);

/* Pure: split an *IDN? reply "vendor,model,serial,firmware" into idn.
 * KGD_ERR_PROTOCOL if it has fewer than four fields. */
int scpi_parse_idn(const char *reply, struct scpi_idn *idn, kgd_err *err);

/* Pure: 1 if the *IDN? reply names one of vendors (NULL-terminated) and
 * exactly model, else 0. How a driver picks its row of a model table. */
int scpi_idn_matches(const char *reply, const char *const *vendors,
		     const char *model);

/* *OPC?: wait (up to the transport timeout) until pending operations are
 * complete; KGD_ERR_PROTOCOL unless the reply is 1. */
int scpi_opc(xport *x, kgd_err *err);

/* *RST and *CLS (no reply, no error check: *CLS empties the queue). */
int scpi_rst(xport *x, kgd_err *err);
int scpi_cls(xport *x, kgd_err *err);

/* Pure parsers (no I/O), unit-testable on strings. */

/* Parse an integer reply with the same rules as scpi_parse_double. */
int scpi_parse_long(const char *s, long *out, kgd_err *err);

/* A whole definite-length block in buf: *data points into buf at the
 * payload. KGD_ERR_PROTOCOL if fewer than the announced bytes are present. */
int scpi_parse_block(const char *buf, size_t buf_len, const char **data,
		     size_t *data_len, kgd_err *err);

/* Parse one SCPI <NR1|NR2|NR3> number; surrounding whitespace allowed.
 * KGD_ERR_PROTOCOL if not a number, KGD_ERR_OVERRANGE if no valid value. */
int scpi_parse_double(const char *s, double *out, kgd_err *err);

/* Parse a SYST:ERR? reply into code and message text (quotes removed). */
int scpi_parse_error(const char *s, int *code, char *text, size_t text_cap,
		     kgd_err *err);

/* Parse the header of an IEEE 488.2 definite-length block "#<n><len>" at
 * the start of buf (buf_len bytes available). On success *header_len is the
 * header's size and *data_len the payload's. Indefinite blocks ("#0") are
 * KGD_ERR_UNSUPPORTED. */
int scpi_parse_block_header(const char *buf, size_t buf_len,
			    size_t *header_len, size_t *data_len, kgd_err *err);

/* Query that returns a definite-length block: reads header and exactly the
 * payload plus the trailing LF. *data is malloc'ed; caller frees it. */
int scpi_query_block(xport *x, uint8_t **data, size_t *len, kgd_err *err,
		     const char *fmt, ...) __attribute__((format(printf, 5, 6)));

#ifdef __cplusplus
}
#endif
#endif
