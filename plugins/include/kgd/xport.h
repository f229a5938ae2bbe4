/*
 * kgd/xport.h - instrument transports behind one interface (installed).
 *
 * A transport moves bytes to and from one instrument; it knows nothing of
 * drivers or command sets. It is opened from a URI, the one string a station
 * config holds per instrument:
 *
 *   tcp://127.0.0.1:5025                     raw SCPI socket
 *   serial:///dev/ttyUSB0?baud=115200&parity=none&stop=1&term=lf
 *                                            libserialport for real ports,
 *                                            POSIX termios for pseudo-terminals
 *   usbtmc://1313:8078[/SERIAL]              USBTMC bulk framing over libusb
 *
 * Query parameters common to every scheme: term=lf|crlf|cr (default lf),
 * the terminator xport_read_line strips and xport_write_line appends.
 * serial:// also takes baud, bits (5-8), parity (none|odd|even|mark|space),
 * stop (1|2), flow (none|rtscts|xonxoff). An unknown parameter is an error.
 *
 * Every read has a timeout; a timeout or disconnect is reported with the URI
 * in the message. Reads strip the terminator. Bytes received after a
 * terminator are kept for the next read.
 */
#ifndef KGD_XPORT_H
#define KGD_XPORT_H

#include <stddef.h>
#include "kgd/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct xport xport;

#define XPORT_DEFAULT_TIMEOUT_MS 2000

/* Open the instrument named by uri. timeout_ms bounds the connect and every
 * later read or write (<= 0 means XPORT_DEFAULT_TIMEOUT_MS). On success *out
 * owns the connection; release it with xport_close(). A malformed URI or an
 * unknown parameter fails before any device is touched (KGD_ERR_ARG). */
int xport_open(const char *uri, int timeout_ms, xport **out, kgd_err *err);

/* Close and free; NULL is allowed. */
void xport_close(xport *x);

/* The URI the transport was opened with (owned by x). */
const char *xport_uri(const xport *x);

/* Change the read timeout (milliseconds, > 0). */
void xport_set_timeout(xport *x, int timeout_ms);
int xport_timeout(const xport *x);

/* Write all of buf. */
int xport_write(xport *x, const void *buf, size_t len, kgd_err *err);

/* Read one reply up to the terminator (stripped) into buf (NUL-terminated).
 * *len receives the reply length without the terminator. A reply longer than
 * cap-1 is a KGD_ERR_PROTOCOL error. */
int xport_read_line(xport *x, char *buf, size_t cap, size_t *len, kgd_err *err);

/* Read exactly n bytes (for binary blocks). */
int xport_read_n(xport *x, void *buf, size_t n, kgd_err *err);

/* The terminator chosen by the URI's term= ("\n" unless told), owned by x. */
const char *xport_terminator(const xport *x);

/* Write line followed by the transport's terminator, as one write. */
int xport_write_line(xport *x, const char *line, kgd_err *err);

/* Abandon the exchange in flight: drop read-ahead bytes and, on USBTMC,
 * run INITIATE_CLEAR / CHECK_CLEAR_STATUS (device clear). */
int xport_clear(xport *x, kgd_err *err);

#ifdef __cplusplus
}
#endif
#endif
