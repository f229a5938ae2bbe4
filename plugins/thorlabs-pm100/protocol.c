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
};

const pm100_model *pm100_match_idn(const char *idn)
{
	const char *c1 = strchr(idn, ',');
	const char *c2 = c1 ? strchr(c1 + 1, ',') : NULL;
	size_t vlen, mlen;
	int vendor_ok = 0;

	if (!c2)
		return NULL;
	vlen = (size_t)(c1 - idn);
	mlen = (size_t)(c2 - c1 - 1);
	for (size_t i = 0; i < sizeof(vendors) / sizeof(vendors[0]); i++)
		if (strlen(vendors[i]) == vlen && strncmp(idn, vendors[i], vlen) == 0)
			vendor_ok = 1;
	if (!vendor_ok)
		return NULL;
	for (size_t i = 0; i < sizeof(models) / sizeof(models[0]); i++)
		if (strlen(models[i].model) == mlen
		    && strncmp(c1 + 1, models[i].model, mlen) == 0)
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
