/*
 * tests/drv_peer.h - scripted instrument peers for the driver tests: a
 * forked child that speaks one command set over a real transport (a
 * loopback TCP socket or the master side of a pty), line by line, through a
 * responder function the test supplies.
 *
 * Used where the virtual station has no simulator for a class yet, and for
 * replies a simulator never gives (identities of other models, malformed
 * lines). The driver under test talks to it through the real xport.
 *
 * Invariant: every peer is a child process with an alarm() backstop; the
 * test stops it with drv_peer_stop (kill + waitpid), so none outlives the
 * test program.
 */
#ifndef KGD_DRV_PEER_H
#define KGD_DRV_PEER_H

#include <stddef.h>
#include <sys/types.h>

/* What a responder returns. */
#define PEER_REPLY 0    /* send reply followed by LF */
#define PEER_NONE -1    /* this command has no reply */
#define PEER_HANG -2    /* from now on read but never answer (a hung unit) */

/* Called in the child for every line received (terminator stripped). state
 * is the child's copy of what the test passed, so it may keep state. */
typedef int (*drv_peer_fn)(void *state, const char *line, char *reply,
			   size_t cap);

/* Serve TCP clients on 127.0.0.1 one after the other; uri gets
 * "tcp://127.0.0.1:<port>". Returns the child's pid, or -1. */
pid_t drv_peer_tcp(drv_peer_fn fn, void *state, char *uri, size_t cap);

/* Serve the master side of a fresh pty; uri gets
 * "serial:///dev/pts/N?<params>". Returns the child's pid, or -1. */
pid_t drv_peer_pty(drv_peer_fn fn, void *state, const char *params, char *uri,
		   size_t cap);

/* From the next peer started on: append every line it receives (its
 * terminator stripped, one per line) to fd before answering it, so a test
 * can assert the exact program messages a driver sent, compound ones
 * whole. -1 (the default) records nothing. The child inherits fd. */
void drv_peer_record(int fd);

/* Kill and reap a peer; -1 is ignored. */
void drv_peer_stop(pid_t pid);

#endif
