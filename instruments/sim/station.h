/*
 * instruments/sim/station.h - the state the simulated instruments of one
 * kgd-vstation share: the model of the lot, which part is under test, and
 * the physical set-up around it (chuck position and contact, the laser
 * module's enable state).
 *
 * Invariant: an instrument learns what it measures only from here, so the
 * power meter, the BERT and the prober always agree on the die in contact;
 * every instrument runs in the one thread of the socket loop, so no lock.
 */
#ifndef KGD_SIM_STATION_H
#define KGD_SIM_STATION_H

#include <stdint.h>

#include "model.h"

typedef struct sim_station {
	sim_model model;
	sim_limits limits;
	double time_scale;        /* modelled times are multiplied by this */
	int dut;                  /* unit process: unit 0..units-1 in the fixture */
	/* wafer process, driven by the prober */
	int slot;                 /* wafer on the chuck, 0 = none */
	int at_die, col, row;     /* chuck positioned under die (col, row) */
	int contact;              /* probes down on it */
	uint64_t contact_epoch;   /* +1 on every contact or separation */
	/* the ELSFP module in the fixture (reset when the DUT changes) */
	int low_power;            /* LowPwrRequestSW */
	uint16_t tx_disable;      /* bit n-1: lane n off */
	/* the source-measure units wired to the module's lasers (smu.c):
	 * while SMU n's output is on, laser n emits what its L-I law gives at
	 * smu_a[n-1], whatever the module's own enable says */
	int smu_on[SIM_MAX_PORTS];
	double smu_a[SIM_MAX_PORTS];
	/* the prober's fiber positioner (NanoCube um; origin 50, 50): what
	 * the power meter sees of a die is its coupling there (align.c) */
	double fiber_x, fiber_y;
	/* --pd-ring (TeraPHY): the power in port n's ring heater while its
	 * SMU drives it (0 otherwise), and the wavelength the power meter's
	 * port n is set to - the reference source's channel on that port
	 * follows it, for the meter and the photodiode alike. */
	double heater_w[SIM_MAX_PORTS];
	double pm_nm[SIM_MAX_PORTS];
} sim_station;

/* Select unit n as the part under test (0..units-1); its module starts
 * powered and lasing. 0, or -1 when n is out of range. */
int sim_station_select(sim_station *st, long n);

/* The die the probes touch: 1 with slot/col/row filled, or 0. */
int sim_station_die(const sim_station *st, int *slot, int *col, int *row);

/* Power of laser `lane` (1-based) while its SMU drives it, W with the
 * reading noise of reading `sample`; -1 when no SMU drives it. */
double sim_station_smu_light_w(const sim_station *st, int lane, uint64_t sample);
/* Laser `lane` (1-based) of the module in the fixture emits. */
int sim_station_laser_on(const sim_station *st, int lane);

/* TeraPHY: what reaches port `port` (1-based) of the die in contact at
 * grid channel k beside the die's own power: the fiber's coupling and,
 * with --pd-ring, the ring's through port at its heater power against
 * the cold ring the die's power already holds, and the source channel's
 * enable (the laser role); a factor. */
double sim_station_port_factor(const sim_station *st, int slot, int col, int row,
			       int port, int k);
/* The photocurrent of port `port`'s photodiode now (noise-free, A): its
 * responsivity x the light the meter's port of that number would see. */
double sim_station_pd_photo_a(const sim_station *st, int port);

/* Monotonic seconds. */
double sim_now(void);

#endif
