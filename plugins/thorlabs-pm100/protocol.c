/*
 * plugins/thorlabs-pm100/protocol.c - see protocol.h.
 *
 * Commands from the Thorlabs PM100D/PM100USB/PM101/PM400 SCPI references
 * as docs/INSTRUMENTS.md lists them. The manuals give "1 sample takes
 * approx. 3 ms" for SENS:AVER:COUN; that figure is the table's sample_s.
 */
#include "protocol.h"

#include <string.h>

static const pm100_cmdset cmds_pm100 = {
	.name = "PM100",
	.fmt = {
		[PM100_CMD_CLEAR_STATUS] = "*CLS",
		[PM100_CMD_UNIT_WATT] = "SENS:POW:UNIT W",
		[PM100_CMD_AUTO_RANGE] = "SENS:POW:RANG:AUTO 1",
		[PM100_CMD_CONF_POWER] = "CONF:POW",
		[PM100_CMD_SET_WAVELENGTH] = "SENS:CORR:WAV %.3f",
		[PM100_CMD_SET_AVERAGING] = "SENS:AVER:COUN %d",
		[PM100_CMD_MEASURE] = "MEAS:POW?",
	},
	.sample_s = 0.003,
};

static const pm100_model models[] = {
	{"PM100D", &cmds_pm100},
	{"PM100USB", &cmds_pm100},
	{"PM100A", &cmds_pm100},
	{"PM101", &cmds_pm100},
	{"PM101U", &cmds_pm100},
	{"PM400", &cmds_pm100},
};

static const char *const vendors[] = {
	"Thorlabs",
	NULL,
};

const pm100_model *pm100_match_idn(const char *idn)
{
	for (size_t i = 0; i < sizeof(models) / sizeof(models[0]); i++)
		if (scpi_idn_matches(idn, vendors, models[i].model))
			return &models[i];
	return NULL;
}

const char *pm100_known_models(void)
{
	return "PM100D, PM100USB, PM100A, PM101, PM101U, PM400";
}

const char *pm100_fmt(const pm100_model *m, enum pm100_cmd c)
{
	return m->cmds->fmt[c];
}
