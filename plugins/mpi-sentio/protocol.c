/*
 * plugins/mpi-sentio/protocol.c - see protocol.h.
 *
 * Reply format from MPI's SENTIO remote programming: one LF-terminated line
 * "<code>,<cmdId>,<message>" per command after "*RCS 1"; error = code &
 * 1023, status = code >> 10. A command that times out may still be answered
 * later; the stale line would then be taken as the next command's reply, so
 * a timeout drops whatever the transport already buffered (xport_clear).
 */
#include "protocol.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const sentio_cmdset cmds_sentio = {
	.name = "SENTIO",
	.cmd = {
		[SENTIO_CMD_REMOTE] = {"*RCS 1", 0},
		[SENTIO_CMD_IDN] = {"*IDN?", 0},
		[SENTIO_CMD_LOAD_WAFER] = {"loader:load_wafer %d", 120000},
		[SENTIO_CMD_ALIGN] = {"vis:align_wafer", 60000},
		[SENTIO_CMD_STEP_FIRST] = {"map:step_first_die", 0},
		[SENTIO_CMD_STEP_NEXT] = {"map:step_next_die", 0},
		[SENTIO_CMD_STEP_DIE] = {"map:step_die %d,%d,%d", 0},
		[SENTIO_CMD_CURRENT_DIE] = {"map:die:get_current_index", 0},
		[SENTIO_CMD_NUM_DIES] = {"map:get_num_dies", 0},
		[SENTIO_CMD_CONTACT] = {"move_chuck_contact", 0},
		[SENTIO_CMD_SEPARATE] = {"move_chuck_separation", 0},
		[SENTIO_CMD_SET_BIN] = {"map:bins:set_bin %d,%d,%d", 0},
		[SENTIO_CMD_UNLOAD_WAFER] = {"loader:unload_wafer", 120000},
		/* SiPh: the East positioner's NanoCube, 0..100 um per axis. */
		[SENTIO_CMD_FIBER_MOVE] = {"siph:move_nanocube_xy East,%.4f,%.4f", 0},
		[SENTIO_CMD_FIBER_POS] = {"siph:get_nanocube_xy East", 0},
		[SENTIO_CMD_DIAMETER] = {"map:get_diameter", 0},
		[SENTIO_CMD_INDEX_SIZE] = {"map:get_index_size", 0},
		[SENTIO_CMD_NUM_COLS] = {"map:get_num_cols", 0},
		[SENTIO_CMD_NUM_ROWS] = {"map:get_num_rows", 0},
		[SENTIO_CMD_GRID_PARAMS] = {"map:get_grid_params", 0},
		[SENTIO_CMD_ORIENT_MARKER] = {"map:get_orient_marker", 0},
	},
};

/* First match wins; the last row matches every identity. */
static const sentio_model models[] = {
	{"SENTIO", "MPI SENTIO", &cmds_sentio},
	{"", "MPI SENTIO (unidentified)", &cmds_sentio},
};

const sentio_model *sentio_match_idn(const char *idn)
{
	for (size_t i = 0; i < sizeof(models) / sizeof(models[0]); i++)
		if (strstr(idn ? idn : "", models[i].match))
			return &models[i];
	return &models[sizeof(models) / sizeof(models[0]) - 1];
}

int sentio_parse_reply(const char *line, long *code, long *cmd_id, char *msg,
		       size_t cap)
{
	char *end;

	*code = strtol(line, &end, 10);
	if (end == line || *end != ',')
		return -1;
	line = end + 1;
	*cmd_id = strtol(line, &end, 10);
	if (end == line || (*end != ',' && *end != '\0'))
		return -1;
	if (*end == ',')
		end++;
	if (msg && cap) {
		snprintf(msg, cap, "%s", end);
	}
	return 0;
}

int sentio_parse_die(const char *msg, int *col, int *row, int *site)
{
	int c, r, s = 0, used = 0;

	if (sscanf(msg, " %d , %d %n", &c, &r, &used) != 2)
		return -1;
	if (msg[used] == ',') {
		int more = 0;

		if (sscanf(msg + used + 1, " %d %n", &s, &more) != 1)
			return -1;
		used += 1 + more;
	}
	if (msg[used] != '\0')
		return -1;
	*col = c;
	*row = r;
	if (site)
		*site = s;
	return 0;
}

/* Read one reply line, trailing CR and blanks dropped. */
static int read_reply(xport *x, char *reply, size_t cap, kgd_err *err)
{
	size_t len = 0;
	int rc = xport_read_line(x, reply, cap, &len, err);

	while (rc == KGD_OK && len && (reply[len - 1] == '\r' || reply[len - 1] == ' '))
		reply[--len] = '\0';
	return rc;
}

int sentio_start(xport *x, char *idn, size_t cap, kgd_err *err)
{
	/* Both rows take no argument: sent verbatim. */
	const sentio_cmdset *cmds = sentio_match_idn("")->cmds;
	const char *remote = cmds->cmd[SENTIO_CMD_REMOTE].fmt;
	const char *ask = cmds->cmd[SENTIO_CMD_IDN].fmt;
	char line[512], msg[SENTIO_MSG_MAX];
	long code, id;
	int rc;

	rc = xport_write_line(x, remote, err);
	if (rc) {
		kgd_err_prefix(err, "'%s': ", remote);
		return rc;
	}
	rc = xport_write_line(x, ask, err);
	if (rc == KGD_OK)
		rc = read_reply(x, line, sizeof(line), err);
	if (rc) {
		kgd_err_prefix(err, "'%s': ", ask);
		return rc;
	}
	if (sentio_parse_reply(line, &code, &id, msg, sizeof(msg)) != 0)
		snprintf(idn, cap, "%s", line);
	else if ((code & 1023) == 0 && msg[0])
		snprintf(idn, cap, "%s", msg);
	else
		snprintf(idn, cap, "MPI SENTIO prober at %s", xport_uri(x));
	return KGD_OK;
}

int sentio_exchange(xport *x, const sentio_model *m, enum sentio_cmd c,
		    char *msg, size_t cap, int *status, long *cmd_id,
		    kgd_err *err, ...)
{
	char line[256], reply[SENTIO_MSG_MAX + 64], text[SENTIO_MSG_MAX];
	int saved = xport_timeout(x), want = m->cmds->cmd[c].min_timeout_ms;
	long code, id;
	va_list ap;
	int n, rc;

	va_start(ap, err);
	n = vsnprintf(line, sizeof(line), m->cmds->cmd[c].fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line))
		return kgd_err_set(err, KGD_ERR_ARG, "%s: command '%s' does not fit",
				   xport_uri(x), m->cmds->cmd[c].fmt);
	rc = xport_write_line(x, line, err);
	if (rc == KGD_OK) {
		if (want > saved)
			xport_set_timeout(x, want);
		rc = read_reply(x, reply, sizeof(reply), err);
		if (want > saved)
			xport_set_timeout(x, saved);
		/* A late answer would be taken for the next command's. */
		if (rc == KGD_ERR_TIMEOUT)
			xport_clear(x, NULL);
	}
	if (rc) {
		kgd_err_prefix(err, "'%s': ", line);
		return rc;
	}
	if (sentio_parse_reply(reply, &code, &id, text, sizeof(text)))
		return kgd_err_set(err, KGD_ERR_PROTOCOL,
				   "%s: '%s': not a SENTIO reply: '%s'",
				   xport_uri(x), line, reply);
	if (code < 0)
		return kgd_err_set(err, KGD_ERR_PROTOCOL,
				   "%s: '%s': negative status code in '%s'",
				   xport_uri(x), line, reply);
	if (code & 1023)
		return kgd_err_set(err, KGD_ERR_INSTRUMENT,
				   "%s: '%s': prober error %ld: %s", xport_uri(x),
				   line, code & 1023, text[0] ? text : "(no message)");
	if (msg && cap)
		snprintf(msg, cap, "%s", text);
	if (status)
		*status = (int)(code >> 10);
	if (cmd_id)
		*cmd_id = id;
	return KGD_OK;
}
