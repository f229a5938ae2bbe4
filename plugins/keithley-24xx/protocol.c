/*
 * plugins/keithley-24xx/protocol.c - see protocol.h.
 *
 * 2400 family (Model 2400 Series SourceMeter User's Manual, SCPI): the
 * source function and level, compliance on the sense side
 * (:SENS:VOLT:PROT while sourcing current), :FORM:ELEM VOLT,CURR so :READ?
 * answers "volts,amps". 2450 family (Model 2450 Reference Manual, SCPI
 * mode): compliance is a source limit (:SOUR:CURR:VLIM, :SOUR:VOLT:ILIM)
 * and :READ? names the buffer and the elements (sourced value, reading).
 * docs/INSTRUMENTS.md lists both.
 */
#include "protocol.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const k24_cmdset cmds_2400 = {
	.name = "2400",
	.fmt = {
		[K24_CMD_SETUP] = ":FORM:ELEM VOLT,CURR",
		[K24_CMD_SOURCE_CURR] = ":SOUR:FUNC CURR;:SOUR:CURR:LEV %.9g;"
					":SENS:FUNC \"VOLT\";:SENS:VOLT:PROT %.9g",
		[K24_CMD_SOURCE_VOLT] = ":SOUR:FUNC VOLT;:SOUR:VOLT:LEV %.9g;"
					":SENS:FUNC \"CURR\";:SENS:CURR:PROT %.9g",
		[K24_CMD_OUTPUT_ON] = ":OUTP ON",
		[K24_CMD_OUTPUT_OFF] = ":OUTP OFF",
		[K24_CMD_READ] = ":READ?",
		/* Model 2400 manual, "Sweep operation": staircase sweep
		 * mode, points, and the trigger count that takes them all. */
		[K24_CMD_SWEEP_CURR] = ":SOUR:FUNC CURR;:SOUR:CURR:STAR %.9g;"
				       ":SOUR:CURR:STOP %.9g;:SOUR:SWE:POIN %d;"
				       ":SOUR:CURR:MODE SWE;:SENS:FUNC \"VOLT\";"
				       ":SENS:VOLT:PROT %.9g;:TRIG:COUN %d",
		[K24_CMD_SWEEP_VOLT] = ":SOUR:FUNC VOLT;:SOUR:VOLT:STAR %.9g;"
				       ":SOUR:VOLT:STOP %.9g;:SOUR:SWE:POIN %d;"
				       ":SOUR:VOLT:MODE SWE;:SENS:FUNC \"CURR\";"
				       ":SENS:CURR:PROT %.9g;:TRIG:COUN %d",
		[K24_CMD_SWEEP_READ] = ":READ?",
		[K24_CMD_SWEEP_END] = ":SOUR:CURR:MODE FIX;:SOUR:VOLT:MODE FIX;"
				      ":TRIG:COUN 1",
	},
	.reply = K24_REPLY_VOLT_CURR,
};

static const k24_cmdset cmds_2450 = {
	.name = "2450",
	.fmt = {
		[K24_CMD_SETUP] = NULL,
		[K24_CMD_SOURCE_CURR] = ":SOUR:FUNC CURR;:SOUR:CURR %.9g;"
					":SOUR:CURR:VLIM %.9g;:SENS:FUNC \"VOLT\"",
		[K24_CMD_SOURCE_VOLT] = ":SOUR:FUNC VOLT;:SOUR:VOLT %.9g;"
					":SOUR:VOLT:ILIM %.9g;:SENS:FUNC \"CURR\"",
		[K24_CMD_OUTPUT_ON] = ":OUTP ON",
		[K24_CMD_OUTPUT_OFF] = ":OUTP OFF",
		[K24_CMD_READ] = ":READ? \"defbuffer1\",SOUR,READ",
		/* Model 2450 reference manual: the linear sweep builds a
		 * trigger model; its readings land in defbuffer1. The limit
		 * first (positional arguments: start, stop, points, limit). */
		[K24_CMD_SWEEP_CURR] = ":SOUR:FUNC CURR;:SOUR:CURR:VLIM %4$.9g;"
				       ":SENS:FUNC \"VOLT\";"
				       ":SOUR:SWE:CURR:LIN %1$.9g,%2$.9g,%3$d",
		[K24_CMD_SWEEP_VOLT] = ":SOUR:FUNC VOLT;:SOUR:VOLT:ILIM %4$.9g;"
				       ":SENS:FUNC \"CURR\";"
				       ":SOUR:SWE:VOLT:LIN %1$.9g,%2$.9g,%3$d",
		[K24_CMD_SWEEP_READ] = ":INIT;*WAI;:TRAC:DATA? 1,%d,\"defbuffer1\",SOUR,READ",
		[K24_CMD_SWEEP_END] = NULL,
	},
	.reply = K24_REPLY_SOUR_READ,
};

static const k24_model models[] = {
	{{"MODEL 2400", NULL}, &cmds_2400, 210, 1.05},
	{{"MODEL 2401", NULL}, &cmds_2400, 21, 1.05},
	{{"MODEL 2410", NULL}, &cmds_2400, 1100, 1.05},
	{{"MODEL 2420", NULL}, &cmds_2400, 63, 3.15},
	{{"MODEL 2440", NULL}, &cmds_2400, 42, 5.25},
	{{"MODEL 2450", NULL}, &cmds_2450, 210, 1.05},
	{{"MODEL 2460", NULL}, &cmds_2450, 105, 7.35},
};

const drv_std_info k24_info = {
	.name = K24_DRIVER, .kind = "a SourceMeter", DRV_STD_MODELS(models),
	/* The 2400 family says "INC.", the 2450 family does not. */
	.vendors = {"KEITHLEY INSTRUMENTS INC.", "KEITHLEY INSTRUMENTS"},
	.clear_status = 1,
};

int k24_setup(xport *x, const k24_model *m, kgd_err *err)
{
	const char *f = m->cmds->fmt[K24_CMD_SETUP];

	return f ? scpi_command(x, err, "%s", f) : KGD_OK;
}

int k24_source(xport *x, const k24_model *m, int current, double level,
	       double limit, kgd_err *err)
{
	return scpi_command(x, err, m->cmds->fmt[current ? K24_CMD_SOURCE_CURR
							 : K24_CMD_SOURCE_VOLT],
			    level, limit);
}

int k24_output(xport *x, const k24_model *m, int on, kgd_err *err)
{
	return scpi_command(x, err, "%s",
			    m->cmds->fmt[on ? K24_CMD_OUTPUT_ON : K24_CMD_OUTPUT_OFF]);
}

/* "a,b" into two numbers; 9.9E37 (overflow) is an over-range. */
static int two_numbers(xport *x, const char *cmd, const char *reply,
		       double *a, double *b, kgd_err *err)
{
	char *end;

	*a = strtod(reply, &end);
	if (end == reply || *end != ',')
		goto bad;
	reply = end + 1;
	*b = strtod(reply, &end);
	if (end == reply || (*end && *end != '\r' && *end != '\n'))
		goto bad;
	if (!isfinite(*a) || !isfinite(*b) || fabs(*a) > 9e37 || fabs(*b) > 9e37)
		return kgd_err_set(err, KGD_ERR_OVERRANGE,
				   "%s: %s: reading over range ('%.60s')",
				   xport_uri(x), cmd, reply);
	return KGD_OK;
bad:
	return kgd_err_set(err, KGD_ERR_PROTOCOL,
			   "%s: %s: expected two numbers 'a,b', got '%.60s'",
			   xport_uri(x), cmd, reply);
}

int k24_read(xport *x, const k24_model *m, int current, double *volts,
	     double *amps, kgd_err *err)
{
	const char *cmd = m->cmds->fmt[K24_CMD_READ];
	char reply[SCPI_REPLY_MAX];
	double a = NAN, b = NAN;
	int rc = scpi_query(x, reply, sizeof(reply), err, "%s", cmd);

	if (rc == KGD_OK)
		rc = two_numbers(x, cmd, reply, &a, &b, err);
	if (rc)
		return rc;
	if (m->cmds->reply == K24_REPLY_VOLT_CURR) {
		*volts = a;
		*amps = b;
	} else {
		*volts = current ? b : a;
		*amps = current ? a : b;
	}
	return KGD_OK;
}

/* The 2 x n numbers of a sweep's reply into volts[], amps[]. */
static int sweep_pairs(xport *x, const k24_model *m, int current, const char *cmd,
		       const char *reply, size_t n, double *volts, double *amps,
		       kgd_err *err)
{
	const char *p = reply;
	char *end;

	for (size_t k = 0; k < n; k++) {
		double a = strtod(p, &end), b;

		if (end == p || *end != ',')
			goto bad;
		p = end + 1;
		b = strtod(p, &end);
		if (end == p || (k + 1 < n ? *end != ',' : (*end && *end != '\r' && *end != '\n')))
			goto bad;
		p = end + 1;
		if (!isfinite(a) || !isfinite(b) || fabs(a) > 9e37 || fabs(b) > 9e37)
			return kgd_err_set(err, KGD_ERR_OVERRANGE, "%s: %s: point %zu of "
					   "%zu over range", xport_uri(x), cmd, k + 1, n);
		if (m->cmds->reply == K24_REPLY_VOLT_CURR) {
			volts[k] = a;
			amps[k] = b;
		} else {
			volts[k] = current ? b : a;
			amps[k] = current ? a : b;
		}
	}
	return KGD_OK;
bad:
	return kgd_err_set(err, KGD_ERR_PROTOCOL, "%s: %s: expected %zu pairs of "
			   "numbers 'a,b,...', got '%.60s'", xport_uri(x), cmd, n, reply);
}

int k24_sweep(xport *x, const k24_model *m, int current, double start, double stop,
	      size_t n, double limit, double *volts, double *amps, kgd_err *err)
{
	const char *rd = m->cmds->fmt[K24_CMD_SWEEP_READ];
	const char *fin = m->cmds->fmt[K24_CMD_SWEEP_END];
	char *reply = malloc(SCPI_REPLY_MAX), cmd[96];
	int rc, rc2, np = (int)n;
	kgd_err e2;

	if (!reply)
		return kgd_err_set(err, KGD_ERR_NOMEM, "out of memory");
	snprintf(cmd, sizeof(cmd), rd, np);
	rc = scpi_command(x, err, m->cmds->fmt[current ? K24_CMD_SWEEP_CURR
						     : K24_CMD_SWEEP_VOLT],
			  start, stop, np, limit, np);
	if (rc == KGD_OK)
		rc = k24_output(x, m, 1, err);
	if (rc == KGD_OK)
		rc = scpi_query(x, reply, SCPI_REPLY_MAX, err, rd, np);
	if (rc == KGD_OK)
		rc = sweep_pairs(x, m, current, cmd, reply, n, volts, amps, err);
	/* Off and back to a fixed source whatever happened (a sweep left
	 * armed would run again on the next :READ?); the first error is the
	 * one reported. */
	rc2 = k24_output(x, m, 0, rc ? &e2 : err);
	if (rc2 == KGD_OK && fin)
		rc2 = scpi_command(x, rc ? &e2 : err, "%s", fin);
	if (rc == KGD_OK)
		rc = rc2;
	free(reply);
	return rc;
}
