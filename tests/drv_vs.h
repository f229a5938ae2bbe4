/*
 * tests/drv_vs.h - the driver-against-simulator harness shared by the
 * tests/test_drv_vs_*.c suites: dlopen() a real built plugin, start a real
 * kgd-vstation child with the options a test needs, and open the real
 * transport to one of its roles, as the station would.
 *
 * Invariant: every session started here is recorded, and dvs_stop_all()
 * (called from each suite's cleanup) closes its driver handle and transport
 * and stops its kgd-vstation, so a test whose assertion aborted it leaves
 * nothing behind; kgd-vstation also runs with --lifetime-s as a backstop.
 */
#ifndef KGD_DRV_VS_H
#define KGD_DRV_VS_H

#include "kgd/driver.h"
#include "kgd/xport.h"
#include "testutil.h"

#define DVS_MAX_PEERS 2

/* Another role of the same simulator opened with its own driver (e.g. the
 * prober, so the BERT under test sees a die in contact). */
typedef struct dvs_peer {
	const drv_descriptor *drv;
	xport *x;
	void *h;
} dvs_peer;

typedef struct dvs_session {
	tu_vstation vs;
	const drv_descriptor *drv;
	xport *x;          /* the transport the driver uses */
	void *h;           /* the driver handle, once the test opened it */
	char uri[160];     /* the role's URI, for asserting on messages */
	dvs_peer peers[DVS_MAX_PEERS];  /* other roles, closed by dvs_stop */
	int n_peers;
} dvs_session;

/* dlopen the plugin file and look its descriptor up; NULL on failure (with
 * the reason on stderr). Up to 4 plugins stay loaded until dvs_unload(). */
const drv_descriptor *dvs_load(const char *path);
void dvs_unload(void);

/* Start kgd-vstation with args (NULL-terminated, --lifetime-s 60 added
 * first) in a scratch folder of its own, and open role's URI with a
 * timeout_ms transport (drv may be NULL for raw tests). The driver is not
 * opened: s->h stays NULL. Returns the session, or NULL (everything
 * started already stopped). */
dvs_session *dvs_start(const drv_descriptor *drv, const char *role, int timeout_ms,
		       const char *const *args);

/* Start as dvs_start, then drv->open(); NULL unless open returned KGD_OK. */
dvs_session *dvs_open(const drv_descriptor *drv, const char *role, int timeout_ms,
		      const char *const *args);

/* Close the driver handle and transport, stop the simulator. Returns
 * tu_vstation_stop()'s status (0 = clean exit). Safe to call twice. */
int dvs_stop(dvs_session *s);

/* dvs_stop every session still running; for suite cleanups. */
void dvs_stop_all(void);

/* Open another role of s's simulator through drv (a transport of
 * timeout_ms, then drv->open) into *out; dvs_stop() closes it. 0 or -1. */
int dvs_open_role(dvs_session *s, const drv_descriptor *drv, const char *role,
		  int timeout_ms, dvs_peer *out);

/* One line to a role over a transport of its own, one line back (its
 * terminator stripped); for simulator-only queries such as sim:get_bin. */
int dvs_raw(const dvs_session *s, const char *role, const char *line, char *reply,
	    size_t cap);

/* Monotonic seconds. */
double dvs_now(void);

#endif
