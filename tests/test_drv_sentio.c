/*
 * tests/test_drv_sentio.c - the mpi-sentio prober plugin, dlopen()ed from
 * the build's plugins/ folder and driven through its descriptor over a real
 * tcp:// transport to a scripted SENTIO peer (drv_peer.c) that keeps a
 * route, the chuck state and the cmdId counter as the contract in
 * docs/INSTRUMENTS.md describes them.
 *
 * Invariant: every peer is stopped (killed and reaped) by the test that
 * started it, before its assertions can abort the test.
 */
#include <CUnit/CUnit.h>
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drv_peer.h"
#include "kgd/driver.h"
#include "kgd/xport.h"

#define PLUGIN KGD_PLUGIN_BUILD_DIR "/mpi-sentio.so"
#define EOR (1 << 10)  /* EndOfRoute in the reply code */

static void *dl;
static const drv_descriptor *drv;

/* The scripted prober: a 3-die route unless n_dies says otherwise. */
struct prober {
	int remote;          /* *RCS 1 seen first */
	long id;
	int n_dies, idx;     /* idx: position in the route, -1 before first */
	int loaded, contact;
	int hang_after;      /* answer this many commands, then hang (0 = never) */
	int count;
	int garbage_step;    /* answer step_next with a non-die message */
	int no_idn;          /* answer *IDN? with an error, as older SENTIO */
	int geom_full;       /* answer map:get_grid_params / get_orient_marker
	                        (else: unknown command, as an older release) */
	int geom_bad;        /* map:get_index_size answers one number */
};

static const int route[3][2] = {{3, 4}, {4, 4}, {5, 4}};

static int reply_with(struct prober *p, char *reply, size_t cap, int code,
		      const char *msg)
{
	snprintf(reply, cap, "%d,%ld,%s", code, ++p->id, msg);
	return PEER_REPLY;
}

static int die_reply(struct prober *p, char *reply, size_t cap)
{
	char msg[64];

	snprintf(msg, sizeof(msg), "%d,%d,0", route[p->idx][0], route[p->idx][1]);
	return reply_with(p, reply, cap, 0, msg);
}

static int prober_respond(void *state, const char *line, char *reply, size_t cap)
{
	struct prober *p = state;
	int c, r, s, bin;

	if (strcmp(line, "*RCS 1") == 0) {
		p->remote = 1;
		return PEER_NONE;
	}
	if (p->hang_after && ++p->count > p->hang_after)
		return PEER_HANG;
	if (!p->remote)
		return reply_with(p, reply, cap, 2, "not in remote mode");
	if (strcmp(line, "*IDN?") == 0)
		return p->no_idn ? reply_with(p, reply, cap, 1, "unknown command")
				 : reply_with(p, reply, cap, 0,
					      "MPI Corporation,SENTIO,12345,3.6.2");
	if (sscanf(line, "loader:load_wafer %d", &s) == 1) {
		p->loaded = 1;
		p->idx = -1;
		return reply_with(p, reply, cap, 0, "LOT1-W03");
	}
	if (strcmp(line, "loader:unload_wafer") == 0) {
		p->loaded = 0;
		return reply_with(p, reply, cap, 0, "");
	}
	/* The map's geometry (ABI 1.4 map_geometry), in SENTIO's formats;
	 * the map is the recipe's, known without a wafer. */
	if (strcmp(line, "map:get_diameter") == 0)
		return reply_with(p, reply, cap, 0, "200");
	if (strcmp(line, "map:get_index_size") == 0)
		return reply_with(p, reply, cap, 0, p->geom_bad ? "5000.0"
							       : "5000.0,4000.0");
	if (strcmp(line, "map:get_num_cols") == 0)
		return reply_with(p, reply, cap, 0, "38");
	if (strcmp(line, "map:get_num_rows") == 0)
		return reply_with(p, reply, cap, 0, "48");
	if (p->geom_full && strcmp(line, "map:get_grid_params") == 0)
		return reply_with(p, reply, cap, 0, "5000,4000,2500,2000,3000");
	if (p->geom_full && strcmp(line, "map:get_orient_marker") == 0)
		return reply_with(p, reply, cap, 0, "Notch,-90.0,600.0");
	if (!p->loaded)
		return reply_with(p, reply, cap, 4, "no wafer loaded");
	if (strcmp(line, "vis:align_wafer") == 0)
		return reply_with(p, reply, cap, 0, "");
	if (strcmp(line, "map:step_first_die") == 0) {
		if (p->n_dies == 0)
			return reply_with(p, reply, cap, EOR, "");
		p->idx = 0;
		return die_reply(p, reply, cap);
	}
	if (strcmp(line, "map:step_next_die") == 0) {
		if (p->garbage_step)
			return reply_with(p, reply, cap, 0, "over there");
		if (p->idx + 1 >= p->n_dies)
			return reply_with(p, reply, cap, EOR, "");
		p->idx++;
		return die_reply(p, reply, cap);
	}
	if (sscanf(line, "map:step_die %d,%d,%d", &c, &r, &s) == 3) {
		for (int i = 0; i < p->n_dies; i++)
			if (route[i][0] == c && route[i][1] == r) {
				p->idx = i;
				return die_reply(p, reply, cap);
			}
		return reply_with(p, reply, cap, 5, "die outside the map");
	}
	if (strcmp(line, "map:die:get_current_index") == 0) {
		char msg[32];

		if (p->idx < 0)
			return reply_with(p, reply, cap, 6, "not at a die");
		snprintf(msg, sizeof(msg), "%d,%d", route[p->idx][0], route[p->idx][1]);
		return reply_with(p, reply, cap, 0, msg);
	}
	if (strcmp(line, "map:get_num_dies") == 0) {
		char msg[16];

		snprintf(msg, sizeof(msg), "%d", p->n_dies);
		return reply_with(p, reply, cap, 0, msg);
	}
	if (strcmp(line, "move_chuck_contact") == 0) {
		if (p->idx < 0)
			return reply_with(p, reply, cap, 6, "contact while not at a die");
		p->contact = 1;
		return reply_with(p, reply, cap, 0, "");
	}
	if (strcmp(line, "move_chuck_separation") == 0) {
		p->contact = 0;
		return reply_with(p, reply, cap, 0, "");
	}
	if (sscanf(line, "map:bins:set_bin %d,%d,%d", &bin, &c, &r) == 3)
		return reply_with(p, reply, cap, 0, "");
	return reply_with(p, reply, cap, 1, "unknown command");
}

/* A peer with the given script, a transport to it and an open handle. */
struct rig {
	pid_t pid;
	char uri[64];
	xport *x;
	void *h;
};

static int rig_up(struct rig *g, struct prober *p, int timeout_ms)
{
	kgd_err err;

	memset(g, 0, sizeof(*g));
	g->pid = drv_peer_tcp(prober_respond, p, g->uri, sizeof(g->uri));
	if (g->pid < 0 || xport_open(g->uri, timeout_ms, &g->x, &err))
		return -1;
	return drv->open(g->x, &g->h, &err);
}

static void rig_down(struct rig *g)
{
	if (g->h)
		drv->close(g->h);
	xport_close(g->x);
	drv_peer_stop(g->pid);
}

static int suite_init(void)
{
	dl = dlopen(PLUGIN, RTLD_NOW | RTLD_LOCAL);
	if (!dl) {
		fprintf(stderr, "dlopen %s: %s\n", PLUGIN, dlerror());
		return -1;
	}
	drv = dlsym(dl, KGD_DRIVER_SYMBOL);
	return drv ? 0 : -1;
}

static int suite_cleanup(void)
{
	if (dl)
		dlclose(dl);
	return 0;
}

static void test_descriptor(void)
{
	CU_ASSERT_EQUAL(drv->abi_major, DRV_ABI_MAJOR);
	CU_ASSERT_EQUAL(drv->klass, DRV_CLASS_PROBER);
	CU_ASSERT_STRING_EQUAL(drv->name, "mpi-sentio");
	CU_ASSERT_PTR_NOT_NULL_FATAL(drv->prober);
	CU_ASSERT_PTR_NOT_NULL(drv->prober->current_die);
	CU_ASSERT_PTR_NOT_NULL(drv->prober->die_count);
	CU_ASSERT_PTR_NULL(drv->pm);
	CU_ASSERT_PTR_NULL(drv->bert);
	CU_ASSERT_PTR_NULL(drv->laser);
}

static void test_every_operation(void)
{
	struct prober p = {.n_dies = 3};
	const drv_prober_ops *o = drv->prober;
	char id[64], idn[128];
	drv_die d = {0, 0};
	struct rig g;
	int end = -1, n = 0;
	kgd_err err;

	CU_ASSERT_EQUAL_FATAL(rig_up(&g, &p, 1000), KGD_OK);
	CU_ASSERT_EQUAL(drv->identify(g.h, idn, sizeof(idn), &err), KGD_OK);
	CU_ASSERT_STRING_EQUAL(idn, "MPI Corporation,SENTIO,12345,3.6.2");
	CU_ASSERT_EQUAL(o->load_wafer(g.h, 1, id, sizeof(id), &err), KGD_OK);
	CU_ASSERT_STRING_EQUAL(id, "LOT1-W03");
	CU_ASSERT_EQUAL(o->die_count(g.h, &n, &err), KGD_OK);
	CU_ASSERT_EQUAL(n, 3);
	CU_ASSERT_EQUAL(o->step_first(g.h, &d, &end, &err), KGD_OK);
	CU_ASSERT(end == 0 && d.x == 3 && d.y == 4);
	CU_ASSERT_EQUAL(o->contact(g.h, &err), KGD_OK);
	CU_ASSERT_EQUAL(o->separate(g.h, &err), KGD_OK);
	CU_ASSERT_EQUAL(o->bin_die(g.h, d, 1, &err), KGD_OK);
	CU_ASSERT_EQUAL(o->step_next(g.h, &d, &end, &err), KGD_OK);
	CU_ASSERT(end == 0 && d.x == 4 && d.y == 4);
	CU_ASSERT_EQUAL(o->step_next(g.h, &d, &end, &err), KGD_OK);
	CU_ASSERT(end == 0 && d.x == 5 && d.y == 4);
	/* Past the last die: end, and the die is left as it was. */
	CU_ASSERT_EQUAL(o->step_next(g.h, &d, &end, &err), KGD_OK);
	CU_ASSERT(end == 1 && d.x == 5 && d.y == 4);
	CU_ASSERT_EQUAL(o->step_next(g.h, &d, &end, &err), KGD_OK);
	CU_ASSERT_EQUAL(end, 1);
	CU_ASSERT_EQUAL(o->step_to(g.h, (drv_die){4, 4}, &err), KGD_OK);
	CU_ASSERT_EQUAL(o->current_die(g.h, &d, &err), KGD_OK);
	CU_ASSERT(d.x == 4 && d.y == 4);
	CU_ASSERT_EQUAL(o->unload_wafer(g.h, &err), KGD_OK);
	rig_down(&g);
}

/* map_geometry: the four required answers; edge exclusion and notch when
 * the release has the commands, unknown (NAN) when it refuses them; a
 * malformed answer is a protocol error naming the command. */
static void test_map_geometry(void)
{
	struct prober p = {.n_dies = 3};
	drv_map_geometry m;
	struct rig g;
	kgd_err err;

	CU_ASSERT_PTR_NOT_NULL_FATAL(drv->prober->map_geometry);
	CU_ASSERT_EQUAL_FATAL(rig_up(&g, &p, 1000), KGD_OK);
	CU_ASSERT_EQUAL(drv->prober->map_geometry(g.h, &m, &err), KGD_OK);
	CU_ASSERT_DOUBLE_EQUAL(m.diameter_mm, 200, 1e-12);
	CU_ASSERT_DOUBLE_EQUAL(m.die_w_um, 5000, 1e-12);
	CU_ASSERT_DOUBLE_EQUAL(m.die_h_um, 4000, 1e-12);
	CU_ASSERT(m.cols == 38 && m.rows == 48);
	CU_ASSERT(isnan(m.edge_um) && isnan(m.notch_deg));
	p.geom_full = 1;
	rig_down(&g);
	CU_ASSERT_EQUAL_FATAL(rig_up(&g, &p, 1000), KGD_OK);
	CU_ASSERT_EQUAL(drv->prober->map_geometry(g.h, &m, &err), KGD_OK);
	CU_ASSERT_DOUBLE_EQUAL(m.edge_um, 3000, 1e-12);
	CU_ASSERT_DOUBLE_EQUAL(m.notch_deg, 270, 1e-12);  /* -90 */
	rig_down(&g);
	p.geom_bad = 1;
	CU_ASSERT_EQUAL_FATAL(rig_up(&g, &p, 1000), KGD_OK);
	CU_ASSERT_EQUAL(drv->prober->map_geometry(g.h, &m, &err), KGD_ERR_PROTOCOL);
	CU_ASSERT(strstr(err.msg, "map:get_index_size") && strstr(err.msg, "5000.0")
		  && strstr(err.msg, g.uri));
	rig_down(&g);
}

static void test_empty_map_ends_at_once(void)
{
	struct prober p = {.n_dies = 0};
	drv_die d = {-7, -7};
	struct rig g;
	int end = 0;
	kgd_err err;

	CU_ASSERT_EQUAL_FATAL(rig_up(&g, &p, 1000), KGD_OK);
	CU_ASSERT_EQUAL(drv->prober->load_wafer(g.h, 2, NULL, 0, &err), KGD_OK);
	CU_ASSERT_EQUAL(drv->prober->step_first(g.h, &d, &end, &err), KGD_OK);
	CU_ASSERT(end == 1 && d.x == -7);
	rig_down(&g);
}

static void test_prober_error_surfaces(void)
{
	struct prober p = {.n_dies = 3, .no_idn = 1};
	char idn[128];
	struct rig g;
	kgd_err err;

	CU_ASSERT_EQUAL_FATAL(rig_up(&g, &p, 1000), KGD_OK);
	/* No *IDN? on this release: the generic identity, naming the URI. */
	CU_ASSERT_EQUAL(drv->identify(g.h, idn, sizeof(idn), &err), KGD_OK);
	CU_ASSERT(strstr(idn, g.uri) != NULL);
	CU_ASSERT_EQUAL(drv->prober->contact(g.h, &err), KGD_ERR_INSTRUMENT);
	CU_ASSERT(strstr(err.msg, "no wafer loaded") && strstr(err.msg, g.uri)
		  && strstr(err.msg, "move_chuck_contact"));
	CU_ASSERT_EQUAL(drv->prober->load_wafer(g.h, 1, NULL, 0, &err), KGD_OK);
	CU_ASSERT_EQUAL(drv->prober->contact(g.h, &err), KGD_ERR_INSTRUMENT);
	CU_ASSERT(strstr(err.msg, "prober error 6") != NULL);
	CU_ASSERT_EQUAL(drv->prober->step_to(g.h, (drv_die){40, 40}, &err),
			KGD_ERR_INSTRUMENT);
	CU_ASSERT(strstr(err.msg, "map:step_die 40,40,0")
		  && strstr(err.msg, "die outside the map"));
	CU_ASSERT_EQUAL(drv->prober->load_wafer(g.h, 0, NULL, 0, &err), KGD_ERR_ARG);
	rig_down(&g);
}

static void test_timeout_mid_route(void)
{
	/* *IDN?, load, align, step_first answered; step_next never. */
	struct prober p = {.n_dies = 3, .hang_after = 4};
	drv_die d;
	struct rig g;
	int end = 0;
	kgd_err err;

	CU_ASSERT_EQUAL_FATAL(rig_up(&g, &p, 300), KGD_OK);
	CU_ASSERT_EQUAL(drv->prober->load_wafer(g.h, 1, NULL, 0, &err), KGD_OK);
	CU_ASSERT_EQUAL(drv->prober->step_first(g.h, &d, &end, &err), KGD_OK);
	CU_ASSERT_EQUAL(drv->prober->step_next(g.h, &d, &end, &err), KGD_ERR_TIMEOUT);
	CU_ASSERT(strstr(err.msg, g.uri) && strstr(err.msg, "map:step_next_die"));
	rig_down(&g);
}

static void test_malformed_reply_is_not_a_die(void)
{
	struct prober p = {.n_dies = 3, .garbage_step = 1};
	drv_die d = {0, 0};
	struct rig g;
	int end = 0;
	kgd_err err;

	CU_ASSERT_EQUAL_FATAL(rig_up(&g, &p, 1000), KGD_OK);
	CU_ASSERT_EQUAL(drv->prober->load_wafer(g.h, 1, NULL, 0, &err), KGD_OK);
	CU_ASSERT_EQUAL(drv->prober->step_first(g.h, &d, &end, &err), KGD_OK);
	CU_ASSERT_EQUAL(drv->prober->step_next(g.h, &d, &end, &err), KGD_ERR_PROTOCOL);
	CU_ASSERT(strstr(err.msg, "over there") != NULL);
	CU_ASSERT(d.x == 3 && d.y == 4);
	rig_down(&g);
}

int cu_register(void)
{
	CU_pSuite s = CU_add_suite("drv_sentio", suite_init, suite_cleanup);

	if (!s)
		return -1;
	CU_add_test(s, "descriptor", test_descriptor);
	CU_add_test(s, "every operation", test_every_operation);
	CU_add_test(s, "map geometry (ABI 1.4)", test_map_geometry);
	CU_add_test(s, "empty map ends at once", test_empty_map_ends_at_once);
	CU_add_test(s, "prober error surfaces", test_prober_error_surfaces);
	CU_add_test(s, "timeout mid-route", test_timeout_mid_route);
	CU_add_test(s, "malformed reply is not a die", test_malformed_reply_is_not_a_die);
	return CU_get_error() == CUE_SUCCESS ? 0 : -1;
}
