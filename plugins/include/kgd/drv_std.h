/*
 * kgd/drv_std.h - the chores every driver shares, written once (installed;
 * what libsigrok's std.c is to its drivers): a handle's common head, open
 * with *IDN? matched against the driver's own model table, *CLS, the
 * "unsupported model" message built from that table, close, identify and
 * the exported descriptor.
 *
 * How a driver uses it (plugins/README.md walks through one):
 *  - its handle struct begins with a drv_std_dev (the transport, the
 *    matched model row, the identity read at open), so drv_std_close and
 *    drv_std_identify serve as its close and identify;
 *  - each row of its model table begins with a drv_std_model (the *IDN?
 *    model name), and protocol.c describes the table in a drv_std_info;
 *  - its open is one call, drv_std_scpi_open (drv_std_open when the
 *    instrument identifies itself some other way), with a setup function
 *    for what the driver does after the match; the helper frees the
 *    handle when any of it fails. DRV_STD_SCPI_DRIVER / DRV_STD_DRIVER
 *    write that open and the exported descriptor in one declaration.
 *
 * Invariant: the model list in every message is read from the table the
 * match uses, so the two cannot drift apart; a new model is one row.
 */
#ifndef KGD_DRV_STD_H
#define KGD_DRV_STD_H

#include <stddef.h>
#include "kgd/driver.h"
#include "kgd/scpi.h"
#include "kgd/status.h"
#include "kgd/xport.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The head of a model-table row. A driver's row type starts with it
 * (`struct acme_model { drv_std_model id; int ports; ... }`), so a row's
 * address is its drv_std_model's, and a matched drv_std_model converts
 * back to the driver's row with a cast (C11 6.7.2.1: a pointer to a
 * struct, suitably converted, points to its first member and back). */
typedef struct drv_std_model {
	const char *model;  /* *IDN? field 2, matched exactly */
	const char *note;   /* after the name in messages, e.g. "virtual
			       station"; NULL for none */
} drv_std_model;

/* Vendors a drv_std_info names, at most: a family sold under a name or
 * two (Keysight, formerly Agilent). */
#define DRV_STD_VENDORS_MAX 3

/* A driver's identity and model table, as protocol.c declares it. */
typedef struct drv_std_info {
	const char *name;            /* the descriptor's name, "acme-pm9" */
	const char *kind;            /* with its article: "a power meter" */
	/* *IDN? field 1 accepted, exactly; unused entries stay NULL, so
	 * the list is always NULL-terminated. */
	const char *vendors[DRV_STD_VENDORS_MAX + 1];
	const void *models;          /* the table: rows beginning with a
					drv_std_model, first match wins */
	size_t n_models;
	size_t model_size;           /* sizeof one row */
	int clear_status;            /* 1: send *CLS once the model matched */
} drv_std_info;

/* The three table fields of a drv_std_info from the array itself:
 * `.models = ..., .n_models = ..., .model_size = ...`. */
#define DRV_STD_MODELS(rows) \
	.models = (rows), .n_models = sizeof(rows) / sizeof((rows)[0]), \
	.model_size = sizeof((rows)[0])

/* The head of a driver's handle (its first member). */
typedef struct drv_std_dev {
	xport *x;                    /* the station's; never closed here */
	const drv_std_model *model;  /* the matched row; NULL when the driver
					matches its own way */
	char idn[SCPI_REPLY_MAX];    /* what identify reports */
} drv_std_dev;

/* What a driver does at open after the helpers: the handle is allocated,
 * dev.x set (and, by drv_std_scpi_open, dev.idn and dev.model); put the
 * instrument in the state the driver's invariants promise. On failure the
 * helper frees the handle, so a setup function never does. */
typedef int drv_std_setup_fn(void *handle, kgd_err *err);

/* The descriptor's open, for a driver whose instrument identifies itself
 * its own way: allocate a zeroed handle of size bytes (a struct beginning
 * with a drv_std_dev) with dev.x = x, run setup (may be NULL), and hand
 * the handle over only when all of it succeeded. KGD_ERR_ARG "<name>:
 * open: no transport" when x or handle is NULL, KGD_ERR_NOMEM naming the
 * URI, or setup's error; nothing stays allocated on failure. */
int drv_std_open(const char *name, size_t size, drv_std_setup_fn *setup,
		 xport *x, void **handle, kgd_err *err);

/* The descriptor's open for an SCPI instrument: as drv_std_open, with
 * "*IDN?" into dev.idn, the row of info's table that it names
 * (drv_std_match) into dev.model, then "*CLS" when info->clear_status
 * (so the first error the driver reports is its own, not a leftover)
 * before setup. An identity the table does not know is
 * drv_std_unsupported's error. */
int drv_std_scpi_open(const drv_std_info *info, size_t size,
		      drv_std_setup_fn *setup, xport *x, void **handle,
		      kgd_err *err);

/* The row whose model is field 2 of the *IDN? reply idn, from one of the
 * vendors; NULL when there is none. Pure. */
const drv_std_model *drv_std_match(const drv_std_info *info, const char *idn);

/* The table's models in table order, "A, B, C (note)", then " from " and
 * the vendors joined by " or ", into buf (cut to cap, always terminated);
 * returns buf. Pure. */
const char *drv_std_models_text(const drv_std_info *info, char *buf,
				size_t cap);

/* KGD_ERR_UNSUPPORTED: "<uri>: not <kind> this driver knows: *IDN?
 * replied '<idn>' (<name> supports <drv_std_models_text>)". The reply is
 * quoted up to DRV_STD_IDN_QUOTE_MAX characters, so the list always fits. */
#define DRV_STD_IDN_QUOTE_MAX 120
int drv_std_unsupported(const drv_std_info *info, xport *x, const char *idn,
			kgd_err *err);

/* The descriptor's close: frees the handle (never the transport). */
void drv_std_close(void *handle);

/* The descriptor's identify: the identity read at open (asking again
 * could disturb a measurement in flight), as scpi_copy_idn. */
int drv_std_identify(void *handle, char *buf, size_t cap, kgd_err *err);

/* The one exported symbol of a driver built on these helpers: the ABI of
 * the headers it was built with, drv_std_close and drv_std_identify; the
 * driver gives the rest as designated initializers:
 *   DRV_STD_DESCRIPTOR(.name = "acme-pm9", .klass = DRV_CLASS_POWER_METER,
 *                      .open = pm9_open, .pm = &pm9_ops,
 *                      .description = "Acme PM-9 power meters (SCPI)");
 * Plugins build with hidden visibility, so it is all a plugin exports. */
#define DRV_STD_DESCRIPTOR(...)                                          \
	__attribute__((visibility("default")))                           \
	const drv_descriptor kgd_driver = {                              \
		.abi_major = DRV_ABI_MAJOR, .abi_minor = DRV_ABI_MINOR,  \
		.close = drv_std_close, .identify = drv_std_identify,    \
		__VA_ARGS__                                              \
	}

/* DRV_STD_DESCRIPTOR with the driver's open written here, as a call of
 * drv_std_scpi_open (DRV_STD_SCPI_DRIVER, given the drv_std_info) or of
 * drv_std_open (DRV_STD_DRIVER, given the name) with the driver's handle
 * type and setup function. The ABI's open gets no driver context, so
 * every driver needs an open function of its own, and it is always that
 * one call:
 *   DRV_STD_SCPI_DRIVER(&pm9_info, struct pm9_handle, pm9_setup,
 *                       .name = "acme-pm9", ...as above, without .open);
 *   DRV_STD_DRIVER("acme-prober", struct prober_handle, prober_setup,
 *                  .klass = ..., .prober = ..., .description = ...);
 * The open is a static function named drv_std_open_this_driver. */
#define DRV_STD_SCPI_DRIVER(info, handle_type, setup, ...)                \
	static int drv_std_open_this_driver(xport *x, void **handle,     \
					    kgd_err *err)                \
	{                                                                \
		return drv_std_scpi_open(info, sizeof(handle_type), setup,  \
					 x, handle, err);                \
	}                                                                \
	DRV_STD_DESCRIPTOR(.open = drv_std_open_this_driver, __VA_ARGS__)

#define DRV_STD_DRIVER(drv_name, handle_type, setup, ...)                 \
	static int drv_std_open_this_driver(xport *x, void **handle,     \
					    kgd_err *err)                \
	{                                                                \
		return drv_std_open(drv_name, sizeof(handle_type), setup, x, \
				    handle, err);                        \
	}                                                                \
	DRV_STD_DESCRIPTOR(.name = drv_name,                             \
			   .open = drv_std_open_this_driver, __VA_ARGS__)

#ifdef __cplusplus
}
#endif
#endif
