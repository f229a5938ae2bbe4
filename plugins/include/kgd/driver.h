/*
 * kgd/driver.h - the driver plugin ABI (installed; the one header a plugin
 * writer needs besides kgd/xport.h and kgd/scpi.h).
 *
 * A driver is a shared object that exports one symbol,
 * KGD_DRIVER_SYMBOL, a const drv_descriptor (and optionally
 * KGD_DRIVER_TIMING_SYMBOL, a const drv_timing: see the end). The station dlopen()s the file,
 * looks the symbol up, and refuses the plugin when abi_major differs from the
 * station's DRV_ABI_MAJOR or when an operation its class requires is NULL.
 * Minor versions only add optional operations at the end of a table, so a
 * station accepts any minor.
 *
 * Contract for drivers:
 *  - open() receives a transport the station has already opened and keeps
 *    owning; the driver must not close it.
 *  - A driver never prints and never exits: failures go into the kgd_err.
 *  - Units are converted once, here, at the driver edge: power in watts,
 *    wavelength in nanometres, current in amperes, temperature in degC,
 *    BER as a ratio, rates in Gb/s, times in seconds. The sequencer
 *    converts to the unit a limit asks for.
 *  - A reading the instrument marks invalid (overrange, NaN, sync loss) is
 *    an error (KGD_ERR_OVERRANGE / KGD_ERR_INSTRUMENT), never a number.
 */
#ifndef KGD_DRIVER_H
#define KGD_DRIVER_H

#include <stddef.h>
#include <stdint.h>
#include "kgd/status.h"
#include "kgd/xport.h"

#ifdef __cplusplus
extern "C" {
#endif

/* 1.0: the first table of every class. 1.1: drv_bert_ops gains
 * configure_lanes, gate_start and gate_read (one gate on several lanes);
 * drv_pm_ops gains set_wavelength_ports (the set-up of an all-port read).
 * 1.2: the source-measure unit class (DRV_CLASS_SMU, drv_smu_ops) and its
 * table pointer at the end of drv_descriptor, read only from 1.2 plugins;
 * drv_prober_ops gains fiber_move and fiber_position (the optical
 * positioner). 1.3: drv_smu_ops gains sweep (a staircase sweep in the
 * instrument, one trigger for every point). 1.4: drv_prober_ops gains
 * map_geometry (the wafer map's geometry, for the reports' wafer picture). */
#define DRV_ABI_MAJOR 1
#define DRV_ABI_MINOR 4

/* Name of the exported descriptor symbol. */
#define KGD_DRIVER_SYMBOL "kgd_driver"

enum drv_class {
	DRV_CLASS_POWER_METER = 1,
	DRV_CLASS_BERT = 2,
	DRV_CLASS_PROBER = 3,
	DRV_CLASS_LASER = 4,
	DRV_CLASS_SMU = 5,          /* ABI 1.2 */
};

/* Optical power meter. Ports are 1-based as on the front panel. */
typedef struct drv_pm_ops {
	/* Required. */
	int (*set_wavelength)(void *h, int port, double nm, kgd_err *err);
	int (*read_power)(void *h, int port, double *watts, kgd_err *err);
	/* Optional (NULL if unsupported). */
	int (*set_averaging)(void *h, int port, double seconds, kgd_err *err);
	int (*read_power_all)(void *h, double *watts, int max_ports,
			      int *n_ports, kgd_err *err);
	/* ABI 1.1, optional: one wavelength on several ports in one message -
	 * the set-up of an all-port read; as set_wavelength on each port. */
	int (*set_wavelength_ports)(void *h, const int *ports, size_t n,
				    double nm, kgd_err *err);
} drv_pm_ops;

/* Bit-error-ratio tester. Lanes are 1-based. */
typedef struct drv_ber_result {
	double bits;        /* bits compared during the gate */
	double errors;      /* errored bits counted */
	double ber;         /* errors / bits; with zero errors, the upper bound
	                       3 / bits (95 % confidence), never 0 */
	int ber_is_bound;   /* 1 when ber is the zero-error upper bound */
	int sync_lost;      /* 1 if the error detector lost pattern sync: the
	                       count is meaningless and the driver returns
	                       KGD_ERR_INSTRUMENT */
} drv_ber_result;

/* A multi-lane gate (1.1) is gate_start on a set of lanes, then one
 * gate_read per lane, in any order: lanes[] holds each lane once, and a
 * lane's gate_read needs a gate_start of that lane since its last read (or
 * measure), so a count is never one an earlier gate left behind. */
typedef struct drv_bert_ops {
	/* Required. pattern is "PRBS7", "PRBS15", "PRBS23" or "PRBS31". */
	int (*configure)(void *h, int lane, const char *pattern, double rate_gbps,
			 kgd_err *err);
	/* Gate for gate_s seconds on one lane (honoured by the instrument; the
	 * call returns after the gate closes) and report the counts. */
	int (*measure)(void *h, int lane, double gate_s, drv_ber_result *res,
		       kgd_err *err);
	/* Optional: turn the pattern generator output on or off. */
	int (*output)(void *h, int lane, int on, kgd_err *err);
	/* ABI 1.1, optional (all three or none): one gate on several lanes.
	 * configure_lanes: as configure() on each of lanes[0..n-1] (pattern,
	 * rate, generator+detector pattern, output on) - the instrument may
	 * take it in one message.
	 * gate_start: arm a single gate of gate_s seconds on every lane of
	 * lanes[] and start them together; returns at once, without waiting.
	 * gate_read: wait (bounded: gate time plus the driver's slack) until
	 * that lane's gate started by gate_start has closed, then report its
	 * counts exactly as measure() does: sync loss is KGD_ERR_INSTRUMENT with
	 * res->sync_lost = 1, zero errors gives the bound 3/bits. */
	int (*configure_lanes)(void *h, const int *lanes, size_t n,
			       const char *pattern, double rate_gbps, kgd_err *err);
	int (*gate_start)(void *h, const int *lanes, size_t n, double gate_s,
			  kgd_err *err);
	int (*gate_read)(void *h, int lane, double gate_s, drv_ber_result *res,
			 kgd_err *err);
} drv_bert_ops;

/* Wafer prober. Die coordinates are the prober's map column/row. */
typedef struct drv_die {
	int x, y;
} drv_die;

/* ABI 1.4: the geometry of the prober's wafer map, so a report can draw
 * the whole wafer. The grid is centred on the wafer: column 0 at the
 * left, row 0 at the top, cols x rows cells of die_w_um x die_h_um; the
 * die coordinates of drv_die are these columns and rows. */
typedef struct drv_map_geometry {
	double diameter_mm;      /* wafer diameter */
	double die_w_um, die_h_um; /* the map's index (die step) size */
	int cols, rows;          /* grid size */
	double edge_um;          /* edge exclusion; NAN if the prober gives none */
	/* Orientation marker (notch or flat): its position on the wafer
	 * edge in degrees counter-clockwise from the right (+x), so 270 is
	 * at the bottom; NAN if the prober gives none. */
	double notch_deg;
} drv_map_geometry;

typedef struct drv_prober_ops {
	/* Required. Load the wafer in cassette slot `slot`, align it; its id
	 * (scribe/OCR, or the prober's name for it) into wafer_id. */
	int (*load_wafer)(void *h, int slot, char *wafer_id, size_t cap,
			  kgd_err *err);
	/* Step to the first / next die of the prober's test map. *end is set
	 * (and *die untouched) when there is no further die. */
	int (*step_first)(void *h, drv_die *die, int *end, kgd_err *err);
	int (*step_next)(void *h, drv_die *die, int *end, kgd_err *err);
	int (*step_to)(void *h, drv_die die, kgd_err *err);
	int (*contact)(void *h, kgd_err *err);
	int (*separate)(void *h, kgd_err *err);
	/* Bin the die at `die` (ink or map); bin 1 is pass by convention. */
	int (*bin_die)(void *h, drv_die die, int bin, kgd_err *err);
	int (*unload_wafer)(void *h, kgd_err *err);
	/* Optional. The die the chuck is at. */
	int (*current_die)(void *h, drv_die *die, kgd_err *err);
	/* Optional. Number of dies in the test map, for progress. */
	int (*die_count)(void *h, int *n, kgd_err *err);
	/* ABI 1.2, optional (both or none): the optical positioner of a
	 * silicon-photonics prober - the fiber (array) above the die's grating
	 * couplers - in its own frame, micrometres (MPI SENTIO's NanoCube:
	 * 0..100 on each axis, its origin at 50, 50). fiber_move goes to x, y
	 * and returns once there; fiber_position reads where it is. */
	int (*fiber_move)(void *h, double x_um, double y_um, kgd_err *err);
	int (*fiber_position)(void *h, double *x_um, double *y_um, kgd_err *err);
	/* ABI 1.4, optional: the geometry of the loaded wafer's map (asked
	 * once per wafer, after load_wafer). */
	int (*map_geometry)(void *h, drv_map_geometry *g, kgd_err *err);
} drv_prober_ops;

/* External laser source module (ELSFP): lasers are 1-based channels. */
typedef struct drv_laser_reading {
	double power_w;        /* optical output power */
	double wavelength_nm;
	double bias_a;         /* laser bias current */
	double temperature_c;  /* laser (or module) temperature */
	double smsr_db;        /* side-mode suppression ratio; NAN if unknown */
} drv_laser_reading;

typedef struct drv_laser_ops {
	/* Required. Number of laser channels of the module. */
	int (*channels)(void *h, int *n, kgd_err *err);
	/* channel 0 = every channel. */
	int (*enable)(void *h, int channel, int on, kgd_err *err);
	int (*read)(void *h, int channel, drv_laser_reading *r, kgd_err *err);
	/* Optional. The module's serial number as it reports it. */
	int (*serial)(void *h, char *buf, size_t cap, kgd_err *err);
} drv_laser_ops;

/* Source-measure unit (ABI 1.2): one source/measure channel wired to one
 * device (a laser diode, a photodiode, a heater). Sign convention as on
 * the instrument: current flowing out of HI is positive. */
typedef struct drv_smu_ops {
	/* Required. Source `amps` with the voltage limited to +-v_limit
	 * (compliance), measuring voltage; switches the output on. */
	int (*source_current)(void *h, double amps, double v_limit, kgd_err *err);
	/* Required. Source `volts` with the current limited to +-i_limit,
	 * measuring current; switches the output on. */
	int (*source_voltage)(void *h, double volts, double i_limit, kgd_err *err);
	/* Required. One reading at the terminals of what is sourced now:
	 * voltage and current (the sourced quantity as the instrument reads
	 * it back). A reading in compliance is a reading, not an error; the
	 * instrument's overflow value (9.9E37) is KGD_ERR_OVERRANGE. */
	int (*measure)(void *h, double *volts, double *amps, kgd_err *err);
	/* Required. Output on or off (off: the device is left unbiased). */
	int (*output)(void *h, int on, kgd_err *err);
	/* ABI 1.3, optional: a linear staircase sweep run by the instrument
	 * in one trigger - n points (2..DRV_SMU_SWEEP_MAX) from start to
	 * stop, current = 1: amps with the voltage limited to +-limit, 0:
	 * volts with the current limited to +-limit - one reading per point
	 * into volts[n] and amps[n], as measure would give at that level.
	 * Leaves the output off. */
	int (*sweep)(void *h, int current, double start, double stop, size_t n,
		     double limit, double *volts, double *amps, kgd_err *err);
} drv_smu_ops;

#define DRV_SMU_SWEEP_MAX 100   /* points of one sweep call */

typedef struct drv_descriptor {
	uint16_t abi_major;       /* DRV_ABI_MAJOR the plugin was built with */
	uint16_t abi_minor;
	const char *name;         /* e.g. "keysight-n774x"; unique per station */
	const char *description;  /* one line for `station plugins` */
	int klass;                /* enum drv_class */

	/* Required for every class. open() allocates the driver's handle. */
	int (*open)(xport *x, void **handle, kgd_err *err);
	void (*close)(void *handle);
	/* Fill buf with the instrument's identity (e.g. the *IDN? reply). */
	int (*identify)(void *handle, char *buf, size_t cap, kgd_err *err);

	/* Exactly the table for klass is set; the others are NULL. A later
	 * minor adds optional operations only at the end of a table, and the
	 * station reads them only from plugins of that minor or newer. */
	const drv_pm_ops *pm;
	const drv_bert_ops *bert;
	const drv_prober_ops *prober;
	const drv_laser_ops *laser;
	/* ABI 1.2: absent from older plugins' descriptors, never read there. */
	const drv_smu_ops *smu;
} drv_descriptor;

/* Optional, outside the ABI's versioned tables: how long the
 * instrument takes, for `station run --dry-run`'s estimate (it opens
 * nothing). A driver that has it exports, besides KGD_DRIVER_SYMBOL, a
 * const drv_timing named KGD_DRIVER_TIMING_SYMBOL; a driver without it
 * loads as before and the estimate says it assumed defaults. Being a
 * symbol of its own, it needs no ABI version, so it goes with any minor
 * (and adds nothing to a class's operation table). */
#define KGD_DRIVER_TIMING_SYMBOL "kgd_driver_timing"

typedef struct drv_timing {
	double command_s;   /* one command and its reply (or a settle the
	                       driver waits for after a setting) */
	double read_s;      /* one reading, besides the averaging or gate
	                       time the sequence asks for */
	int channels;       /* ports / lanes / laser channels the instrument
	                       has; 0: unknown (the sweep ranges apply) */
} drv_timing;

#ifdef __cplusplus
}
#endif
#endif
