/*
 * tests/test_drv_std.c - the drivers' helper layer (instruments/drv_std.c,
 * kgd/drv_std.h): the model match, the supported-model text built from the
 * table, the open of an SCPI instrument against a scripted peer over a
 * real tcp:// transport (the exact lines it sends, what a refusal says,
 * that nothing is left allocated), identify, and the "unsupported model"
 * message of every plugin that opens through it, so each lists exactly its
 * own model table.
 *
 * Invariant: every peer is stopped by the test that started it; the
 * sanitized build sees a handle a failed open left behind.
 */
#include <CUnit/CUnit.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "drv_peer.h"
#include "kgd/drv_std.h"

/* A driver's own row type: the helpers see only its head. */
struct widget_model {
	drv_std_model id;
	int channels;
};

static const struct widget_model widgets[] = {
	{{"W-1", NULL}, 1},
	{{"W-10", NULL}, 10},
	{{"W-2", "simulator"}, 2},
};

static const drv_std_info widget_info = {
	.name = "acme-widget",
	.kind = "a widget",
	.vendors = {"Acme", "Acme Corp"},
	DRV_STD_MODELS(widgets),
	.clear_status = 1,
};

#define WIDGET_MODELS "W-1, W-10, W-2 (simulator) from Acme or Acme Corp"

/* A driver's handle: the helpers' head first. */
struct widget_handle {
	drv_std_dev dev;
	const struct widget_model *model;
	int setups;
	int fail_setup;
};

static int rec_fd = -1;   /* every line the peers received */

struct peer {
	const char *idn;
	int hang;             /* never answer anything */
};

static int respond(void *state, const char *line, char *reply, size_t cap)
{
	struct peer *p = state;

	if (p->hang)
		return PEER_HANG;
	if (strcmp(line, "*IDN?") == 0) {
		snprintf(reply, cap, "%s", p->idn);
		return PEER_REPLY;
	}
	if (strcmp(line, "SYST:ERR?") == 0) {
		snprintf(reply, cap, "+0,\"No error\"");
		return PEER_REPLY;
	}
	return PEER_NONE;
}

struct rig {
	pid_t pid;
	char uri[64];
	xport *x;
};

static void rig_up(struct rig *g, struct peer *p, int timeout_ms)
{
	kgd_err err;

	memset(g, 0, sizeof(*g));
	g->pid = drv_peer_tcp(respond, p, g->uri, sizeof(g->uri));
	CU_ASSERT_FATAL(g->pid > 0);
	CU_ASSERT_FATAL(xport_open(g->uri, timeout_ms, &g->x, &err) == KGD_OK);
}

static void rig_down(struct rig *g)
{
	xport_close(g->x);
	drv_peer_stop(g->pid);
}

/* What the peer received since mark, once all the driver sent is there:
 * a line without a reply (*CLS) may still be on its way, so one more
 * *IDN? is asked and dropped from the text. */
static const char *received(struct rig *g, off_t mark, char *buf, size_t cap)
{
	char idn[128];
	kgd_err err;
	ssize_t n;
	size_t len;

	CU_ASSERT(scpi_query(g->x, idn, sizeof(idn), &err, "*IDN?") == KGD_OK);
	n = pread(rec_fd, buf, cap - 1, mark);
	buf[n > 0 ? n : 0] = '\0';
	len = strlen(buf);
	if (len >= 6 && strcmp(buf + len - 6, "*IDN?\n") == 0)
		buf[len - 6] = '\0';
	return buf;
}

static off_t mark_now(void)
{
	struct stat st;

	return fstat(rec_fd, &st) == 0 ? st.st_size : 0;
}

static int widget_setup(void *handle, kgd_err *err)
{
	struct widget_handle *h = handle;

	h->model = (const struct widget_model *)h->dev.model;
	h->setups++;
	if (h->fail_setup || (h->model && h->model->channels == 10))
		return kgd_err_set(err, KGD_ERR_INSTRUMENT, "%s: setup refused",
				   xport_uri(h->dev.x));
	return KGD_OK;
}

/* ---- pure --------------------------------------------------------- */

static void test_match(void)
{
	const drv_std_model *m;

	m = drv_std_match(&widget_info, "Acme,W-2,123,1.0");
	CU_ASSERT_PTR_EQUAL(m, &widgets[2].id);
	CU_ASSERT_EQUAL(((const struct widget_model *)m)->channels, 2);
	CU_ASSERT_PTR_EQUAL(drv_std_match(&widget_info, "Acme Corp,W-10,1,1"),
			    &widgets[1].id);
	/* The model field exactly, the vendor exactly, four fields. */
	CU_ASSERT_PTR_NULL(drv_std_match(&widget_info, "Acme,W-3,1,1"));
	CU_ASSERT_PTR_NULL(drv_std_match(&widget_info, "Acme,W-1 ,1,1"));
	CU_ASSERT_PTR_NULL(drv_std_match(&widget_info, "Acme Inc,W-1,1,1"));
	CU_ASSERT_PTR_NULL(drv_std_match(&widget_info, "Acme,W-1"));
	CU_ASSERT_PTR_NULL(drv_std_match(&widget_info, ""));
	CU_ASSERT_PTR_NULL(drv_std_match(&widget_info, NULL));
}

/* The text is the table, row by row, then the vendors; cut, never
 * overflowed. */
static void test_models_text(void)
{
	static const drv_std_info solo = {
		.name = "solo", .kind = "a solo", .vendors = {"Solo"},
		.models = widgets, .n_models = 1, .model_size = sizeof(widgets[0]),
	};
	char buf[128], small[8];

	CU_ASSERT_STRING_EQUAL(drv_std_models_text(&widget_info, buf, sizeof(buf)),
			       WIDGET_MODELS);
	CU_ASSERT_STRING_EQUAL(drv_std_models_text(&solo, buf, sizeof(buf)),
			       "W-1 from Solo");
	memset(small, 'x', sizeof(small));
	CU_ASSERT_STRING_EQUAL(drv_std_models_text(&widget_info, small, sizeof(small)),
			       "W-1, W-");
}

/* ---- open against a peer ------------------------------------------- */

static void test_scpi_open(void)
{
	struct peer p = {.idn = "Acme,W-2,SN42,1.0"};
	struct widget_handle *h = NULL;
	char got[256], idn[64];
	struct rig g;
	void *handle = NULL;
	off_t mark;
	kgd_err err;

	rig_up(&g, &p, 1000);
	mark = mark_now();
	CU_ASSERT_EQUAL_FATAL(drv_std_scpi_open(&widget_info, sizeof(*h), widget_setup,
						g.x, &handle, &err), KGD_OK);
	h = handle;
	CU_ASSERT_STRING_EQUAL(received(&g, mark, got, sizeof(got)), "*IDN?\n*CLS\n");
	CU_ASSERT_PTR_EQUAL(h->dev.x, g.x);
	CU_ASSERT_PTR_EQUAL(h->model, &widgets[2]);
	CU_ASSERT_EQUAL(h->setups, 1);
	CU_ASSERT_STRING_EQUAL(h->dev.idn, "Acme,W-2,SN42,1.0");
	/* identify: the identity read at open, nothing on the wire. */
	mark = mark_now();
	CU_ASSERT_EQUAL(drv_std_identify(h, idn, sizeof(idn), &err), KGD_OK);
	CU_ASSERT_STRING_EQUAL(idn, "Acme,W-2,SN42,1.0");
	CU_ASSERT_STRING_EQUAL(received(&g, mark, got, sizeof(got)), "");
	CU_ASSERT_EQUAL(drv_std_identify(h, idn, 10, &err), KGD_ERR_ARG);
	CU_ASSERT(strstr(err.msg, g.uri) && strstr(err.msg, "10 bytes"));
	drv_std_close(h);
	rig_down(&g);
}

/* An adapter that is not an IEEE 488.2 instrument: no *CLS. */
static void test_scpi_open_without_clear(void)
{
	drv_std_info info = widget_info;
	struct peer p = {.idn = "Acme,W-1,1,1"};
	char got[256];
	struct rig g;
	void *h = NULL;
	off_t mark;
	kgd_err err;

	info.clear_status = 0;
	rig_up(&g, &p, 1000);
	mark = mark_now();
	CU_ASSERT_EQUAL(drv_std_scpi_open(&info, sizeof(struct widget_handle), NULL,
					  g.x, &h, &err), KGD_OK);
	CU_ASSERT_STRING_EQUAL(received(&g, mark, got, sizeof(got)), "*IDN?\n");
	drv_std_close(h);
	rig_down(&g);
}

/* An identity the table does not know: refused with the whole table in
 * the message, before *CLS or setup, nothing left allocated. */
static void test_unsupported_model(void)
{
	struct peer p = {.idn = "Other Co,W-3,9,2.0"};
	char got[256], want[KGD_ERR_MSG_MAX];
	struct rig g;
	void *h = NULL;
	off_t mark;
	kgd_err err;

	rig_up(&g, &p, 1000);
	mark = mark_now();
	CU_ASSERT_EQUAL(drv_std_scpi_open(&widget_info, sizeof(struct widget_handle),
					  widget_setup, g.x, &h, &err),
			KGD_ERR_UNSUPPORTED);
	CU_ASSERT_PTR_NULL(h);
	CU_ASSERT_EQUAL(err.status, KGD_ERR_UNSUPPORTED);
	snprintf(want, sizeof(want), "%s: not a widget this driver knows: *IDN? "
		 "replied 'Other Co,W-3,9,2.0' (acme-widget supports " WIDGET_MODELS ")",
		 g.uri);
	CU_ASSERT_STRING_EQUAL(err.msg, want);
	CU_ASSERT_STRING_EQUAL(received(&g, mark, got, sizeof(got)), "*IDN?\n");
	rig_down(&g);
}

/* A reply of any length: quoted up to DRV_STD_IDN_QUOTE_MAX, so the list
 * of models still fits the message. */
static void test_unsupported_long_reply(void)
{
	char idn[1024], want[KGD_ERR_MSG_MAX];
	struct peer p = {.idn = idn};
	struct rig g;
	void *h = NULL;
	kgd_err err;

	memset(idn, 'z', sizeof(idn) - 1);
	idn[sizeof(idn) - 1] = '\0';
	rig_up(&g, &p, 1000);
	CU_ASSERT_EQUAL(drv_std_scpi_open(&widget_info, sizeof(struct widget_handle),
					  NULL, g.x, &h, &err), KGD_ERR_UNSUPPORTED);
	snprintf(want, sizeof(want), "%s: not a widget this driver knows: *IDN? "
		 "replied '%.*s...' (acme-widget supports " WIDGET_MODELS ")", g.uri,
		 DRV_STD_IDN_QUOTE_MAX, idn);
	CU_ASSERT_STRING_EQUAL(err.msg, want);
	rig_down(&g);
}

/* A setup that fails: its error, and the handle is freed (ASan). */
static void test_setup_fails(void)
{
	struct peer p = {.idn = "Acme,W-10,1,1"};
	struct rig g;
	void *h = NULL;
	kgd_err err;

	rig_up(&g, &p, 1000);
	CU_ASSERT_EQUAL(drv_std_scpi_open(&widget_info, sizeof(struct widget_handle),
					  widget_setup, g.x, &h, &err),
			KGD_ERR_INSTRUMENT);
	CU_ASSERT_PTR_NULL(h);
	CU_ASSERT(strstr(err.msg, "setup refused") && strstr(err.msg, g.uri));
	rig_down(&g);
}

/* A silent instrument: the transport's timeout, naming the command. */
static void test_silent_instrument(void)
{
	struct peer p = {.idn = "Acme,W-1,1,1", .hang = 1};
	struct rig g;
	void *h = NULL;
	kgd_err err;

	rig_up(&g, &p, 200);
	CU_ASSERT_EQUAL(drv_std_scpi_open(&widget_info, sizeof(struct widget_handle),
					  widget_setup, g.x, &h, &err), KGD_ERR_TIMEOUT);
	CU_ASSERT_PTR_NULL(h);
	CU_ASSERT(strstr(err.msg, g.uri) && strstr(err.msg, "'*IDN?'"));
	/* A NULL error context still gets the status (status.h). */
	CU_ASSERT_EQUAL(drv_std_scpi_open(&widget_info, sizeof(struct widget_handle),
					  widget_setup, g.x, &h, NULL), KGD_ERR_TIMEOUT);
	rig_down(&g);
}

/* drv_std_open: no identity asked, nothing sent; setup sees the
 * transport and no model. */
static void test_open_own_identity(void)
{
	struct peer p = {.idn = "Acme,W-1,1,1"};
	struct widget_handle *h;
	char got[256];
	struct rig g;
	void *handle = NULL;
	off_t mark;
	kgd_err err;

	rig_up(&g, &p, 1000);
	mark = mark_now();
	CU_ASSERT_EQUAL_FATAL(drv_std_open("acme-widget", sizeof(*h), widget_setup, g.x,
					   &handle, &err), KGD_OK);
	h = handle;
	CU_ASSERT_PTR_EQUAL(h->dev.x, g.x);
	CU_ASSERT_PTR_NULL(h->dev.model);
	CU_ASSERT_EQUAL(h->setups, 1);
	CU_ASSERT_STRING_EQUAL(received(&g, mark, got, sizeof(got)), "");
	drv_std_close(h);
	rig_down(&g);
}

static void test_no_transport(void)
{
	void *h = (void *)&h;
	kgd_err err;

	CU_ASSERT_EQUAL(drv_std_scpi_open(&widget_info, sizeof(struct widget_handle),
					  NULL, NULL, &h, &err), KGD_ERR_ARG);
	CU_ASSERT_STRING_EQUAL(err.msg, "acme-widget: open: no transport");
	CU_ASSERT_EQUAL(drv_std_open("acme-widget", 8, NULL, NULL, &h, &err),
			KGD_ERR_ARG);
	CU_ASSERT_STRING_EQUAL(err.msg, "acme-widget: open: no transport");
}

/* ---- every plugin on the helpers ----------------------------------- */

/* Each SCPI-identified plugin refuses a foreign identity with its own
 * model table in the message: the READMEs' model lists, row for row. */
static void test_plugins_list_their_tables(void)
{
	static const struct {
		const char *plugin, *kind, *supports;
	} want[] = {
		{"keysight-n774x", "a power meter",
		 "N7744A, N7745A, N7744C, N7745C, N7747A, N7748A, N7747C, N7748C, "
		 "8163B, 8164B, N7745A-16 (virtual station) "
		 "from Keysight Technologies or Agilent Technologies"},
		{"thorlabs-pm100", "a power meter",
		 "PM100D, PM100USB, PM100A, PM101, PM101U, PM400 from Thorlabs"},
		{"jbert-n4903b", "a BERT",
		 "N4903B, N4903A from Keysight Technologies or Agilent Technologies"},
		{"elsfp-cmis", "an I2C adapter", "USB-I2C from KGD"},
	};
	struct peer p = {.idn = "Acme,W-1,1,1.0"};

	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		char path[512], msg[KGD_ERR_MSG_MAX];
		const drv_descriptor *drv;
		struct rig g;
		void *dl, *h = NULL;
		kgd_err err;

		snprintf(path, sizeof(path), "%s/%s.so", KGD_PLUGIN_BUILD_DIR,
			 want[i].plugin);
		dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
		CU_ASSERT_PTR_NOT_NULL_FATAL(dl);
		drv = dlsym(dl, KGD_DRIVER_SYMBOL);
		CU_ASSERT_PTR_NOT_NULL_FATAL(drv);
		CU_ASSERT_STRING_EQUAL(drv->name, want[i].plugin);
		CU_ASSERT_PTR_EQUAL(drv->close, drv_std_close);
		CU_ASSERT_PTR_EQUAL(drv->identify, drv_std_identify);
		rig_up(&g, &p, 1000);
		CU_ASSERT_EQUAL(drv->open(g.x, &h, &err), KGD_ERR_UNSUPPORTED);
		CU_ASSERT_PTR_NULL(h);
		snprintf(msg, sizeof(msg), "%s: not %s this driver knows: *IDN? replied "
			 "'Acme,W-1,1,1.0' (%s supports %s)", g.uri, want[i].kind,
			 want[i].plugin, want[i].supports);
		CU_ASSERT_STRING_EQUAL(err.msg, msg);
		if (strcmp(err.msg, msg))
			fprintf(stderr, "\n got: %s\nwant: %s\n", err.msg, msg);
		rig_down(&g);
		dlclose(dl);
	}
}

static int suite_init(void)
{
	char path[] = "/tmp/kgd-drvstd-record-XXXXXX";

	rec_fd = mkstemp(path);
	if (rec_fd < 0)
		return -1;
	unlink(path);
	drv_peer_record(rec_fd);
	return 0;
}

static int suite_cleanup(void)
{
	drv_peer_record(-1);
	if (rec_fd >= 0)
		close(rec_fd);
	return 0;
}

int cu_register(void)
{
	CU_pSuite s = CU_add_suite("drv_std", suite_init, suite_cleanup);

	if (!s)
		return -1;
	CU_add_test(s, "model match: vendor and model exactly", test_match);
	CU_add_test(s, "supported models: the table in order", test_models_text);
	CU_add_test(s, "SCPI open: *IDN?, *CLS, setup, identify", test_scpi_open);
	CU_add_test(s, "SCPI open without *CLS", test_scpi_open_without_clear);
	CU_add_test(s, "unsupported model lists the table", test_unsupported_model);
	CU_add_test(s, "unsupported: a long reply is cut", test_unsupported_long_reply);
	CU_add_test(s, "failing setup frees the handle", test_setup_fails);
	CU_add_test(s, "silent instrument times out", test_silent_instrument);
	CU_add_test(s, "open without *IDN?", test_open_own_identity);
	CU_add_test(s, "no transport", test_no_transport);
	CU_add_test(s, "every plugin lists its own table",
		    test_plugins_list_their_tables);
	return 0;
}
