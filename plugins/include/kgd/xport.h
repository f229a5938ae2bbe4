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
 * Every read has a timeout; a timeout or disconnect is reported with the URI
 * in the message. Reads strip the terminator.
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

/* Open the instrument named by uri. On success *out owns the connection;
 * release it with xport_close(). */
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

#ifdef __cplusplus
}
#endif
#endif
