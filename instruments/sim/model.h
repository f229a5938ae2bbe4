/*
 * instruments/sim/model.h - the seeded model of the parts under test that
 * every simulated instrument of the virtual station reads from.
 *
 * Invariant: every value is a pure function of (parameters, unit, port,
 * wavelength, sample index). Nothing depends on call order, wall time or
 * platform random generators, so the same seed gives the same lot bit for
 * bit and a test can recompute what a simulator will answer.
 *
 * Today the model is a lot of optical units (modules with N fibre ports);
 * a wafer of dies is the same idea with (x, y) in place of the unit index.
 */
#ifndef KGD_SIM_MODEL_H
#define KGD_SIM_MODEL_H

#include <stdint.h>

#define SIM_MAX_PORTS 16

enum sim_defect {
	SIM_DEFECT_NONE = 0,
	SIM_DEFECT_WEAK_PORT = 1, /* one port ~10 dB low (bad coupling, weak laser) */
	SIM_DEFECT_DEAD_PORT = 2, /* one port with no light at all */
};

typedef struct sim_model_params {
	uint64_t seed;
	int units;                 /* lot size; units are numbered 0..units-1 */
	int ports;                 /* optical ports per unit, <= SIM_MAX_PORTS */
	double nominal_dbm;        /* design power at the reference wavelength */
	double ref_wavelength_nm;  /* where the tilt term is zero */
	double unit_sigma_db;      /* unit-to-unit spread (process) */
	double port_sigma_db;      /* port-to-port spread within a unit */
	double tilt_sigma_db;      /* per-unit spectral tilt, dB per 100 nm */
	double noise_sigma_db;     /* reading-to-reading noise */
	double weak_fraction;      /* share of units with one weak port */
	double weak_drop_db;       /* how far below its mean a weak port sits */
	double dead_fraction;      /* share of units with one dead port */
	double dead_power_w;       /* what a dead port reads: dark level, not overrange */
} sim_model_params;

typedef struct sim_model {
	sim_model_params p;
} sim_model;

/* Fill p with the documented defaults (seed 1, 25 units, 8 ports, +1 dBm). */
void sim_model_defaults(sim_model_params *p);

/* Copy and validate params; 0 on success, -1 if a parameter is out of range. */
int sim_model_init(sim_model *m, const sim_model_params *p);

/* The injected defect of a unit; *port (may be NULL) gets its port (1-based)
 * or 0 when there is none. */
enum sim_defect sim_model_defect(const sim_model *m, int unit, int *port);

/* Noise-free power in dBm of (unit, port 1..ports) at wl_nm. */
double sim_model_mean_dbm(const sim_model *m, int unit, int port, double wl_nm);

/* One reading in watts: the mean plus the gaussian noise of reading number
 * `sample` (the simulator counts readings per port). A dead port reads
 * dead_power_w exactly. */
double sim_model_power_w(const sim_model *m, int unit, int port, double wl_nm,
			 uint64_t sample);

/* The deterministic generator underneath, exported for tests and for the
 * simulators that need their own streams: splitmix64 step and a hash that
 * mixes up to four keys into a seed. */
uint64_t sim_splitmix64(uint64_t *state);
uint64_t sim_hash(uint64_t seed, uint64_t a, uint64_t b, uint64_t c, uint64_t d);
/* Uniform in [0, 1) from the top 53 bits. */
double sim_uniform(uint64_t x);
/* Standard normal drawn from *state (Irwin-Hall sum of 12 uniforms: only
 * additions, so bit-identical on every IEEE-754 platform, unlike Box-Muller's
 * log/cos). Tails are cut at +-6 sigma, which suits a process model. */
double sim_gauss(uint64_t *state);

#endif
