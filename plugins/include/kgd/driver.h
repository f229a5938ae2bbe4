/*
 * kgd/driver.h - the driver plugin ABI (installed; the one header a plugin
 * writer needs besides kgd/xport.h and kgd/scpi.h).
 *
 * A driver is a shared object that exports exactly one symbol,
 * KGD_DRIVER_SYMBOL, a const drv_descriptor. The station dlopen()s the file,
 * looks the symbol up, and refuses the plugin when abi_major differs from the
 * station's DRV_ABI_MAJOR or when an operation its class requires is NULL.
 * Minor versions only add optional operations at the end of a table, so a
 * station accepts any minor.
 *
 * Contract for drivers:
 *  - open() receives a transport the station has already opened and keeps
 *    owning; the driver must not close it.
 *  - A driver never prints and never exits: failures go into the kgd_err.
 *  - Units are converted once, here, at the driver edge: power in watts,
 *    wavelength in nanometres, current in amperes, temperature in degC,
 *    BER as a ratio. The sequencer converts to the unit a limit asks for.
 */
#ifndef KGD_DRIVER_H
#define KGD_DRIVER_H

#include <stdint.h>
#include "kgd/status.h"
#include "kgd/xport.h"

#ifdef __cplusplus
extern "C" {
#endif

#define DRV_ABI_MAJOR 1
#define DRV_ABI_MINOR 0

/* Name of the exported descriptor symbol. */
#define KGD_DRIVER_SYMBOL "kgd_driver"

enum drv_class {
	DRV_CLASS_POWER_METER = 1,
	DRV_CLASS_BERT = 2,
	DRV_CLASS_PROBER = 3,
	DRV_CLASS_LASER = 4,
};

/* Optical power meter. Ports are 1-based as on the front panel. */
typedef struct drv_pm_ops {
	/* Required. */
	int (*set_wavelength)(void *h, int port, double nm, kgd_err *err);
	int (*read_power)(void *h, int port, double *watts, kgd_err *err);
	/* Optional (NULL if unsupported). */
	int (*set_averaging)(void *h, int port, double seconds, kgd_err *err);
	int (*read_power_all)(void *h, double *watts, int max_ports,
			      int *n_ports, kgd_err *err);
} drv_pm_ops;

typedef struct drv_descriptor {
	uint16_t abi_major;       /* DRV_ABI_MAJOR the plugin was built with */
	uint16_t abi_minor;
	const char *name;         /* e.g. "keysight-n774x"; unique per station */
	const char *description;  /* one line for `station plugins` */
	int klass;                /* enum drv_class */

	/* Required for every class. open() allocates the driver's handle. */
	int (*open)(xport *x, void **handle, kgd_err *err);
	void (*close)(void *handle);
	/* Fill buf with the instrument's identity (e.g. the *IDN? reply). */
	int (*identify)(void *handle, char *buf, size_t cap, kgd_err *err);

	/* Exactly the table for klass is set; the others are NULL. The BERT,
	 * prober and laser tables are declared by later ABI minors; their
	 * slots exist from 1.0 so the descriptor's layout never moves. */
	const drv_pm_ops *pm;
	const struct drv_bert_ops *bert;
	const struct drv_prober_ops *prober;
	const struct drv_laser_ops *laser;
} drv_descriptor;

#ifdef __cplusplus
}
#endif
#endif
