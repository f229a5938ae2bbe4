/*
 * tests/plugins/abi_plugin.c - one tiny driver, built several times with
 * different -D switches into ${CMAKE_BINARY_DIR}/test-plugins, to check
 * what the station's loader accepts and refuses (tests/test_abi.c).
 *
 *   ABI_MAJOR=n        claim another major version
 *   NO_SYMBOL          export the descriptor under another name
 *   MISSING_MEASURE    a BERT without its required measure operation
 *   CLASS=n            an instrument class (default BERT; 9 is unknown)
 *   ABI_MINOR=n        claim another minor version
 *   ML_CONFIGURE, ML_START, ML_READ
 *                      set configure_lanes, gate_start, gate_read (ABI 1.1,
 *                      a group: one or two of them is a broken driver)
 *   CTOR_MARKER        a valid driver whose constructor creates the file
 *                      $KGD_TEST_CTOR_MARKER names: a test sees whether
 *                      the station ran any of its code (dlopen)
 *
 * It includes only the installed public headers and calls nothing outside
 * itself, which is also the check that those headers are self-contained.
 * Invariant: apart from the switch under test, every variant is a valid
 * driver, so each is refused for exactly one reason.
 */
#include <stddef.h>
#ifdef CTOR_MARKER
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>
#endif

#include "kgd/driver.h"
#include "kgd/scpi.h"
#include "kgd/status.h"
#include "kgd/xport.h"

#ifndef ABI_MAJOR
#define ABI_MAJOR DRV_ABI_MAJOR
#endif
#ifndef ABI_MINOR
#define ABI_MINOR DRV_ABI_MINOR
#endif
#ifndef CLASS
#define CLASS DRV_CLASS_BERT
#endif
#ifndef NAME
#define NAME "abi-test"
#endif

static int token;

#ifdef CTOR_MARKER
/* Runs at dlopen, before the station has seen the descriptor. */
__attribute__((constructor)) static void mark_loaded(void)
{
	const char *path = getenv("KGD_TEST_CTOR_MARKER");
	int fd = path ? open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644) : -1;

	if (fd >= 0)
		close(fd);
}
#endif

static int t_open(xport *x, void **handle, kgd_err *err)
{
	(void)x;
	(void)err;
	*handle = &token;
	return KGD_OK;
}

static void t_close(void *handle)
{
	(void)handle;
}

static int t_identify(void *handle, char *buf, size_t cap, kgd_err *err)
{
	(void)handle;
	(void)err;
	if (cap)
		buf[0] = '\0';
	return KGD_OK;
}

static int t_configure(void *h, int lane, const char *pattern, double rate_gbps,
		       kgd_err *err)
{
	(void)h, (void)lane, (void)pattern, (void)rate_gbps, (void)err;
	return KGD_OK;
}

#ifndef MISSING_MEASURE
static int t_measure(void *h, int lane, double gate_s, drv_ber_result *res,
		     kgd_err *err)
{
	(void)h, (void)lane, (void)gate_s, (void)err;
	res->bits = 1e9;
	res->errors = 0;
	res->ber = 3e-9;
	res->ber_is_bound = 1;
	res->sync_lost = 0;
	return KGD_OK;
}
#endif

#ifdef ML_CONFIGURE
static int t_configure_lanes(void *h, const int *lanes, size_t n,
			     const char *pattern, double rate_gbps, kgd_err *err)
{
	(void)h, (void)lanes, (void)n, (void)pattern, (void)rate_gbps, (void)err;
	return KGD_OK;
}
#endif

#ifdef ML_START
static int t_gate_start(void *h, const int *lanes, size_t n, double gate_s,
			kgd_err *err)
{
	(void)h, (void)lanes, (void)n, (void)gate_s, (void)err;
	return KGD_OK;
}
#endif

#ifdef ML_READ
static int t_gate_read(void *h, int lane, double gate_s, drv_ber_result *res,
		       kgd_err *err)
{
	return t_measure(h, lane, gate_s, res, err);
}
#endif

static const drv_bert_ops bert_ops = {
	.configure = t_configure,
#ifndef MISSING_MEASURE
	.measure = t_measure,
#endif
#ifdef ML_CONFIGURE
	.configure_lanes = t_configure_lanes,
#endif
#ifdef ML_START
	.gate_start = t_gate_start,
#endif
#ifdef ML_READ
	.gate_read = t_gate_read,
#endif
};

#ifdef NO_SYMBOL
#define DESCRIPTOR not_the_driver_symbol
#else
#define DESCRIPTOR kgd_driver
#endif

__attribute__((visibility("default")))
const drv_descriptor DESCRIPTOR = {
	.abi_major = ABI_MAJOR,
	.abi_minor = ABI_MINOR,
	.name = NAME,
	.description = "ABI test plugin",
	.klass = CLASS,
	.open = t_open,
	.close = t_close,
	.identify = t_identify,
	.bert = &bert_ops,
};
