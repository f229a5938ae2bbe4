/*
 * station/plugin.h - finding, loading and validating driver plugins.
 *
 * A plugin is accepted only if it exports KGD_DRIVER_SYMBOL, was built for
 * this station's DRV_ABI_MAJOR, names itself, provides every operation its
 * instrument class requires, and sets each group of optional operations
 * that only work together (the BERT's multi-lane gate) whole or not at
 * all. Anything else is refused with a message naming the file, so a
 * broken plugin never reaches a run.
 */
#ifndef KGD_PLUGIN_H
#define KGD_PLUGIN_H

#include <stddef.h>
#include "kgd/driver.h"

typedef struct drv_plugin {
	char *path;                  /* file it was loaded from */
	void *dl;                    /* dlopen handle */
	const drv_descriptor *desc;  /* points into the loaded object */
} drv_plugin;

/* The folders searched for "<driver>.so", in order: $KGD_PLUGIN_PATH
 * (colon-separated), the build's plugin folder, the extra folders given
 * (e.g. from the station config), then the installed plugin folder.
 * Fills dirs (pointers into static or caller storage) and returns count. */
size_t drv_plugin_dirs(const char *const *extra, size_t n_extra,
		       const char **dirs, size_t max_dirs);

/* Load and validate one file. *out owns the handle; drv_plugin_unload(). */
int drv_plugin_load(const char *path, drv_plugin **out, kgd_err *err);
void drv_plugin_unload(drv_plugin *p);

/* Find driver `name` in dirs and load it. KGD_ERR_NOT_FOUND names the
 * driver and every folder searched. */
int drv_plugin_find(const char *name, const char *const *dirs, size_t n_dirs,
		    drv_plugin **out, kgd_err *err);

/* 1 when p is a BERT that gates several lanes at once (driver ABI 1.1:
 * configure_lanes, gate_start and gate_read all set), else 0. A plugin of
 * minor 0 is 0 whatever its table holds past the 1.0 operations. */
int drv_plugin_bert_multilane(const drv_plugin *p);

/* Human names for classes and the class's operation list, for `station
 * plugins`. */
const char *drv_class_name(int klass);

/* The operations the plugin provides (open close identify, then its
 * class's required and optional operations that are not NULL), as a
 * space-separated list into buf; truncated to cap. */
void drv_plugin_ops(const drv_plugin *p, char *buf, size_t cap);

#endif
