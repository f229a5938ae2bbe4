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
 *
 * Every wait (connect, a blocked write, a read, a USB transfer) can also be
 * ended by the station's abort, see xport_set_abort_flag() below.
 *
 * Every write and every read can be traced, one line each, to a sink the
 * station sets (xport_set_trace() below); off, it costs one pointer test
 * per call.
 */
#ifndef KGD_XPORT_H
#define KGD_XPORT_H

#include <signal.h>
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

/* ---- abort -------------------------------------------------------------
 *
 * A station aborts from a signal handler (SIGINT, SIGTERM, SIGHUP, ...),
 * but an instrument read may have a timeout of a minute (a long BER gate),
 * and an abort must be honoured within about a second whatever the
 * timeout. So every transport waits in slices of at most
 * XPORT_ABORT_SLICE_MS and, once the abort flag is set, ends its wait with
 * KGD_ERR_ABORTED, "<uri>: aborted while waiting for a reply" (or "...
 * to send", "connect: aborted"). After that the exchange is abandoned as
 * after a timeout: the next write first drops whatever of the abandoned
 * reply has arrived by then (USBTMC also aborts the bulk transfer).
 *
 * Grace: an open, write or read that began after the abort still waits one
 * slice before the abort ends it. So a quick safe-state exchange that
 * nobody marked as cleanup still completes on a responsive instrument
 * (fail-safe: the lasers still go off), and a retry loop costs at most a
 * slice per attempt. Cleanup must not rely on it - a slow instrument (a
 * prober unloading a wafer) needs xport_abort_suspend() - and, as the
 * grace lets every quick exchange through, a driver that polls (sleeps
 * between quick queries, as while a BER gate runs) must check
 * xport_abort_pending() between polls and return KGD_ERR_ABORTED, or its
 * loop runs to its own end.
 */
#define XPORT_ABORT_SLICE_MS 100

/* The abort flag of the process: while *flag is non-zero (and no
 * xport_abort_suspend() is in force) every wait of every transport ends
 * as described above. NULL (the default) turns aborts off. The transports
 * only ever read *flag - set it from a signal handler and clear it
 * yourself; it must outlive every transport. Process-wide: one flag for all
 * threads and all transports. Thread-safe: the pointer is stored and read
 * atomically, and *flag is only read, so waits on any number of threads
 * may watch it. Set it before the run starts. */
void xport_set_abort_flag(volatile sig_atomic_t *flag);

/* Cleanup in progress: lasers off, outputs off, probes up and the wafer
 * unloaded must still reach their instruments after an abort. Between
 * xport_abort_suspend(1) and xport_abort_suspend(0) the abort flag is
 * ignored and waits run to their timeouts. Calls nest (a counter: each 1
 * is undone by one 0; an unmatched 0 is ignored). Process-wide, an atomic
 * counter: any thread may call it and it holds for waits on every thread,
 * so suspend only where nothing else should be stopping - the part's
 * cleanup runs after its parallel branches have joined. */
void xport_abort_suspend(int on);

/* 1 when the abort flag is set and not suspended: a wait that has lasted a
 * slice would now end with KGD_ERR_ABORTED. For a driver's own poll loops
 * and sleeps. */
int xport_abort_pending(void);

/* ---- trace --------------------------------------------------------------
 *
 * For the engineer chasing a misbehaving instrument: every write and every
 * read of every transport, as one line of text each, handed to a sink.
 *
 *   TIME LABEL URI DIR BYTES
 *
 *   TIME   UTC wall clock with microseconds, 2025-03-14T09:26:53.589793Z
 *          (so a trace lines up with the database's times and with other
 *          machines' logs); a write is stamped when it begins, a read when
 *          it ends, so the two around a query span its round trip.
 *   LABEL  what xport_set_label() gave this transport (the station's role
 *          name), "-" without one.
 *   URI    xport_uri().
 *   DIR    '>' bytes sent (traced before they are sent, so a write that
 *          blocks shows what it was sending), '<' one reply read (a line
 *          with its terminator, or a block of xport_read_n), '!' a write or
 *          read that failed: BYTES is then the status name (kgd_status_name:
 *          timeout, disconnected, aborted, ...), followed by a space and the
 *          bytes of the partial reply when some had arrived.
 *   BYTES  exactly the bytes on the wire, escaped: printable ASCII as is
 *          (space included), backslash as \\, CR LF TAB as \r \n \t, any
 *          other byte as \xNN (two lower-case hex digits). So a line never
 *          holds a control character or a byte >= 0x80, and ends at its
 *          only newline. LABEL and URI are escaped alike, a space too
 *          (\x20), so each stays one field. (Only when memory runs out is
 *          a long line cut, BYTES then ending in a backslash and three
 *          dots.)
 *
 * A line is built whole before the sink sees it, and the sink is called
 * once per line, from the thread doing the I/O: a sink that writes each
 * call with one fwrite (or under one lock) never mixes two transports'
 * lines, whatever threads they run on. Lines of one transport reach the
 * sink in the order of its calls. Opening and closing are not traced; the
 * read-ahead dropped after an abort (see above) is not either. */

/* Called once per traced line: line is len bytes ending in '\n' (also
 * NUL-terminated, not counted in len). */
typedef void (*xport_trace_fn)(void *user, const char *line, size_t len);

/* The trace sink of the process: fn(user, ...) for every write and read of
 * every transport; NULL (the default) turns the trace off, and then it
 * costs one atomic pointer load per call. Process-wide, as the abort flag:
 * set it before transports are used and clear it after the last one is
 * closed - a call already tracing on another thread may still pair the old
 * fn with the new user while it changes. */
void xport_set_trace(xport_trace_fn fn, void *user);

/* The LABEL of x's trace lines (copied; NULL clears it). Set it right
 * after xport_open, before x is used on another thread. KGD_ERR_NOMEM when
 * the copy fails (the label is then unset). */
int xport_set_label(xport *x, const char *label);

/* The label, or "" when none is set. */
const char *xport_label(const xport *x);

#ifdef __cplusplus
}
#endif
#endif
