/*
 * tests/test_drv_elsfp.c - the elsfp-cmis laser plugin, dlopen()ed from the
 * build's plugins/ folder and driven through its descriptor over a real
 * serial:// transport (a pty) to a scripted USB-I2C adapter with a CMIS
 * module behind it (drv_peer.c), whose register pages follow the map in
 * docs/INSTRUMENTS.md: banks, low power, disable bits, per-lane monitors.
 *
 * Invariant: every peer is stopped by the test that started it; each test
 * starts its own, so no test depends on another's register state.
 */
#include <CUnit/CUnit.h>
#include <dlfcn.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drv_peer.h"
#include "kgd/driver.h"
#include "kgd/scpi.h"
#include "kgd/xport.h"

#define PLUGIN KGD_PLUGIN_BUILD_DIR "/elsfp-cmis.so"

static void *dl;
static const drv_descriptor *drv;

/* The scripted module: register pages plus the monitors' nominal values,
 * which page 11h shows only for enabled lanes of a Ready module. */
struct module {
	int lasers;
	int no_module;          /* the adapter answers ERR for every read */
	int hang_after, count;  /* answer this many commands, then hang */
	uint8_t p00[256];       /* lower memory 0-127 and page 00h 128-255 */
	uint8_t p10[2][256];
	uint8_t pb0[256];
	uint16_t power[16], bias[16];
};

static void put16(uint8_t *p, int addr, uint16_t v)
{
	p[addr] = (uint8_t)(v >> 8);
	p[addr + 1] = (uint8_t)v;
}

static void module_init(struct module *m, int lasers)
{
	memset(m, 0, sizeof(*m));
	m->lasers = lasers;
	m->p00[3] = 1 << 1;   /* LowPwr */
	m->p00[26] = 0x10;    /* held in low power */
	memcpy(m->p00 + 166, "ELS2301234      ", 16);
	m->p10[0][130] = 0xFF;
	m->p10[1][130] = 0xFF;
	m->pb0[128] = (uint8_t)lasers;
	for (int i = 0; i < lasers; i++) {
		put16(m->pb0, 130 + 2 * i, (uint16_t)((1301.0 + 1.6 * i) / 0.05 + 0.5));
		put16(m->pb0, 162 + 2 * i, 450);                   /* 45 dB */
		put16(m->pb0, 194 + 2 * i, (uint16_t)(45.5 * 256)); /* 45.5 C */
		m->power[i] = (uint16_t)(20000 + 100 * i);  /* 2 mW + 10 uW/lane */
		m->bias[i] = (uint16_t)(15000 + i);          /* 30 mA + 2 uA/lane */
	}
}

/* The bytes a read of bank.page sees, computed for page 11h. */
static const uint8_t *page(struct module *m, int bank, int pg, uint8_t *tmp)
{
	int ready = ((m->p00[3] >> 1) & 7) == 3;

	if (pg == 0x00 && bank == 0)
		return m->p00;
	if (pg == 0x10 && bank < 2)
		return m->p10[bank];
	if (pg == 0xB0 && bank == 0)
		return m->pb0;
	if (pg != 0x11 || bank > 1)
		return NULL;
	memset(tmp, 0, 256);
	for (int k = 0; k < 8; k++) {
		int lane = bank * 8 + k;
		int on = ready && lane < m->lasers && !(m->p10[bank][130] & (1 << k));

		put16(tmp, 0x9A + 2 * k, on ? m->power[lane] : 0);
		put16(tmp, 0xAA + 2 * k, on ? m->bias[lane] : 0);
	}
	return tmp;
}

static int module_respond(void *state, const char *line, char *reply, size_t cap)
{
	struct module *m = state;
	uint8_t tmp[256];
	const uint8_t *p;
	int bank, pg, addr, len;
	unsigned v;

	if (m->hang_after && ++m->count > m->hang_after)
		return PEER_HANG;
	if (strcmp(line, "*IDN?") == 0) {
		snprintf(reply, cap, "KGD,USB-I2C,A0001,1.0");
		return PEER_REPLY;
	}
	if (strcmp(line, "TEST FAULT") == 0) {   /* test hook, no reply */
		m->p00[3] = 5 << 1;
		return PEER_NONE;
	}
	if (m->no_module) {
		snprintf(reply, cap, "ERR no module");
		return PEER_REPLY;
	}
	if (sscanf(line, "R %d.%x %x %d", &bank, &pg, &addr, &len) == 4) {
		size_t used;

		if (!(p = page(m, bank, pg, tmp)) || len < 1 || len > 128) {
			snprintf(reply, cap, "ERR bad page");
			return PEER_REPLY;
		}
		if (addr + len > 256) {
			snprintf(reply, cap, "ERR read past 255");
			return PEER_REPLY;
		}
		used = (size_t)snprintf(reply, cap, "OK");
		for (int i = 0; i < len; i++)
			used += (size_t)snprintf(reply + used, cap - used, " %02X",
						 p[addr + i]);
		return PEER_REPLY;
	}
	if (sscanf(line, "W %d.%x %x %x", &bank, &pg, &addr, &v) == 4) {
		if (pg == 0x00 && bank == 0 && addr == 26) {
			m->p00[26] = (uint8_t)v;
			m->p00[3] = (uint8_t)(((v & 0x10) ? 1 : 3) << 1);
		} else if (pg == 0x10 && bank < 2 && addr == 130) {
			m->p10[bank][130] = (uint8_t)v;
		} else {
			snprintf(reply, cap, "ERR read-only");
			return PEER_REPLY;
		}
		snprintf(reply, cap, "OK");
		return PEER_REPLY;
	}
	snprintf(reply, cap, "ERR unknown command");
	return PEER_REPLY;
}

struct rig {
	pid_t pid;
	char uri[128];
	xport *x;
	void *h;
};

static int rig_up(struct rig *g, struct module *m, int timeout_ms, kgd_err *err)
{
	memset(g, 0, sizeof(*g));
	g->pid = drv_peer_pty(module_respond, m, "baud=115200", g->uri, sizeof(g->uri));
	if (g->pid < 0 || xport_open(g->uri, timeout_ms, &g->x, err))
		return -1;
	return drv->open(g->x, &g->h, err);
}

static void rig_down(struct rig *g)
{
	if (g->h)
		drv->close(g->h);
	xport_close(g->x);
	drv_peer_stop(g->pid);
}

/* A register byte as the adapter reports it, bypassing the driver. */
static int peek(struct rig *g, const char *cmd)
{
	char r[64];
	unsigned v = 0;
	kgd_err err;

	if (scpi_query(g->x, r, sizeof(r), &err, "%s", cmd) || sscanf(r, "OK %x", &v) != 1)
		return -1;
	return (int)v;
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
	CU_ASSERT_EQUAL(drv->klass, DRV_CLASS_LASER);
	CU_ASSERT_STRING_EQUAL(drv->name, "elsfp-cmis");
	CU_ASSERT_PTR_NOT_NULL_FATAL(drv->laser);
	CU_ASSERT_PTR_NOT_NULL(drv->laser->serial);
	CU_ASSERT_PTR_NULL(drv->pm);
}

static void test_every_operation(void)
{
	const drv_laser_ops *o = drv->laser;
	struct module m;
	struct rig g;
	drv_laser_reading r;
	char buf[64];
	int n = 0;
	kgd_err err;

	module_init(&m, 16);
	CU_ASSERT_EQUAL_FATAL(rig_up(&g, &m, 1000, &err), KGD_OK);
	CU_ASSERT_EQUAL(drv->identify(g.h, buf, sizeof(buf), &err), KGD_OK);
	CU_ASSERT_STRING_EQUAL(buf, "KGD,USB-I2C,A0001,1.0");
	CU_ASSERT_EQUAL(o->channels(g.h, &n, &err), KGD_OK);
	CU_ASSERT_EQUAL(n, 16);
	CU_ASSERT_EQUAL(o->serial(g.h, buf, sizeof(buf), &err), KGD_OK);
	CU_ASSERT_STRING_EQUAL(buf, "ELS2301234");
	/* Held in low power, lasers dark. */
	CU_ASSERT_EQUAL(o->read(g.h, 3, &r, &err), KGD_OK);
	CU_ASSERT_DOUBLE_EQUAL(r.power_w, 0, 1e-12);
	/* All on: low power released, both banks cleared. */
	CU_ASSERT_EQUAL(o->enable(g.h, 0, 1, &err), KGD_OK);
	CU_ASSERT_EQUAL(peek(&g, "R 0.00 1A 1"), 0x00);
	CU_ASSERT_EQUAL(peek(&g, "R 0.10 82 1"), 0x00);
	CU_ASSERT_EQUAL(peek(&g, "R 1.10 82 1"), 0x00);
	CU_ASSERT_EQUAL(o->read(g.h, 3, &r, &err), KGD_OK);
	CU_ASSERT_DOUBLE_EQUAL(r.power_w, 20200 * 0.1e-6, 1e-12);
	CU_ASSERT_DOUBLE_EQUAL(r.bias_a, 15002 * 2e-6, 1e-12);
	CU_ASSERT_DOUBLE_EQUAL(r.wavelength_nm, 1304.2, 1e-9);
	CU_ASSERT_DOUBLE_EQUAL(r.smsr_db, 45.0, 1e-9);
	CU_ASSERT_DOUBLE_EQUAL(r.temperature_c, 45.5, 1e-9);
	/* Lane 12 lives in bank 1. */
	CU_ASSERT_EQUAL(o->read(g.h, 12, &r, &err), KGD_OK);
	CU_ASSERT_DOUBLE_EQUAL(r.power_w, 21100 * 0.1e-6, 1e-12);
	CU_ASSERT_DOUBLE_EQUAL(r.wavelength_nm, 1301.0 + 1.6 * 11, 0.05);
	/* One lane off per bank; the others keep their state. */
	CU_ASSERT_EQUAL(o->enable(g.h, 5, 0, &err), KGD_OK);
	CU_ASSERT_EQUAL(o->enable(g.h, 10, 0, &err), KGD_OK);
	CU_ASSERT_EQUAL(peek(&g, "R 0.10 82 1"), 0x10);
	CU_ASSERT_EQUAL(peek(&g, "R 1.10 82 1"), 0x02);
	CU_ASSERT_EQUAL(o->read(g.h, 5, &r, &err), KGD_OK);
	CU_ASSERT_DOUBLE_EQUAL(r.power_w, 0, 1e-12);
	CU_ASSERT_EQUAL(o->read(g.h, 6, &r, &err), KGD_OK);
	CU_ASSERT(r.power_w > 1e-3);
	CU_ASSERT_EQUAL(o->enable(g.h, 5, 1, &err), KGD_OK);
	CU_ASSERT_EQUAL(peek(&g, "R 0.10 82 1"), 0x00);
	CU_ASSERT_EQUAL(o->enable(g.h, 0, 0, &err), KGD_OK);
	CU_ASSERT_EQUAL(peek(&g, "R 1.10 82 1"), 0xFF);
	CU_ASSERT_EQUAL(o->read(g.h, 17, &r, &err), KGD_ERR_ARG);
	CU_ASSERT(strstr(err.msg, "laser 17") && strstr(err.msg, g.uri));
	rig_down(&g);
}

static void test_eight_laser_module_has_one_bank(void)
{
	struct module m;
	struct rig g;
	int n = 0;
	kgd_err err;

	module_init(&m, 8);
	CU_ASSERT_EQUAL_FATAL(rig_up(&g, &m, 1000, &err), KGD_OK);
	CU_ASSERT_EQUAL(drv->laser->channels(g.h, &n, &err), KGD_OK);
	CU_ASSERT_EQUAL(n, 8);
	CU_ASSERT_EQUAL(drv->laser->enable(g.h, 0, 1, &err), KGD_OK);
	CU_ASSERT_EQUAL(peek(&g, "R 0.10 82 1"), 0x00);
	CU_ASSERT_EQUAL(peek(&g, "R 1.10 82 1"), 0xFF);  /* untouched */
	CU_ASSERT_EQUAL(drv->laser->enable(g.h, 9, 1, &err), KGD_ERR_ARG);
	rig_down(&g);
}

static void test_adapter_error_surfaces(void)
{
	struct module m;
	struct rig g;
	kgd_err err;

	module_init(&m, 16);
	m.no_module = 1;
	CU_ASSERT_EQUAL(rig_up(&g, &m, 1000, &err), KGD_ERR_INSTRUMENT);
	CU_ASSERT(strstr(err.msg, "ERR no module") && strstr(err.msg, g.uri)
		  && strstr(err.msg, "R 0.B0 80 1"));
	CU_ASSERT_PTR_NULL(g.h);
	rig_down(&g);
}

static void test_fault_is_an_error(void)
{
	drv_laser_reading r = {0};
	struct module m;
	struct rig g;
	kgd_err err;

	module_init(&m, 16);
	CU_ASSERT_EQUAL_FATAL(rig_up(&g, &m, 1000, &err), KGD_OK);
	CU_ASSERT_EQUAL(drv->laser->enable(g.h, 0, 1, &err), KGD_OK);
	CU_ASSERT_EQUAL(scpi_write(g.x, &err, "TEST FAULT"), KGD_OK);
	CU_ASSERT_EQUAL(drv->laser->read(g.h, 1, &r, &err), KGD_ERR_INSTRUMENT);
	CU_ASSERT(strstr(err.msg, "Fault") && strstr(err.msg, g.uri));
	CU_ASSERT_DOUBLE_EQUAL(r.power_w, 0, 0);
	CU_ASSERT_EQUAL(drv->laser->enable(g.h, 2, 1, &err), KGD_ERR_INSTRUMENT);
	rig_down(&g);
}

static void test_invalid_reading_is_not_a_number(void)
{
	drv_laser_reading r = {0};
	struct module m;
	struct rig g;
	kgd_err err;

	module_init(&m, 16);
	m.power[1] = 0xFFFF;              /* lane 2: saturated monitor */
	put16(m.pb0, 130 + 2 * 3, 0);     /* lane 4: no wavelength */
	CU_ASSERT_EQUAL_FATAL(rig_up(&g, &m, 1000, &err), KGD_OK);
	CU_ASSERT_EQUAL(drv->laser->enable(g.h, 0, 1, &err), KGD_OK);
	CU_ASSERT_EQUAL(drv->laser->read(g.h, 2, &r, &err), KGD_ERR_OVERRANGE);
	CU_ASSERT(strstr(err.msg, "laser 2") && strstr(err.msg, "power"));
	CU_ASSERT_EQUAL(drv->laser->read(g.h, 4, &r, &err), KGD_ERR_OVERRANGE);
	CU_ASSERT(strstr(err.msg, "wavelength") != NULL);
	CU_ASSERT_DOUBLE_EQUAL(r.power_w, 0, 0);
	rig_down(&g);
}

static void test_timeout_mid_operation(void)
{
	drv_laser_reading r;
	struct module m;
	struct rig g;
	kgd_err err;

	module_init(&m, 16);
	/* *IDN?, lasers, state at open; state and power of the read, then
	 * silence before the bias. */
	m.hang_after = 5;
	CU_ASSERT_EQUAL_FATAL(rig_up(&g, &m, 300, &err), KGD_OK);
	CU_ASSERT_EQUAL(drv->laser->read(g.h, 1, &r, &err), KGD_ERR_TIMEOUT);
	CU_ASSERT(strstr(err.msg, g.uri) && strstr(err.msg, "R 0.11 AA 2"));
	rig_down(&g);
}

int cu_register(void)
{
	CU_pSuite s = CU_add_suite("drv_elsfp", suite_init, suite_cleanup);

	if (!s)
		return -1;
	CU_add_test(s, "descriptor", test_descriptor);
	CU_add_test(s, "every operation", test_every_operation);
	CU_add_test(s, "8-laser module has one bank", test_eight_laser_module_has_one_bank);
	CU_add_test(s, "adapter error surfaces", test_adapter_error_surfaces);
	CU_add_test(s, "module Fault is an error", test_fault_is_an_error);
	CU_add_test(s, "invalid reading is not a number", test_invalid_reading_is_not_a_number);
	CU_add_test(s, "timeout mid-operation", test_timeout_mid_operation);
	return CU_get_error() == CUE_SUCCESS ? 0 : -1;
}
