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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kgd/driver.h"
#include "kgd/scpi.h"
#include "protocol.h"

/* How long a module may take to leave low power after the release. CMIS
 * advertises this per module (ModulePwrUpDuration); 5 s covers ELSFPs. */
#define ELSFP_PWRUP_MS 5000
#define ELSFP_POLL_MS 20

struct elsfp_handle {
	xport *x;
	const elsfp_adapter *adapter;
	char idn[SCPI_REPLY_MAX];
	int lasers;
};

static const char *uri(const struct elsfp_handle *h)
{
	return xport_uri(h->x);
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Read a whole register field (or `count` lanes of it from lane `first`,
 * 0-based within the field) from the right bank. */
static int read_field(struct elsfp_handle *h, enum elsfp_reg r, int bank,
		      int first, int count, uint8_t *out, kgd_err *err)
{
	const elsfp_field *f = &elsfp_map[r];

	return elsfp_read(h->x, h->adapter, bank, f->page, f->addr + f->width * first,
			  f->width * count, out, err);
}

static int module_state(struct elsfp_handle *h, int *state, kgd_err *err)
{
	uint8_t b;
	int rc = read_field(h, ELSFP_REG_STATE, 0, 0, 1, &b, err);

	if (rc)
		return rc;
	*state = (b >> 1) & 0x7;
	if (*state == ELSFP_STATE_FAULT)
		return kgd_err_set(err, KGD_ERR_INSTRUMENT,
				   "%s: 'R 0.00 03 1': module state Fault (byte 3 = 0x%02X)",
				   uri(h), b);
	return KGD_OK;
}

static int check_channel(const struct elsfp_handle *h, int ch, int allow_all,
			 kgd_err *err)
{
	if ((ch == 0 && allow_all) || (ch >= 1 && ch <= h->lasers))
		return KGD_OK;
	return kgd_err_set(err, KGD_ERR_ARG, "%s: laser %d out of range (1..%d%s)",
			   uri(h), ch, h->lasers, allow_all ? ", 0 = all" : "");
}

static int elsfp_open(xport *x, void **handle, kgd_err *err)
{
	struct elsfp_handle *h = NULL;
	uint8_t n;
	int rc, state;

	if (!x || !handle)
		return kgd_err_set(err, KGD_ERR_ARG, "elsfp-cmis: open: no transport");
	h = calloc(1, sizeof(*h));
	if (!h)
		return kgd_err_set(err, KGD_ERR_NOMEM, "%s: out of memory", xport_uri(x));
	h->x = x;
	rc = scpi_query(x, h->idn, sizeof(h->idn), err, "*IDN?");
	if (rc)
		goto error;
	h->adapter = elsfp_match_idn(h->idn);
	if (!h->adapter) {
		rc = kgd_err_set(err, KGD_ERR_UNSUPPORTED,
				 "%s: not an I2C adapter this driver knows: *IDN? replied "
				 "'%s' (elsfp-cmis supports %s)", uri(h), h->idn,
				 elsfp_known_adapters());
		goto error;
	}
	rc = read_field(h, ELSFP_REG_LASERS, 0, 0, 1, &n, err);
	if (rc)
		goto error;
	if (n != 8 && n != 16) {
		rc = kgd_err_set(err, KGD_ERR_PROTOCOL,
				 "%s: 'R 0.B0 80 1': %u lasers; an ELSFP has 8 or 16",
				 uri(h), n);
		goto error;
	}
	h->lasers = n;
	/* A module in Fault is refused at open: nothing it says is usable. */
	rc = module_state(h, &state, err);
	if (rc)
		goto error;
	*handle = h;
	return KGD_OK;
error:
	free(h);
	return rc;
}

static void elsfp_close(void *handle)
{
	free(handle);
}

static int elsfp_identify(void *handle, char *buf, size_t cap, kgd_err *err)
{
	struct elsfp_handle *h = handle;

	return scpi_copy_idn(h->x, h->idn, buf, cap, err);
}

static int elsfp_channels(void *handle, int *n, kgd_err *err)
{
	struct elsfp_handle *h = handle;

	(void)err;
	*n = h->lasers;
	return KGD_OK;
}

/* Clear LowPwrRequestSW and wait for ModuleReady: a module held in low
 * power keeps every laser dark whatever the disable bits say. */
static int leave_low_power(struct elsfp_handle *h, kgd_err *err)
{
	const elsfp_field *f = &elsfp_map[ELSFP_REG_LOWPWR_CTRL];
	double deadline;
	uint8_t b;
	int rc, state;

	rc = module_state(h, &state, err);
	if (rc || state == ELSFP_STATE_READY)
		return rc;
	rc = read_field(h, ELSFP_REG_LOWPWR_CTRL, 0, 0, 1, &b, err);
	if (rc == KGD_OK && (b & 0x10))
		rc = elsfp_write(h->x, h->adapter, 0, f->page, f->addr,
				 (uint8_t)(b & ~0x10), err);
	if (rc)
		return rc;
	deadline = now_ms() + ELSFP_PWRUP_MS;
	for (;;) {
		rc = module_state(h, &state, err);
		if (rc || state == ELSFP_STATE_READY)
			return rc;
		if (now_ms() > deadline)
			return kgd_err_set(err, KGD_ERR_TIMEOUT,
					   "%s: module still in state %d %d ms after "
					   "'W 0.00 1A' released low power", uri(h),
					   state, ELSFP_PWRUP_MS);
		sleep_ms(ELSFP_POLL_MS);
	}
}

/* Set or clear the OutputDisableTx bits of lanes [first, last] (1-based)
 * that live in `bank`, read-modify-write so other lanes keep their state. */
static int set_disable_bits(struct elsfp_handle *h, int bank, int first,
			    int last, int on, kgd_err *err)
{
	const elsfp_field *f = &elsfp_map[ELSFP_REG_TX_DISABLE];
	uint8_t b, mask = 0;
	int rc;

	for (int lane = first; lane <= last; lane++)
		if ((lane - 1) / ELSFP_LANES_PER_BANK == bank)
			mask |= (uint8_t)(1u << ((lane - 1) % ELSFP_LANES_PER_BANK));
	if (!mask)
		return KGD_OK;
	rc = read_field(h, ELSFP_REG_TX_DISABLE, bank, 0, 1, &b, err);
	if (rc)
		return rc;
	b = on ? (uint8_t)(b & ~mask) : (uint8_t)(b | mask);
	return elsfp_write(h->x, h->adapter, bank, f->page, f->addr, b, err);
}

static int elsfp_enable(void *handle, int channel, int on, kgd_err *err)
{
	struct elsfp_handle *h = handle;
	int first = channel ? channel : 1, last = channel ? channel : h->lasers;
	int rc = check_channel(h, channel, 1, err);

	if (rc)
		return rc;
	if (on)
		rc = leave_low_power(h, err);
	for (int bank = 0; rc == KGD_OK && bank * ELSFP_LANES_PER_BANK < h->lasers; bank++)
		rc = set_disable_bits(h, bank, first, last, on, err);
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
	uint8_t pw[2], bias[2], b0[2 * ELSFP_MAX_LANES * 3];
	int bank = (channel - 1) / ELSFP_LANES_PER_BANK;
	int in_bank = (channel - 1) % ELSFP_LANES_PER_BANK, lane = channel - 1;
	int rc = check_channel(h, channel, 0, err), state;
	uint16_t p, i, wl, smsr, t;

	if (rc)
		return rc;
	rc = module_state(h, &state, err);
	if (rc == KGD_OK)
		rc = read_field(h, ELSFP_REG_TX_POWER, bank, in_bank, 1, pw, err);
	if (rc == KGD_OK)
		rc = read_field(h, ELSFP_REG_TX_BIAS, bank, in_bank, 1, bias, err);
	/* Wavelength, SMSR and temperature are consecutive 16-lane tables:
	 * one read of the three. */
	if (rc == KGD_OK)
		rc = read_field(h, ELSFP_REG_WAVELENGTH, 0, 0, ELSFP_MAX_LANES * 3, b0,
				err);
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

	rc = read_field(h, ELSFP_REG_SERIAL, 0, 0, 1, sn, err);
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

/* The one exported symbol; plugins build with hidden visibility. */
__attribute__((visibility("default")))
const drv_descriptor kgd_driver = {
	.abi_major = DRV_ABI_MAJOR,
	.abi_minor = DRV_ABI_MINOR,
	.name = "elsfp-cmis",
	.description = "ELSFP external laser modules (CMIS) through a USB-I2C adapter",
	.klass = DRV_CLASS_LASER,
	.open = elsfp_open,
	.close = elsfp_close,
	.identify = elsfp_identify,
	.laser = &laser_ops,
};
