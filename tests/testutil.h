/*
 * tests/testutil.h - small helpers shared by the test programs: scratch
 * folders, running a real program with a time limit, and starting and
 * stopping the virtual station (kgd-vstation), and a loopback line peer
 * on a thread for transport and SCPI tests.
 *
 * Invariant: a process these helpers start is always reaped by them (tu_run)
 * or by tu_vstation_stop(); kgd-vstation also gets --lifetime-s as a
 * backstop, so a crashed test program leaves nothing behind for long.
 */
#ifndef KGD_TESTUTIL_H
#define KGD_TESTUTIL_H

#include <pthread.h>
#include <stddef.h>

/* Create a fresh scratch folder under $TMPDIR (or /tmp); returns a static
 * buffer valid until the next call. Aborts the test program on failure. */
const char *tu_mkdtemp(const char *tag);

/* Remove a folder tree made by tu_mkdtemp (best effort). */
void tu_rmtree(const char *path);

/* Run argv[0] with argv, capture stdout and stderr (each truncated to cap-1
 * bytes, NUL-terminated; either buffer may be NULL), kill it after
 * timeout_s seconds. Returns the exit status, 128+signal if it died of a
 * signal, or -1 if it could not be started or was killed on timeout. */
int tu_run(char *const argv[], char *out, size_t out_cap, char *errbuf,
	   size_t err_cap, int timeout_s);

/* Read a whole file into a malloc'ed NUL-terminated buffer, or NULL. */
char *tu_slurp(const char *path, size_t *len);

/* ---- the virtual station ------------------------------------------------ */

#define TU_VSTATION_MAX_ROLES 16

typedef struct tu_vstation_role {
	char name[16];     /* pm, pm100, bert, prober, laser */
	char driver[48];   /* e.g. keysight-n774x */
	char uri[160];     /* e.g. tcp://127.0.0.1:40123 or serial:///dev/pts/5?baud=115200 */
} tu_vstation_role;

typedef struct tu_vstation {
	int pid;                   /* 0 when not running */
	char config[600];          /* the station config it wrote */
	int n_roles;
	tu_vstation_role roles[TU_VSTATION_MAX_ROLES];
} tu_vstation;

/* Path of the kgd-vstation binary of this build. */
#define TU_VSTATION_BIN KGD_BIN_DIR "/kgd-vstation"

/* Start kgd-vstation with --config-out <scratch_dir>/vstation-<n>.yaml,
 * --lifetime-s 120 and extra_args (NULL-terminated, may be NULL; a later
 * --lifetime-s in extra_args wins), wait up to 10 s for the config, and
 * parse every role's driver and URI out of it. stdout of the child goes to
 * /dev/null, stderr is inherited. 0 on success; -1 otherwise, with the child
 * (if any) already stopped. */
int tu_vstation_start(const char *scratch_dir, const char *const *extra_args,
		      tu_vstation *out);

/* The URI of a role, or NULL when the config has no such role. */
const char *tu_vstation_uri(const tu_vstation *vs, const char *role);

/* SIGTERM, wait up to 5 s, then SIGKILL; reap. Returns the exit status
 * (0 = clean shutdown), 128+signal, or -1 if it had to be killed. Safe to
 * call twice or on a tu_vstation that never started. */
int tu_vstation_stop(tu_vstation *vs);

/* ---- a loopback line peer on a thread -------------------------------- */

/* Answer one LF-terminated line (terminator stripped) received on fd;
 * return 0 to drop the connection. */
typedef int (*tu_line_fn)(void *user, int fd, const char *line);

#define TU_PEER_IDLE_MS 3000

typedef struct tu_peer {
	int lfd;
	pthread_t th;
	char uri[64];          /* tcp://127.0.0.1:<port> */
	tu_line_fn answer;
	void *user;
} tu_peer;

/* Listen on 127.0.0.1 (ephemeral port) and serve one client on a thread,
 * line by line through answer. The thread ends when the client closes,
 * answer returns 0, or nothing happens for TU_PEER_IDLE_MS. 0 on success. */
int tu_peer_start(tu_peer *p, tu_line_fn answer, void *user);

/* Wait for the peer's thread and close its socket. */
void tu_peer_join(tu_peer *p);

/* Send all of buf (a peer's reply); a closed client is ignored. */
void tu_send_all(int fd, const void *buf, size_t len);

/* ---- a child running while the test goes on ---------------------------- */

/* Start argv[0] with argv in the background: stdin from /dev/null, stdout
 * and stderr to the files out_path and err_path (created or truncated;
 * NULL: /dev/null). env (NULL-terminated, may be NULL) is applied in the
 * child before exec, in order: "NAME=VALUE" sets NAME, "NAME" unsets it;
 * the test's own environment is left alone. Returns the pid, or -1. The
 * caller must reap it with tu_wait. */
int tu_spawn(char *const argv[], const char *const *env, const char *out_path,
	     const char *err_path);

/* Wait up to timeout_s for a tu_spawn child; on timeout SIGKILL it. Always
 * reaps it. Returns the exit status, 128+signal if it died of a signal, or
 * -1 if it had to be killed on timeout (or pid is not a child). */
int tu_wait(int pid, double timeout_s);

#endif
