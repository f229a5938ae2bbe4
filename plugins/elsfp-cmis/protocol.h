/*
 * plugins/elsfp-cmis/protocol.h - an ELSFP laser module's CMIS management
 * interface reached through the station's USB-to-I2C adapter line protocol
 * (docs/INSTRUMENTS.md, "ELSFP laser module"): adapter command table,
 * register map, raw register access, and the module operations built on
 * it (laser count, module state, leaving low power, output bits).
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

#include "kgd/drv_std.h"
#include "kgd/xport.h"

#define ELSFP_DRIVER "elsfp-cmis"
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
	drv_std_model id;      /* *IDN? field 2, exact */
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

/* The driver and its adapter table for drv_std_scpi_open: the adapter
 * answers *IDN? but is no IEEE 488.2 instrument, so no *CLS. */
extern const drv_std_info elsfp_info;

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

/* The module operations, register by register of elsfp_map. */

/* Register field r (or `count` lanes of it from lane `first`, 0-based
 * within the field) from bank `bank`. */
int elsfp_read_field(xport *x, const elsfp_adapter *a, enum elsfp_reg r,
		     int bank, int first, int count, uint8_t *out, kgd_err *err);
/* The number of lasers the module reports (page B0h byte 128). */
int elsfp_lasers(xport *x, const elsfp_adapter *a, int *n, kgd_err *err);
/* The CMIS module state; KGD_ERR_INSTRUMENT when it is Fault (with
 * *state set): nothing a module in Fault says is usable. */
int elsfp_module_state(xport *x, const elsfp_adapter *a, int *state,
		       kgd_err *err);
/* Clear LowPwrRequestSW and wait (up to ELSFP_PWRUP_MS) for ModuleReady:
 * a module held in low power keeps every laser dark whatever the disable
 * bits say. Nothing is written when the module is Ready already. How long
 * a module may take: CMIS advertises it per module (ModulePwrUpDuration);
 * 5 s covers ELSFPs. */
#define ELSFP_PWRUP_MS 5000
int elsfp_leave_low_power(xport *x, const elsfp_adapter *a, kgd_err *err);
/* Set (on = 0) or clear (on = 1) the OutputDisableTx bits of lanes
 * [first, last] (1-based) that live in `bank`, read-modify-write so other
 * lanes keep their state; nothing when none of them is in the bank. */
int elsfp_set_output(xport *x, const elsfp_adapter *a, int bank, int first,
		     int last, int on, kgd_err *err);

#endif
