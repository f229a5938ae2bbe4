/*
 * plugins/jbert-n4903b/protocol.c - see protocol.h.
 *
 * Syntax from the N4903B programming guide (:SOURce9:FREQuency:CW,
 * :SOURce1:PATTern:SELect, :SENSe1:GATE:...), extended to 16 lanes by
 * suffix as the station's contract says; BCO (compared bits) is the
 * project's addition, the real unit reports it on its own screen.
 */
#include "protocol.h"

#include <stdio.h>
#include <string.h>

static const jbert_cmdset cmds_n4903 = {
	.name = "N4903",
	.fmt = {
		[JBERT_CMD_CLEAR_STATUS] = "*CLS",
		/* %.6E: a 53.125 Gb/s rate is 5.312500E+10, exactly. */
		[JBERT_CMD_SET_RATE] = ":SOUR9:FREQ:CW %.6E",
		[JBERT_CMD_GEN_PATTERN] = ":SOUR%d:PATT:SEL %s",
		[JBERT_CMD_DET_PATTERN] = ":SENS%d:PATT:SEL %s",
		[JBERT_CMD_OUTPUT] = ":OUTP%d:STAT %d",
		[JBERT_CMD_GATE_SINGLE] = ":SENS%d:GATE:MODE SING",
		[JBERT_CMD_GATE_TIME] = ":SENS%d:GATE:PER:TIME %.6g",
		[JBERT_CMD_GATE_START] = ":SENS%d:GATE:STAT 1",
		[JBERT_CMD_GATE_RUNNING] = ":SENS%d:GATE:STAT?",
		[JBERT_CMD_BITS] = ":FETC:SENS%d:BCO?",
		[JBERT_CMD_ERRORS] = ":FETC:SENS%d:ECO?",
		[JBERT_CMD_QUES_COND] = ":STAT:QUES%d:COND?",
		/* Every command carries its leading ':', so each is
		 * absolute, whatever header path the previous one left. */
		[JBERT_CMD_SEPARATOR] = ";",
	},
};

static const jbert_model models[] = {
	{"N4903B", 16, &cmds_n4903},
	{"N4903A", 16, &cmds_n4903},
};

static const char *const vendors[] = {
	"Keysight Technologies",
	"Agilent Technologies",
	NULL,
};

static const struct {
	const char *abi;
	const char *wire;
} patterns[] = {
	{"PRBS7", "PRBS7"},
	{"PRBS15", "PRBS15"},
	{"PRBS23", "PRBS23"},
	{"PRBS31", "PRBS31"},
};

const char *jbert_pattern(const char *abi_name)
{
	for (size_t i = 0; abi_name && i < sizeof(patterns) / sizeof(patterns[0]); i++)
		if (strcmp(abi_name, patterns[i].abi) == 0)
			return patterns[i].wire;
	return NULL;
}

const jbert_model *jbert_match_idn(const char *idn)
{
	for (size_t i = 0; i < sizeof(models) / sizeof(models[0]); i++)
		if (scpi_idn_matches(idn, vendors, models[i].model))
			return &models[i];
	return NULL;
}

const char *jbert_known_models(void)
{
	return "N4903B, N4903A";
}

const char *jbert_fmt(const jbert_model *m, enum jbert_cmd c)
{
	return m->cmds->fmt[c];
}

void jbert_msg_init(jbert_msg *msg, const jbert_model *m)
{
	msg->model = m;
	msg->text[0] = '\0';
	msg->len = 0;
	msg->n_cmds = 0;
}

int jbert_msg_vadd(jbert_msg *msg, enum jbert_cmd c, va_list ap)
{
	const char *sep = msg->n_cmds ? jbert_fmt(msg->model, JBERT_CMD_SEPARATOR) : "";
	size_t len = msg->len, room;
	int n;

	n = snprintf(msg->text + len, sizeof(msg->text) - len, "%s", sep);
	if (n < 0 || (size_t)n >= sizeof(msg->text) - len)
		goto full;
	len += (size_t)n;
	room = sizeof(msg->text) - len;
	n = vsnprintf(msg->text + len, room, jbert_fmt(msg->model, c), ap);
	if (n < 0 || (size_t)n >= room)
		goto full;
	msg->len = len + (size_t)n;
	msg->n_cmds++;
	return 0;
full:
	/* Never half a command on the wire. */
	msg->text[msg->len] = '\0';
	return -1;
}

int jbert_msg_add(jbert_msg *msg, enum jbert_cmd c, ...)
{
	va_list ap;
	int rc;

	va_start(ap, c);
	rc = jbert_msg_vadd(msg, c, ap);
	va_end(ap);
	return rc;
}
