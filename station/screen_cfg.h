/*
 * station/screen_cfg.h - the screen config loader (`station screen
 * --config FILE`; format: docs/REPORTS.md "The outlier screen").
 */
#ifndef KGD_SCREEN_CFG_H
#define KGD_SCREEN_CFG_H

#include "kgd/status.h"
#include "scr.h"

/* Load and check path. Every problem is handed to report (may be NULL)
 * as "path:line:column: message", in file order; the first is left in
 * err. KGD_OK and *out (free with scr_config_free), or KGD_ERR_PARSE /
 * NOT_FOUND / IO / NOMEM with nothing handed out. */
int screen_cfg_load(const char *path, void (*report)(void *user, const char *msg),
		    void *user, scr_config **out, kgd_err *err);

#endif
