/*
 * plugins/jbert-n4903b/protocol.c - see protocol.h.
 *
 * Syntax from the N4903B programming guide (:SOURce9:FREQuency:CW,
 * :SOURce1:PATTern:SELect, :SENSe1:GATE:...), extended to 16 lanes by
 * suffix as the station's contract says; BCO (compared bits) is the
 * project's addition, the real unit reports it on its own screen.
 */
#include "protocol.h"

#include <stdarg.h>
#include <string.h>

static const jbert_cmdset cmds_n4903 = {
	.name = "N4903",
	.fmt = {
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
	},
};

static const jbert_model models[] = {
	{{"N4903B", NULL}, 16, &cmds_n4903},
	{{"N4903A", NULL}, 16, &cmds_n4903},
};

const drv_std_info jbert_info = {
	.name = JBERT_DRIVER, .kind = "a BERT", DRV_STD_MODELS(models),
	.vendors = {"Keysight Technologies", "Agilent Technologies"},
	.clear_status = 1,
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

const char *jbert_fmt(const jbert_model *m, enum jbert_cmd c)
{
	return m->cmds->fmt[c];
}

int jbert_msg_add(scpi_msg *msg, const jbert_model *m, enum jbert_cmd c, ...)
{
	va_list ap;
	int rc;

	va_start(ap, c);
	rc = scpi_msg_vadd(msg, m->cmds->fmt[c], ap);
	va_end(ap);
	return rc;
}

int jbert_msg_queue(xport *x, const jbert_model *m, scpi_msg *msg,
		    kgd_err *err, enum jbert_cmd c, ...)
{
	va_list ap;
	int full, rc;

	va_start(ap, c);
	full = scpi_msg_vadd(msg, m->cmds->fmt[c], ap);
	va_end(ap);
	if (!full)
		return KGD_OK;
	rc = scpi_msg_command(x, msg, err);
	if (rc)
		return rc;
	va_start(ap, c);
	full = scpi_msg_vadd(msg, m->cmds->fmt[c], ap);
	va_end(ap);
	if (full)
		return kgd_err_set(err, KGD_ERR_ARG, "%s: '%s' does not fit one message",
				   xport_uri(x), m->cmds->fmt[c]);
	return KGD_OK;
}

int jbert_output(xport *x, const jbert_model *m, int lane, int on, kgd_err *err)
{
	return scpi_command(x, err, m->cmds->fmt[JBERT_CMD_OUTPUT], lane, on ? 1 : 0);
}

int jbert_gate_running(xport *x, const jbert_model *m, int lane, long *running,
		       kgd_err *err)
{
	return scpi_query_long(x, running, err, m->cmds->fmt[JBERT_CMD_GATE_RUNNING],
			       lane);
}

int jbert_read_counts(xport *x, const jbert_model *m, int lane, long *cond,
		      double *bits, double *errors, kgd_err *err)
{
	int rc = scpi_query_long(x, cond, err, m->cmds->fmt[JBERT_CMD_QUES_COND], lane);

	if (rc == KGD_OK)
		rc = scpi_measure_double(x, bits, err, m->cmds->fmt[JBERT_CMD_BITS], lane);
	if (rc == KGD_OK)
		rc = scpi_measure_double(x, errors, err, m->cmds->fmt[JBERT_CMD_ERRORS],
					 lane);
	return rc;
}
