/*
 * station/plugin.h - finding, loading and validating driver plugins.
 *
 * A plugin is accepted only if it exports KGD_DRIVER_SYMBOL, was built for
 * this station's DRV_ABI_MAJOR, names itself, provides every operation its
 * instrument class requires, and sets each group of optional operations
 * that only work together (the BERT's multi-lane gate) whole or not at
 * all. Anything else is refused with a message naming the file, so a
 * broken plugin never reaches a run.
 *
 * Trust (docs/GUARANTEES.md): nothing is dlopen()ed - so no constructor
 * of it runs - before drv_plugin_trust() has accepted the file, its
 * folder and every folder above it: a driver name is a file name of
 * [a-z0-9-] in a folder of the search path, never a path; files and
 * folders belong to root or to the user the station runs as, and no one
 * else may write them; a plugin found as <name>.so must call itself
 * <name>.
 */
#ifndef KGD_PLUGIN_H
#define KGD_PLUGIN_H

#include <stddef.h>
#include "kgd/driver.h"

typedef struct drv_plugin {
	char *path;                  /* file it was loaded from, as given */
	char *file;                  /* the same with symlinks resolved: the
	                                file dlopen()ed and hashed */
	void *dl;                    /* dlopen handle */
	const drv_descriptor *desc;  /* points into the loaded object */
	const drv_timing *timing;    /* its optional KGD_DRIVER_TIMING_SYMBOL;
	                                NULL: not declared */
	char sha256[65];             /* hex SHA-256 of the file's bytes */
} drv_plugin;

/* Longest driver name; a name is [a-z0-9-]+ (drv_name_valid). */
#define DRV_NAME_MAX 64
int drv_name_valid(const char *name);

/* The folders searched for "<driver>.so", in this order (a run takes the
 * first <driver>.so found):
 *  1. the station's own plugins: the installed plugin folder beside the
 *     program (drv_plugin_installed_dir); for a program running from the
 *     build tree (drv_plugin_build_tree) the
 *     build's plugin folder instead - a build never mixes with an
 *     installed set;
 *  2. the extra folders given (the station config's plugin_path), in
 *     order: they add drivers, they never shadow the station's own;
 *  3. $KGD_PLUGIN_PATH (colon-separated), for build-tree programs only
 *     (tests, benchmarks); an installed station ignores it.
 * Fills dirs (pointers into static or caller storage) and returns count. */
size_t drv_plugin_dirs(const char *const *extra, size_t n_extra,
		       const char **dirs, size_t max_dirs);

/* 1 when the running program sits in the build tree's bin/ folder. */
int drv_plugin_build_tree(void);

/* The installed plugin folder of the running program: <its folder>/
 * ../lib/kgd-station/plugins (as installed, resolved when it exists), so
 * an installed tree moved anywhere still finds its own drivers. Static
 * storage. */
const char *drv_plugin_installed_dir(void);

/* May path be loaded? Resolves it (real receives the resolved path, cap
 * >= PATH_MAX) and refuses, naming the file or folder at fault: a file
 * that is not a regular file; a file or any folder above it owned by
 * neither root nor this user; a file or its folder writable by its group
 * or others; a folder further up writable by group or others without the
 * sticky bit (/tmp is fine). Never opens the file. */
int drv_plugin_trust(const char *path, char *real, size_t cap, kgd_err *err);

/* Load and validate one file: drv_plugin_trust() first, then dlopen of
 * the resolved file. *out owns the handle; drv_plugin_unload(). */
int drv_plugin_load(const char *path, drv_plugin **out, kgd_err *err);
void drv_plugin_unload(drv_plugin *p);

/* Where driver `name` would be loaded from, without loading it: the first
 * dirs[i]/<name>.so that exists, checked by drv_plugin_trust(). Refused:
 * a name that is not [a-z0-9-]+ (KGD_ERR_ARG), a relative folder on the
 * way to it (KGD_ERR_ARG); KGD_ERR_NOT_FOUND names the driver and every
 * folder searched. path (cap >= PATH_MAX) receives the file. */
int drv_plugin_locate(const char *name, const char *const *dirs,
		      size_t n_dirs, char *path, size_t cap, kgd_err *err);

/* drv_plugin_locate(), then load it; refused (KGD_ERR_ABI) when its
 * descriptor calls it anything but `name`. */
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
