/*
 * instruments/sim/elsfp.c - see elsfp.h.
 *
 * Adapter protocol: "R <bank>.<page> <addr> <len>" -> "OK <hex bytes>"
 * (two hex digits per byte, space separated), "W <bank>.<page> <addr>
 * <hex bytes>" -> "OK", "*IDN?", and the simulator-only "SIM DUT <n>" /
 * "SIM DUT?". Everything else: "ERR <text>".
 */
#include "elsfp.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define T_I2C_BYTE 25e-6   /* 400 kHz two-wire bus, ~10 bit times a byte */

struct sim_elsfp {
	sim_station *st;
	uint64_t samples[SIM_MAX_PORTS];
};

static void put16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static unsigned clamp16(double v)
{
	return v < 0 ? 0 : v > 65535 ? 65535 : (unsigned)lround(v);
}

static unsigned s16(double v)
{
	long x = lround(v);

	x = x < -32768 ? -32768 : x > 32767 ? 32767 : x;
	return (unsigned)(uint16_t)(int16_t)x;
}

/* Build page image `page` of `bank`; -1 if there is no such page. Reading
 * lane powers draws samples only for the bytes asked for. */
static int build_page(sim_elsfp *e, int bank, int page, int from, int to, uint8_t img[256])
{
	sim_station *st = e->st;
	const sim_model *m = &st->model;
	int lasers = sim_unit_channels(m, st->dut);
	char serial[48];

	memset(img, 0, 256);
	if (page == 0x00 && bank == 0) {
		img[3] = (uint8_t)((st->low_power ? 1 : 3) << 1);
		put16(img + 14, s16(sim_module_temp_c(m, st->dut) * 256.0));
		put16(img + 16, 33000);  /* 3.300 V */
		img[26] = (uint8_t)(st->low_power ? 0x10 : 0);
		sim_unit_serial(m, st->dut, serial, sizeof(serial));
		memset(img + 166, ' ', 16);
		memcpy(img + 166, serial, strlen(serial) < 16 ? strlen(serial) : 16);
		return 0;
	}
	if ((page == 0x10 || page == 0x11) && (bank == 0 || bank == 1)) {
		for (int i = 0; i < 8; i++) {
			int lane = bank * 8 + i + 1;
			sim_laser l;

			if (page == 0x10) {
				if (st->tx_disable & (1u << (lane - 1)))
					img[130] |= (uint8_t)(1u << i);
				continue;
			}
			if (lane > lasers || !sim_station_laser_on(st, lane))
				continue;
			/* Only a read that covers the power word is a sample. */
			if (from <= 0x9a + 2 * i + 1 && to > 0x9a + 2 * i)
				sim_laser_read(m, st->dut, lane, e->samples[lane - 1]++, &l);
			else
				sim_laser_read(m, st->dut, lane, e->samples[lane - 1], &l);
			put16(img + 0x9a + 2 * i, clamp16(1e-3 * pow(10.0, l.power_dbm / 10.0) / 1e-7));
			put16(img + 0xaa + 2 * i, clamp16(l.bias_ma * 1e-3 / 2e-6));
		}
		return 0;
	}
	if (page == 0xb0 && bank == 0) {
		img[128] = (uint8_t)lasers;
		for (int lane = 1; lane <= lasers; lane++) {
			sim_laser l;

			sim_laser_read(m, st->dut, lane, e->samples[lane - 1], &l);
			put16(img + 130 + 2 * (lane - 1), clamp16(l.wavelength_nm / 0.05));
			put16(img + 162 + 2 * (lane - 1), clamp16(l.smsr_db / 0.1));
			put16(img + 194 + 2 * (lane - 1), s16(l.temp_c * 256.0));
		}
		return 0;
	}
	return -1;
}

static int reply(sim_buf *out, const char *text)
{
	return sim_buf_add(out, text, strlen(text));
}

/* "<bank>.<page hex> <addr hex>" -> values; rest points past them. */
static int parse_where(const char *s, int *bank, int *page, int *addr, const char **rest)
{
	char *end;

	*bank = (int)strtol(s, &end, 10);
	if (end == s || *end != '.')
		return -1;
	s = end + 1;
	*page = (int)strtol(s, &end, 16);
	if (end == s || !isspace((unsigned char)*end))
		return -1;
	s = end;
	*addr = (int)strtol(s, &end, 16);
	if (end == s || *addr < 0 || *addr > 255)
		return -1;
	*rest = end;
	return 0;
}

static int do_read(sim_elsfp *e, const char *args, const sim_fx *fx, sim_buf *out,
		   double *busy_s)
{
	uint8_t img[256];
	const char *rest;
	char *end;
	int bank, page, addr;
	long len;

	if (parse_where(args, &bank, &page, &addr, &rest))
		return reply(out, "ERR expected R <bank>.<page> <addr> <len>\n");
	len = strtol(rest, &end, 10);
	if (end == rest || len < 1 || len > 128)
		return reply(out, "ERR length must be 1..128\n");
	if (addr + len > 256)
		return reply(out, "ERR read past 255\n");
	if (build_page(e, bank, page, addr, addr + (int)len, img))
		return reply(out, "ERR bad page\n");
	*busy_s = T_I2C_BYTE * (double)(len + 4);
	if (fx->garbage)
		return reply(out, "OK #?garbage\n");
	if (reply(out, "OK"))
		return -1;
	for (int i = 0; i < len; i++) {
		char hex[4];

		snprintf(hex, sizeof(hex), " %02X", img[addr + i]);
		if (reply(out, hex))
			return -1;
	}
	return reply(out, "\n");
}

static int do_write(sim_elsfp *e, const char *args, sim_buf *out, double *busy_s)
{
	sim_station *st = e->st;
	uint8_t data[128];
	const char *rest;
	int bank, page, addr, n = 0;

	if (parse_where(args, &bank, &page, &addr, &rest))
		return reply(out, "ERR expected W <bank>.<page> <addr> <hex bytes>\n");
	/* Hex bytes, spaces between them optional. */
	while (*rest) {
		unsigned v;

		rest += strspn(rest, " \t");
		if (!*rest)
			break;
		if (!isxdigit((unsigned char)rest[0]) || !isxdigit((unsigned char)rest[1])
		    || n == 128 || sscanf(rest, "%2x", &v) != 1)
			return reply(out, "ERR bad hex bytes\n");
		data[n++] = (uint8_t)v;
		rest += 2;
	}
	if (n == 0)
		return reply(out, "ERR no bytes\n");
	if (addr + n > 256)
		return reply(out, "ERR write past 255\n");
	if (!((page == 0x00 || page == 0xb0) && bank == 0)
	    && !((page == 0x10 || page == 0x11) && (bank == 0 || bank == 1)))
		return reply(out, "ERR bad page\n");
	*busy_s = T_I2C_BYTE * (double)(n + 4);
	/* Only the control bytes take effect; other bytes are read-only and
	 * writes to them are ignored, as on a module. */
	for (int i = 0; i < n; i++) {
		int a = addr + i;

		if (page == 0x00 && a == 26)
			st->low_power = (data[i] & 0x10) != 0;
		if (page == 0x10 && a == 130) {
			uint16_t mask = (uint16_t)(0xffu << (bank * 8));

			st->tx_disable = (uint16_t)((st->tx_disable & ~mask)
						    | ((unsigned)data[i] << (bank * 8)));
		}
	}
	return reply(out, "OK\n");
}

sim_elsfp *sim_elsfp_new(sim_station *st)
{
	sim_elsfp *e = calloc(1, sizeof(*e));

	if (e)
		e->st = st;
	return e;
}

void sim_elsfp_free(sim_elsfp *e)
{
	free(e);
}

int sim_elsfp_execute(void *inst, const char *line, const sim_fx *fx, sim_buf *out,
		      double *busy_s)
{
	sim_elsfp *e = inst;
	char text[64];

	*busy_s = 0;
	line += strspn(line, " \t");
	if (!*line)
		return 0;
	if (fx->error)
		return reply(out, "ERR simulated fault\n");
	if (strcasecmp(line, "*IDN?") == 0)
		return reply(out, SIM_ADAPTER_IDN "\n");
	if ((line[0] == 'R' || line[0] == 'r') && isspace((unsigned char)line[1]))
		return do_read(e, line + 2, fx, out, busy_s);
	if ((line[0] == 'W' || line[0] == 'w') && isspace((unsigned char)line[1]))
		return do_write(e, line + 2, out, busy_s);
	if (strncasecmp(line, "SIM DUT", 7) == 0) {
		const char *a = line + 7;
		char *end;
		long n;

		if (strcmp(a, "?") == 0) {
			snprintf(text, sizeof(text), "OK %d\n", e->st->dut);
			return reply(out, text);
		}
		n = strtol(a, &end, 10);
		if (end == a || *end || sim_station_select(e->st, n))
			return reply(out, "ERR no such unit\n");
		return reply(out, "OK\n");
	}
	return reply(out, "ERR unknown command\n");
}
