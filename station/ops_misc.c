/*
 * station/ops_misc.c - operations without a measurement class: match an
 * instrument's identity, wait, ask the operator.
 *
 * A prompt reads one line from the prompt input (stdin by default), or
 * takes the station page's answer when that came first. End of
 * input with no answer (a script, --quiet with nothing piped) is an error
 * of the step - the part gets the error bin, never a pass - because a
 * check nobody made must not look like one that passed.
 */
#include "run_int.h"

#include <errno.h>
#include <fnmatch.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

int run_op_identify(run_call *c, kgd_err *err)
{
	const char *glob = run_param_str(c->st, "glob", NULL);
	const char *rx = run_param_str(c->st, "regex", NULL);
	int rc;

	rc = c->r->plugin->desc->identify(c->r->h, c->text, sizeof(c->text), err);
	if (rc)
		return rc;
	if (glob) {
		c->matched = fnmatch(glob, c->text, 0) == 0;
	} else if (rx) {
		regex_t re;

		if (regcomp(&re, rx, REG_EXTENDED | REG_NOSUB) != 0)
			return kgd_err_set(err, KGD_ERR_ARG, "bad regex '%s'", rx);
		c->matched = regexec(&re, c->text, 0, NULL, 0) == 0;
		regfree(&re);
	}
	return KGD_OK;
}

/* Sleep in short slices so an abort is seen within 50 ms. */
int run_op_wait(run_call *c, kgd_err *err)
{
	return run_sleep(c->cx, run_param_num(c->st, "seconds", 0), err);
}

int run_op_prompt(run_call *c, kgd_err *err)
{
	const char *expect = run_param_str(c->st, "expect", NULL);
	int rc;

	/* The terminal or, with --ui-control, the station page: the first
	 * answer wins (progress.c). */
	rc = run_progress_ask(c->cx, run_param_str(c->st, "text", ""), expect,
			      c->text, sizeof(c->text), err);
	if (rc)
		return rc;
	if (!expect)
		c->matched = 1;
	else
		c->matched = strcasecmp(c->text, expect) == 0 ||
			     (strcasecmp(expect, "yes") == 0 &&
			      strcasecmp(c->text, "y") == 0);
	return KGD_OK;
}
