/*
 * plugins/elsfp-cmis/api.c - driver ABI entry points for ELSFP external
 * laser modules managed with CMIS through a USB-to-I2C adapter
 * (serial:///dev/ttyUSBn?baud=115200).
 *
 * Invariants of a handle:
 *  - it exists only for an adapter whose *IDN? matched the adapter table
 *    and a module that answered with 8 or 16 lasers;
 *  - every reading passes the module-state check first, so nothing is
 *    reported from a module in Fault;
 *  - values leave here in SI units (W, A, nm, degC, dB), converted by the
 *    register map's scale, once.
 * The transport belongs to the station; close() never closes it.
 */
#include <math.h>
#include <string.h>

#include "kgd/drv_std.h"
#include "protocol.h"

struct elsfp_handle {
	drv_std_dev dev;               /* first: transport, *IDN?, adapter row */
	const elsfp_adapter *adapter;  /* dev.model as this driver's row */
	int lasers;
};

static const char *uri(const struct elsfp_handle *h)
{
	return xport_uri(h->dev.x);
}

static int check_channel(const struct elsfp_handle *h, int ch, int allow_all,
			 kgd_err *err)
{
	if ((ch == 0 && allow_all) || (ch >= 1 && ch <= h->lasers))
		return KGD_OK;
	return kgd_err_set(err, KGD_ERR_ARG, "%s: laser %d out of range (1..%d%s)",
			   uri(h), ch, h->lasers, allow_all ? ", 0 = all" : "");
}

/* After the adapter matched: a module of 8 or 16 lasers, not in Fault (a
 * module in Fault is refused at open: nothing it says is usable). */
static int elsfp_setup(void *handle, kgd_err *err)
{
	struct elsfp_handle *h = handle;
	int rc, state;

	h->adapter = (const elsfp_adapter *)h->dev.model;
	rc = elsfp_lasers(h->dev.x, h->adapter, &h->lasers, err);
	if (rc)
		return rc;
	if (h->lasers != 8 && h->lasers != 16)
		return kgd_err_set(err, KGD_ERR_PROTOCOL,
				   "%s: 'R 0.B0 80 1': %u lasers; an ELSFP has 8 or 16",
				   uri(h), (unsigned)h->lasers);
	return elsfp_module_state(h->dev.x, h->adapter, &state, err);
}

static int elsfp_channels(void *handle, int *n, kgd_err *err)
{
	struct elsfp_handle *h = handle;

	(void)err;
	*n = h->lasers;
	return KGD_OK;
}

static int elsfp_enable(void *handle, int channel, int on, kgd_err *err)
{
	struct elsfp_handle *h = handle;
	int first = channel ? channel : 1, last = channel ? channel : h->lasers;
	int rc = check_channel(h, channel, 1, err);

	if (rc)
		return rc;
	if (on)
		rc = elsfp_leave_low_power(h->dev.x, h->adapter, err);
	for (int bank = 0; rc == KGD_OK && bank * ELSFP_LANES_PER_BANK < h->lasers; bank++)
		rc = elsfp_set_output(h->dev.x, h->adapter, bank, first, last, on, err);
	return rc;
}

static int invalid(const struct elsfp_handle *h, int ch, const char *what,
		   unsigned raw, kgd_err *err)
{
	return kgd_err_set(err, KGD_ERR_OVERRANGE, "%s: laser %d: no valid %s (raw 0x%04X)",
			   uri(h), ch, what, raw);
}

static int elsfp_read_op(void *handle, int channel, drv_laser_reading *r,
			 kgd_err *err)
{
	struct elsfp_handle *h = handle;
	const elsfp_adapter *a = h->adapter;
	xport *x = h->dev.x;
	uint8_t pw[2], bias[2], b0[2 * ELSFP_MAX_LANES * 3];
	int bank = (channel - 1) / ELSFP_LANES_PER_BANK;
	int in_bank = (channel - 1) % ELSFP_LANES_PER_BANK, lane = channel - 1;
	int rc = check_channel(h, channel, 0, err), state;
	uint16_t p, i, wl, smsr, t;

	if (rc)
		return rc;
	rc = elsfp_module_state(x, a, &state, err);
	if (rc == KGD_OK)
		rc = elsfp_read_field(x, a, ELSFP_REG_TX_POWER, bank, in_bank, 1, pw, err);
	if (rc == KGD_OK)
		rc = elsfp_read_field(x, a, ELSFP_REG_TX_BIAS, bank, in_bank, 1, bias, err);
	/* Wavelength, SMSR and temperature are consecutive 16-lane tables:
	 * one read of the three. */
	if (rc == KGD_OK)
		rc = elsfp_read_field(x, a, ELSFP_REG_WAVELENGTH, 0, 0, ELSFP_MAX_LANES * 3,
				      b0, err);
	if (rc)
		return rc;
	p = elsfp_u16(pw, 0);
	i = elsfp_u16(bias, 0);
	wl = elsfp_u16(b0, lane);
	smsr = elsfp_u16(b0, ELSFP_MAX_LANES + lane);
	t = elsfp_u16(b0, 2 * ELSFP_MAX_LANES + lane);
	/* A full-scale count is a saturated monitor, not a power; an existing
	 * laser without a wavelength, or a temperature of -128 degC, is a
	 * module that has no valid reading. */
	if (p == 0xFFFF)
		return invalid(h, channel, "power (monitor saturated)", p, err);
	if (i == 0xFFFF)
		return invalid(h, channel, "bias (monitor saturated)", i, err);
	if (wl == 0 || wl == 0xFFFF)
		return invalid(h, channel, "wavelength", wl, err);
	if (t == 0x8000)
		return invalid(h, channel, "temperature", t, err);
	r->power_w = p * elsfp_map[ELSFP_REG_TX_POWER].scale;
	r->bias_a = i * elsfp_map[ELSFP_REG_TX_BIAS].scale;
	r->wavelength_nm = wl * elsfp_map[ELSFP_REG_WAVELENGTH].scale;
	r->smsr_db = smsr == 0xFFFF ? NAN : smsr * elsfp_map[ELSFP_REG_SMSR].scale;
	r->temperature_c = (int16_t)t * elsfp_map[ELSFP_REG_LASER_TEMP].scale;
	return KGD_OK;
}

static int elsfp_serial(void *handle, char *buf, size_t cap, kgd_err *err)
{
	struct elsfp_handle *h = handle;
	const elsfp_field *f = &elsfp_map[ELSFP_REG_SERIAL];
	uint8_t sn[32];
	int n, rc;

	rc = elsfp_read_field(h->dev.x, h->adapter, ELSFP_REG_SERIAL, 0, 0, 1, sn, err);
	if (rc)
		return rc;
	for (n = f->width; n > 0 && (sn[n - 1] == ' ' || sn[n - 1] == 0); n--)
		;
	for (int k = 0; k < n; k++)
		if (sn[k] < 0x20 || sn[k] > 0x7E)
			return kgd_err_set(err, KGD_ERR_PROTOCOL,
					   "%s: serial number byte %d is 0x%02X, not ASCII",
					   uri(h), f->addr + k, sn[k]);
	if (!buf || (size_t)n >= cap)
		return kgd_err_set(err, KGD_ERR_ARG, "%s: serial number does not fit %zu bytes",
				   uri(h), cap);
	memcpy(buf, sn, (size_t)n);
	buf[n] = '\0';
	return KGD_OK;
}

static const drv_laser_ops laser_ops = {
	.channels = elsfp_channels,
	.enable = elsfp_enable,
	.read = elsfp_read_op,
	.serial = elsfp_serial,
};

DRV_STD_SCPI_DRIVER(&elsfp_info, struct elsfp_handle, elsfp_setup,
		    .name = ELSFP_DRIVER, .klass = DRV_CLASS_LASER, .laser = &laser_ops,
		    .description = "ELSFP external laser modules (CMIS) through a "
				   "USB-I2C adapter");

/* For `station run --dry-run` (kgd/driver.h, optional): I2C through the adapter, ~5 ms a register access; a channel's five values ~20 ms; channels: the module says (channels()). */
__attribute__((visibility("default")))
const drv_timing kgd_driver_timing = {0.005, 0.02, 0};
