/*
 * plugins/keysight-n774x/protocol.c - see protocol.h.
 *
 * Command syntax from the Keysight N77xx / 816x programming guides:
 * `:SENSe[n][:CHANnel[m]]:POWer:...` where n is the slot (on the N77xx
 * multiport meters: the port) and m the channel. Set commands go through
 * scpi_command, which drains SYST:ERR? afterwards, so an instrument-side
 * rejection surfaces as KGD_ERR_INSTRUMENT on the call that caused it.
 */
#include "protocol.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* N774xA/C and N7747A/N7748A: one channel per port, ports as slots. */
static const n774x_cmdset cmds_n77xx = {
	.name = "N77xx",
	.fmt = {
		[N774X_CMD_SET_UNIT_WATT] = ":SENS%d:POW:UNIT 1",
		[N774X_CMD_SET_WAVELENGTH] = ":SENS%d:POW:WAV %.4fNM",
		/* %g may print 1e-05: SCPI <NRf> accepts the exponent form. */
		[N774X_CMD_SET_ATIME] = ":SENS%d:POW:ATIM %.6gS",
		[N774X_CMD_READ_POWER] = ":READ%d:POW?",
		[N774X_CMD_READ_ALL] = ":READ1:POW:ALL?",
	},
};

/* 8163B/8164B mainframes: ports are module slots, channel 1 of each; the
 * mainframes have no all-channel block read. */
static const n774x_cmdset cmds_816x = {
	.name = "816x",
	.fmt = {
		[N774X_CMD_SET_UNIT_WATT] = ":SENS%d:CHAN1:POW:UNIT 1",
		[N774X_CMD_SET_WAVELENGTH] = ":SENS%d:CHAN1:POW:WAV %.4fNM",
		[N774X_CMD_SET_ATIME] = ":SENS%d:CHAN1:POW:ATIM %.6gS",
		[N774X_CMD_READ_POWER] = ":READ%d:CHAN1:POW?",
		[N774X_CMD_READ_ALL] = NULL,
	},
};

static const n774x_model models[] = {
	{{"N7744A", NULL}, 4, &cmds_n77xx},
	{{"N7745A", NULL}, 8, &cmds_n77xx},
	{{"N7744C", NULL}, 4, &cmds_n77xx},
	{{"N7745C", NULL}, 8, &cmds_n77xx},
	{{"N7747A", NULL}, 2, &cmds_n77xx},
	{{"N7748A", NULL}, 4, &cmds_n77xx},
	{{"N7747C", NULL}, 2, &cmds_n77xx},
	{{"N7748C", NULL}, 4, &cmds_n77xx},
	{{"8163B", NULL}, 2, &cmds_816x},
	{{"8164B", NULL}, 4, &cmds_816x},
	/* Not a Keysight product: the virtual station's 16-port meter for
	 * 16-port parts, same N77xx command set (docs/INSTRUMENTS.md). */
	{{"N7745A-16", "virtual station"}, 16, &cmds_n77xx},
};

const drv_std_info n774x_info = {
	.name = N774X_DRIVER, .kind = "a power meter", DRV_STD_MODELS(models),
	.vendors = {"Keysight Technologies", "Agilent Technologies"},
	.clear_status = 1,
};

static int unsupported(xport *x, const n774x_model *m, const char *what,
		       kgd_err *err)
{
	return kgd_err_set(err, KGD_ERR_UNSUPPORTED, "%s: %s: %s not supported",
			   xport_uri(x), m->id.model, what);
}

int n774x_set_unit_watt_all(xport *x, const n774x_model *m, kgd_err *err)
{
	int rc = KGD_OK;

	for (int p = 1; rc == KGD_OK && p <= m->ports; p++)
		rc = scpi_command(x, err, m->cmds->fmt[N774X_CMD_SET_UNIT_WATT], p);
	return rc;
}

int n774x_set_wavelength(xport *x, const n774x_model *m, int port, double nm,
			 kgd_err *err)
{
	return scpi_command(x, err, m->cmds->fmt[N774X_CMD_SET_WAVELENGTH], port, nm);
}

int n774x_msg_set_wavelength(scpi_msg *msg, const n774x_model *m, int port,
			     double nm)
{
	return scpi_msg_add(msg, m->cmds->fmt[N774X_CMD_SET_WAVELENGTH], port, nm);
}

int n774x_set_atime(xport *x, const n774x_model *m, int port, double seconds,
		    kgd_err *err)
{
	return scpi_command(x, err, m->cmds->fmt[N774X_CMD_SET_ATIME], port, seconds);
}

int n774x_read_power(xport *x, const n774x_model *m, int port, double *watts,
		     kgd_err *err)
{
	int rc;

	/* With the error queue in the same message: a reading taken while the
	 * meter flagged an error is not a reading. */
	rc = scpi_measure_double(x, watts, err, m->cmds->fmt[N774X_CMD_READ_POWER],
				 port);
	/* The meter's readings are single precision (its all-port read sends
	 * them as float32); the text of one carries 9 digits, which name that
	 * float but parse to a slightly different double. Back to the float,
	 * so a port read alone logs exactly what the all-port read logs. */
	if (rc == KGD_OK)
		*watts = (double)(float)*watts;
	return rc;
}

int n774x_read_all(xport *x, const n774x_model *m, double *watts, int max,
		   int *n, kgd_err *err)
{
	const char *fmt = m->cmds->fmt[N774X_CMD_READ_ALL];
	uint8_t *data = NULL;
	size_t len = 0;
	int rc, count;

	if (!fmt)
		return unsupported(x, m, "reading all ports at once", err);
	rc = scpi_query_block(x, &data, &len, err, "%s", fmt);
	if (rc)
		goto out;
	if (len % 4 != 0 || len / 4 > N774X_MAX_PORTS * 8) {
		rc = kgd_err_set(err, KGD_ERR_PROTOCOL,
				 "%s: '%s': block of %zu bytes is not a float32 array",
				 xport_uri(x), fmt, len);
		goto out;
	}
	count = (int)(len / 4);
	if (count > max) {
		rc = kgd_err_set(err, KGD_ERR_ARG,
				 "%s: '%s': %d values do not fit a buffer of %d",
				 xport_uri(x), fmt, count, max);
		goto out;
	}
	for (int i = 0; i < count; i++) {
		const uint8_t *p = data + 4 * i;
		/* Assembled byte by byte: the wire order is little-endian
		 * whatever the host's. */
		uint32_t bits = (uint32_t)p[0] | (uint32_t)p[1] << 8
				| (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
		float f;

		memcpy(&f, &bits, sizeof(f));
		if (!isfinite(f) || fabsf(f) > 1e20f) {
			rc = kgd_err_set(err, KGD_ERR_OVERRANGE,
					 "%s: '%s': port %d: no valid value (%g)",
					 xport_uri(x), fmt, i + 1, (double)f);
			goto out;
		}
		watts[i] = f;
	}
	*n = count;
	rc = KGD_OK;
out:
	free(data);
	return rc;
}
