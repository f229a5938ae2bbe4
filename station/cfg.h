/*
 * station/cfg.h - the station config: which driver and which URI stand
 * behind each role a sequence names.
 *
 *   station: cell-3                 # station name stored with every run
 *   plugin_path: [/opt/kgd/plugins] # optional, absolute folders searched
 *                                   # after the station's own plugins
 *   instruments:
 *     pm: {driver: keysight-n774x, uri: "tcp://127.0.0.1:5025", timeout_ms: 2000}
 *
 * Errors name file:line:column.
 */
#ifndef KGD_CFG_H
#define KGD_CFG_H

#include <stddef.h>
#include "kgd/status.h"

typedef struct cfg_instrument {
	char *role;
	char *driver;
	char *uri;
	int timeout_ms;      /* 0: XPORT_DEFAULT_TIMEOUT_MS */
	int line, column;
} cfg_instrument;

typedef struct cfg_station {
	char *path;
	char *name;
	char **plugin_path;
	size_t n_plugin_path;
	cfg_instrument *instruments;
	size_t n_instruments;
} cfg_station;

/* Parse and validate the file at path. On error, err->msg is
 * "path:line:column: message" ("path: <strerror>" for a missing or
 * unreadable file) and *out is untouched. On success *out owns everything;
 * release with cfg_free(). "instruments" is required (it may be empty). */
int cfg_load(const char *path, cfg_station **out, kgd_err *err);
void cfg_free(cfg_station *c);

/* As cfg_load, but report (may be NULL) gets EVERY problem, in file order;
 * err gets the first. For `station check`. */
int cfg_check(const char *path, void (*report)(void *user, const char *msg),
	      void *user, kgd_err *err);
const cfg_instrument *cfg_find_role(const cfg_station *c, const char *role);

#endif
