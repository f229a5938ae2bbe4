/*
 * bench/null-pm/api.c - a power-meter driver that does nothing: every
 * operation returns a fixed value without touching its transport. Built
 * for bench_sequencer only (into <build>/bench-plugins, never installed),
 * so that a sweep through the sequencer measures the sequencer and the
 * result store, not an instrument.
 *
 * Invariant: no operation does I/O or allocates after open(), so its cost
 * is a function call; the benchmark's "driver direct" baseline calls the
 * same functions through the same descriptor.
 */
#include <stdlib.h>

#include "kgd/driver.h"

/* The station opened the transport and keeps owning it; nothing to hold. */
static int null_open(xport *x, void **handle, kgd_err *err)
{
	static int token;

	(void)x;
	(void)err;
	*handle = &token;
	return KGD_OK;
}

static void null_close(void *handle)
{
	(void)handle;
}

static int null_identify(void *handle, char *buf, size_t cap, kgd_err *err)
{
	static const char idn[] = "KGD,NULL-PM,0,1.0";

	(void)handle;
	(void)err;
	for (size_t i = 0; cap && i < cap; i++) {
		buf[i] = i < sizeof(idn) ? idn[i] : '\0';
		if (!buf[i])
			break;
	}
	if (cap)
		buf[cap - 1] = '\0';
	return KGD_OK;
}

static int null_set_wavelength(void *h, int port, double nm, kgd_err *err)
{
	(void)h;
	(void)port;
	(void)nm;
	(void)err;
	return KGD_OK;
}

/* 1 mW (0 dBm): inside any sensible limit, so every point passes and the
 * benchmark times the common path. */
static int null_read_power(void *h, int port, double *watts, kgd_err *err)
{
	(void)h;
	(void)port;
	(void)err;
	*watts = 1e-3;
	return KGD_OK;
}

static const drv_pm_ops pm_ops = {
	.set_wavelength = null_set_wavelength,
	.read_power = null_read_power,
};

__attribute__((visibility("default")))
const drv_descriptor kgd_driver = {
	.abi_major = DRV_ABI_MAJOR,
	.abi_minor = DRV_ABI_MINOR,
	.name = "null-pm",
	.description = "benchmark only: a power meter whose operations return 1 mW without I/O",
	.klass = DRV_CLASS_POWER_METER,
	.open = null_open,
	.close = null_close,
	.identify = null_identify,
	.pm = &pm_ops,
};
