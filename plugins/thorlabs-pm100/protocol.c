/*
 * plugins/thorlabs-pm100/protocol.c - see protocol.h.
 *
 * Commands from the Thorlabs PM100D/PM100USB/PM101/PM400 SCPI references
 * as docs/INSTRUMENTS.md lists them. The manuals give "1 sample takes
 * approx. 3 ms" for SENS:AVER:COUN; that figure is the table's sample_s.
 */
#include "protocol.h"

static const pm100_cmdset cmds_pm100 = {
	.name = "PM100",
	.fmt = {
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
	{{"PM100D", NULL}, &cmds_pm100},
	{{"PM100USB", NULL}, &cmds_pm100},
	{{"PM100A", NULL}, &cmds_pm100},
	{{"PM101", NULL}, &cmds_pm100},
	{{"PM101U", NULL}, &cmds_pm100},
	{{"PM400", NULL}, &cmds_pm100},
};

const drv_std_info pm100_info = {
	.name = PM100_DRIVER, .kind = "a power meter", DRV_STD_MODELS(models),
	.vendors = {"Thorlabs"},
	.clear_status = 1,
};

int pm100_power_mode(xport *x, const pm100_model *m, kgd_err *err)
{
	static const enum pm100_cmd setup[] = {
		PM100_CMD_UNIT_WATT, PM100_CMD_AUTO_RANGE, PM100_CMD_CONF_POWER,
	};
	int rc = KGD_OK;

	/* Argument-less rows are sent verbatim through "%s". */
	for (size_t i = 0; rc == KGD_OK && i < sizeof(setup) / sizeof(setup[0]); i++)
		rc = scpi_command(x, err, "%s", m->cmds->fmt[setup[i]]);
	return rc;
}

int pm100_set_wavelength(xport *x, const pm100_model *m, double nm, kgd_err *err)
{
	return scpi_command(x, err, m->cmds->fmt[PM100_CMD_SET_WAVELENGTH], nm);
}

int pm100_set_averaging(xport *x, const pm100_model *m, int samples, kgd_err *err)
{
	return scpi_command(x, err, m->cmds->fmt[PM100_CMD_SET_AVERAGING], samples);
}

int pm100_measure(xport *x, const pm100_model *m, double *watts, kgd_err *err)
{
	/* scpi_measure_double refuses 9.9E37/NaN (KGD_ERR_OVERRANGE) and a
	 * reading taken while the meter queued an error. */
	return scpi_measure_double(x, watts, err, "%s", m->cmds->fmt[PM100_CMD_MEASURE]);
}
