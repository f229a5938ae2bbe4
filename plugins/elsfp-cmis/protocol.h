/*
 * plugins/elsfp-cmis/protocol.h - an ELSFP laser module's CMIS management
 * interface reached through the station's USB-to-I2C adapter line protocol
 * (docs/INSTRUMENTS.md, "ELSFP laser module"): adapter command table,
 * register map, raw register access.
 *
 * Invariants: every line on the wire comes from an adapter command-set row;
 * every register the driver touches is a row of the register map below
 * (page, first byte, width), so a module revision that moves a field is a
 * table change, not a code change. Register values are big-endian, as CMIS
 * defines them.
 */
#ifndef KGD_ELSFP_PROTOCOL_H
#define KGD_ELSFP_PROTOCOL_H

#include <stddef.h>
#include <stdint.h>

#include "kgd/xport.h"

#define ELSFP_MAX_LANES 16
#define ELSFP_LANES_PER_BANK 8
#define ELSFP_READ_MAX 128

/* CMIS module states (page 00h byte 3, bits 3:1). */
#define ELSFP_STATE_LOWPWR 1
#define ELSFP_STATE_READY 3
#define ELSFP_STATE_FAULT 5

enum elsfp_cmd {
	ELSFP_CMD_READ,   /* int bank, int page, int addr, int len */
	ELSFP_CMD_WRITE,  /* int bank, int page, int addr, int byte */
	ELSFP_CMD_COUNT
};

typedef struct elsfp_cmdset {
	const char *name;
	const char *fmt[ELSFP_CMD_COUNT];
	const char *ok;       /* reply prefix of success */
	const char *fail;     /* reply prefix of a refusal */
} elsfp_cmdset;

/* An adapter is matched by the vendor and model fields of its *IDN?. */
typedef struct elsfp_adapter {
	const char *vendor;
	const char *model;
	const elsfp_cmdset *cmds;
} elsfp_adapter;

/* Register fields. Per-lane fields give the first lane's address; lane i
 * (0-based within the field's span) is at addr + width * i. */
enum elsfp_reg {
	ELSFP_REG_STATE,        /* page 00h byte 3, bits 3:1 */
	ELSFP_REG_LOWPWR_CTRL,  /* page 00h byte 26, bit 4 LowPwrRequestSW */
	ELSFP_REG_SERIAL,       /* page 00h 166-181, ASCII, space padded */
	ELSFP_REG_TX_DISABLE,   /* page 10h byte 130, bit per lane of the bank */
	ELSFP_REG_TX_POWER,     /* page 11h 0x9A, u16 per lane of the bank */
	ELSFP_REG_TX_BIAS,      /* page 11h 0xAA, u16 per lane of the bank */
	ELSFP_REG_LASERS,       /* page B0h byte 128: 8 or 16 */
	ELSFP_REG_WAVELENGTH,   /* page B0h 130, u16 per lane, all 16 lanes */
	ELSFP_REG_SMSR,         /* page B0h 162, u16 per lane */
	ELSFP_REG_LASER_TEMP,   /* page B0h 194, s16 per lane */
	ELSFP_REG_COUNT
};

typedef struct elsfp_field {
	int page;
	int addr;
	int width;      /* bytes per value (or the whole field for SERIAL) */
	int banked;     /* 1: lanes 1-8 in bank 0, 9-16 in bank 1 */
	double scale;   /* SI units per LSB (W, A, nm, dB, degC) */
} elsfp_field;

extern const elsfp_field elsfp_map[ELSFP_REG_COUNT];

/* The adapter row for an *IDN? reply; NULL if unknown. */
const elsfp_adapter *elsfp_match_idn(const char *idn);
const char *elsfp_known_adapters(void);

/* Read len (1..ELSFP_READ_MAX) bytes at bank.page:addr into out.
 * KGD_ERR_INSTRUMENT when the adapter refuses ("ERR <text>", verbatim in
 * the message), KGD_ERR_PROTOCOL on a reply of the wrong shape or length. */
int elsfp_read(xport *x, const elsfp_adapter *a, int bank, int page, int addr,
	       int len, uint8_t *out, kgd_err *err);

/* The adapter's data bytes: pairs of hex digits, blanks between them
 * ignored. Returns the number of bytes put into out, or -1 on a stray
 * character, an odd digit or more than max bytes. Pure: fuzzed on its own
 * (tests/fuzz/fuzz_elsfp.c). */
int elsfp_parse_hex(const char *text, int max, uint8_t *out);

/* Write one byte at bank.page:addr. */
int elsfp_write(xport *x, const elsfp_adapter *a, int bank, int page, int addr,
		uint8_t value, kgd_err *err);

/* Decode the value of `lane_index` (0-based within what was read, starting
 * at the field's first byte) from a buffer read at the field's address. */
uint16_t elsfp_u16(const uint8_t *buf, int index);

#endif
