/*
 * plugins/elsfp-cmis/protocol.c - see protocol.h.
 *
 * The adapter answers every command with exactly one line, "OK[ <hex>]" or
 * "ERR <text>"; hex bytes are accepted with or without blanks between
 * them, so a read is checked by its byte count alone.
 */
#include "protocol.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "kgd/scpi.h"

static const elsfp_cmdset cmds_kgd_i2c = {
	.name = "KGD USB-I2C line protocol",
	.fmt = {
		[ELSFP_CMD_READ] = "R %d.%02X %02X %d",
		[ELSFP_CMD_WRITE] = "W %d.%02X %02X %02X",
	},
	.ok = "OK",
	.fail = "ERR",
};

static const elsfp_adapter adapters[] = {
	{{"USB-I2C", NULL}, &cmds_kgd_i2c},
};

const drv_std_info elsfp_info = {
	.name = ELSFP_DRIVER, .kind = "an I2C adapter", DRV_STD_MODELS(adapters),
	.vendors = {"KGD"},
	.clear_status = 0,
};

/* Polling interval while a module leaves low power. */
#define ELSFP_POLL_MS 20

/* CMIS pages 00h/10h/11h; page B0h is the project's ELSFP page. */
const elsfp_field elsfp_map[ELSFP_REG_COUNT] = {
	[ELSFP_REG_STATE] = {0x00, 3, 1, 0, 1},
	[ELSFP_REG_LOWPWR_CTRL] = {0x00, 26, 1, 0, 1},
	[ELSFP_REG_SERIAL] = {0x00, 166, 16, 0, 1},
	[ELSFP_REG_TX_DISABLE] = {0x10, 130, 1, 1, 1},
	[ELSFP_REG_TX_POWER] = {0x11, 0x9A, 2, 1, 0.1e-6},    /* 0.1 uW */
	[ELSFP_REG_TX_BIAS] = {0x11, 0xAA, 2, 1, 2e-6},       /* 2 uA */
	[ELSFP_REG_LASERS] = {0xB0, 128, 1, 0, 1},
	[ELSFP_REG_WAVELENGTH] = {0xB0, 130, 2, 0, 0.05},     /* nm */
	[ELSFP_REG_SMSR] = {0xB0, 162, 2, 0, 0.1},            /* dB */
	[ELSFP_REG_LASER_TEMP] = {0xB0, 194, 2, 0, 1.0 / 256}, /* degC */
};

uint16_t elsfp_u16(const uint8_t *buf, int index)
{
	return (uint16_t)(buf[2 * index] << 8 | buf[2 * index + 1]);
}

/* Send one formatted line and read the adapter's one-line reply; the
 * command text names the exchange in messages. */
static int exchange(xport *x, const elsfp_adapter *a, const char *cmd,
		    char *reply, size_t cap, kgd_err *err)
{
	size_t fail_len = strlen(a->cmds->fail);
	int rc;

	rc = scpi_query(x, reply, cap, err, "%s", cmd);
	if (rc)
		return rc;
	if (strncmp(reply, a->cmds->fail, fail_len) == 0
	    && (reply[fail_len] == ' ' || reply[fail_len] == '\0'))
		return kgd_err_set(err, KGD_ERR_INSTRUMENT, "%s: '%s': adapter refused: %s",
				   xport_uri(x), cmd, reply);
	if (strncmp(reply, a->cmds->ok, strlen(a->cmds->ok)) != 0)
		return kgd_err_set(err, KGD_ERR_PROTOCOL, "%s: '%s': unexpected reply '%s'",
				   xport_uri(x), cmd, reply);
	return KGD_OK;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = toupper(c);
	return c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

int elsfp_parse_hex(const char *text, int max, uint8_t *out)
{
	int n = 0;

	for (const char *p = text; *p; p++) {
		int hi, lo;

		if (isspace((unsigned char)*p))
			continue;
		hi = hexval((unsigned char)p[0]);
		lo = hi >= 0 && p[1] ? hexval((unsigned char)p[1]) : -1;
		if (lo < 0 || n >= max)
			return -1;
		out[n++] = (uint8_t)(hi << 4 | lo);
		p++;
	}
	return n;
}

int elsfp_read(xport *x, const elsfp_adapter *a, int bank, int page, int addr,
	       int len, uint8_t *out, kgd_err *err)
{
	char cmd[64], reply[4 * ELSFP_READ_MAX + 64];
	int n, rc;

	if (len < 1 || len > ELSFP_READ_MAX || addr < 0 || addr + len > 256)
		return kgd_err_set(err, KGD_ERR_ARG, "%s: read of %d bytes at %02Xh:%d",
				   xport_uri(x), len, page, addr);
	snprintf(cmd, sizeof(cmd), a->cmds->fmt[ELSFP_CMD_READ], bank, page, addr, len);
	rc = exchange(x, a, cmd, reply, sizeof(reply), err);
	if (rc)
		return rc;
	n = elsfp_parse_hex(reply + strlen(a->cmds->ok), len, out);
	if (n < 0)
		return kgd_err_set(err, KGD_ERR_PROTOCOL,
				   "%s: '%s': malformed data in '%s'",
				   xport_uri(x), cmd, reply);
	if (n != len)
		return kgd_err_set(err, KGD_ERR_PROTOCOL,
				   "%s: '%s': %d bytes in the reply, %d asked",
				   xport_uri(x), cmd, n, len);
	return KGD_OK;
}

int elsfp_write(xport *x, const elsfp_adapter *a, int bank, int page, int addr,
		uint8_t value, kgd_err *err)
{
	char cmd[64], reply[256];

	snprintf(cmd, sizeof(cmd), a->cmds->fmt[ELSFP_CMD_WRITE], bank, page, addr,
		 value);
	return exchange(x, a, cmd, reply, sizeof(reply), err);
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

int elsfp_read_field(xport *x, const elsfp_adapter *a, enum elsfp_reg r,
		     int bank, int first, int count, uint8_t *out, kgd_err *err)
{
	const elsfp_field *f = &elsfp_map[r];

	return elsfp_read(x, a, bank, f->page, f->addr + f->width * first,
			  f->width * count, out, err);
}

int elsfp_lasers(xport *x, const elsfp_adapter *a, int *n, kgd_err *err)
{
	uint8_t b;
	int rc = elsfp_read_field(x, a, ELSFP_REG_LASERS, 0, 0, 1, &b, err);

	if (rc == KGD_OK)
		*n = b;
	return rc;
}

int elsfp_module_state(xport *x, const elsfp_adapter *a, int *state,
		       kgd_err *err)
{
	uint8_t b;
	int rc = elsfp_read_field(x, a, ELSFP_REG_STATE, 0, 0, 1, &b, err);

	if (rc)
		return rc;
	*state = (b >> 1) & 0x7;
	if (*state == ELSFP_STATE_FAULT)
		return kgd_err_set(err, KGD_ERR_INSTRUMENT,
				   "%s: 'R 0.00 03 1': module state Fault (byte 3 = 0x%02X)",
				   xport_uri(x), b);
	return KGD_OK;
}

int elsfp_leave_low_power(xport *x, const elsfp_adapter *a, kgd_err *err)
{
	const elsfp_field *f = &elsfp_map[ELSFP_REG_LOWPWR_CTRL];
	double deadline;
	uint8_t b;
	int rc, state;

	rc = elsfp_module_state(x, a, &state, err);
	if (rc || state == ELSFP_STATE_READY)
		return rc;
	rc = elsfp_read_field(x, a, ELSFP_REG_LOWPWR_CTRL, 0, 0, 1, &b, err);
	if (rc == KGD_OK && (b & 0x10))
		rc = elsfp_write(x, a, 0, f->page, f->addr, (uint8_t)(b & ~0x10), err);
	if (rc)
		return rc;
	deadline = now_ms() + ELSFP_PWRUP_MS;
	for (;;) {
		rc = elsfp_module_state(x, a, &state, err);
		if (rc || state == ELSFP_STATE_READY)
			return rc;
		if (now_ms() > deadline)
			return kgd_err_set(err, KGD_ERR_TIMEOUT,
					   "%s: module still in state %d %d ms after "
					   "'W 0.00 1A' released low power", xport_uri(x),
					   state, ELSFP_PWRUP_MS);
		if (xport_abort_pending())
			return kgd_err_set(err, KGD_ERR_ABORTED,
					   "%s: aborted while the module powers up",
					   xport_uri(x));
		sleep_ms(ELSFP_POLL_MS);
	}
}

int elsfp_set_output(xport *x, const elsfp_adapter *a, int bank, int first,
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
	rc = elsfp_read_field(x, a, ELSFP_REG_TX_DISABLE, bank, 0, 1, &b, err);
	if (rc)
		return rc;
	b = on ? (uint8_t)(b & ~mask) : (uint8_t)(b | mask);
	return elsfp_write(x, a, bank, f->page, f->addr, b, err);
}
