/*
 * tests/drv_vs.c - see drv_vs.h.
 */
#include "drv_vs.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define DVS_MAX 12

static dvs_session sessions[DVS_MAX];
static int n_sessions;
static char scratch[512];
static void *dls[4];
static int n_dls;

const drv_descriptor *dvs_load(const char *path)
{
	const drv_descriptor *d;
	void *dl;

	if (n_dls == 4)
		return NULL;
	dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!dl) {
		fprintf(stderr, "dlopen %s: %s\n", path, dlerror());
		return NULL;
	}
	dls[n_dls++] = dl;
	d = dlsym(dl, KGD_DRIVER_SYMBOL);
	if (!d)
		fprintf(stderr, "%s: no %s symbol\n", path, KGD_DRIVER_SYMBOL);
	return d;
}

void dvs_unload(void)
{
	while (n_dls > 0)
		dlclose(dls[--n_dls]);
}

dvs_session *dvs_start(const drv_descriptor *drv, const char *role, int timeout_ms,
		       const char *const *args)
{
	const char *argv[40];
	dvs_session *s;
	kgd_err err;
	int n = 0;

	if (n_sessions == DVS_MAX)
		return NULL;
	if (!scratch[0])
		snprintf(scratch, sizeof(scratch), "%s", tu_mkdtemp("drv-vs"));
	s = &sessions[n_sessions];
	memset(s, 0, sizeof(*s));
	s->drv = drv;
	argv[n++] = "--lifetime-s";
	argv[n++] = "60";
	for (; args && *args && n < 39; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	if (tu_vstation_start(scratch, argv, &s->vs) != 0)
		return NULL;
	n_sessions++;
	if (!tu_vstation_uri(&s->vs, role)) {
		fprintf(stderr, "kgd-vstation has no role '%s'\n", role);
		dvs_stop(s);
		return NULL;
	}
	snprintf(s->uri, sizeof(s->uri), "%s", tu_vstation_uri(&s->vs, role));
	if (xport_open(s->uri, timeout_ms, &s->x, &err) != KGD_OK) {
		fprintf(stderr, "%s\n", err.msg);
		dvs_stop(s);
		return NULL;
	}
	return s;
}

dvs_session *dvs_open(const drv_descriptor *drv, const char *role, int timeout_ms,
		      const char *const *args)
{
	dvs_session *s = dvs_start(drv, role, timeout_ms, args);
	kgd_err err;

	if (!s)
		return NULL;
	if (drv->open(s->x, &s->h, &err) != KGD_OK) {
		fprintf(stderr, "%s: open: %s\n", drv->name, err.msg);
		s->h = NULL;
		dvs_stop(s);
		return NULL;
	}
	return s;
}

int dvs_stop(dvs_session *s)
{
	for (int i = 0; i < s->n_peers; i++) {
		s->peers[i].drv->close(s->peers[i].h);
		xport_close(s->peers[i].x);
	}
	s->n_peers = 0;
	if (s->h)
		s->drv->close(s->h);
	s->h = NULL;
	xport_close(s->x);
	s->x = NULL;
	return tu_vstation_stop(&s->vs);
}

void dvs_stop_all(void)
{
	for (int i = 0; i < n_sessions; i++)
		dvs_stop(&sessions[i]);
	n_sessions = 0;
	if (scratch[0])
		tu_rmtree(scratch);
	scratch[0] = '\0';
}

int dvs_open_role(dvs_session *s, const drv_descriptor *drv, const char *role,
		  int timeout_ms, dvs_peer *out)
{
	const char *uri = tu_vstation_uri(&s->vs, role);
	kgd_err err;

	memset(out, 0, sizeof(*out));
	out->drv = drv;
	if (!uri || s->n_peers == DVS_MAX_PEERS)
		return -1;
	if (xport_open(uri, timeout_ms, &out->x, &err) != KGD_OK
	    || drv->open(out->x, &out->h, &err) != KGD_OK) {
		fprintf(stderr, "%s: %s\n", role, err.msg);
		xport_close(out->x);
		memset(out, 0, sizeof(*out));
		return -1;
	}
	s->peers[s->n_peers++] = *out;
	return 0;
}

int dvs_raw(const dvs_session *s, const char *role, const char *line, char *reply,
	    size_t cap)
{
	const char *uri = tu_vstation_uri(&s->vs, role);
	xport *x = NULL;
	size_t len = 0;
	kgd_err err;
	int rc;

	if (!uri)
		return KGD_ERR_ARG;
	rc = xport_open(uri, 2000, &x, &err);
	if (rc == KGD_OK)
		rc = xport_write_line(x, line, &err);
	if (rc == KGD_OK)
		rc = xport_read_line(x, reply, cap, &len, &err);
	while (rc == KGD_OK && len && (reply[len - 1] == '\r' || reply[len - 1] == '\n'))
		reply[--len] = '\0';
	xport_close(x);
	return rc;
}

double dvs_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
