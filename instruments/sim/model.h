/*
 * instruments/sim/model.h - the seeded model of the parts under test that
 * every simulated instrument of the virtual station reads from: a lot of
 * 300 mm wafers of TeraPHY-class dies, a lot of ELSFP laser modules, or a
 * lot of fiber-attach assemblies (one product per model).
 *
 * Invariant: every value is a pure function of (parameters, part identity,
 * channel, sample index). Nothing depends on call order, wall time or
 * platform random generators, so the same seed gives the same lot bit for
 * bit and a test can recompute what a simulator will answer.
 *
 * Every process term is a sum of gaussians cut at +-6 sigma (sim_gauss), so
 * a good part's deviation from nominal is bounded by 6 * (sum of sigmas);
 * the defaults put that bound well inside the default limits (sim_limits)
 * and every injected defect far outside, so the expected bin of every part
 * is exact (sim_truth_*), not a probability. docs/VIRTUAL_STATION.md has
 * the numbers.
 */
#ifndef KGD_SIM_MODEL_H
#define KGD_SIM_MODEL_H

#include <stdint.h>
#include <stdio.h>

#define SIM_MAX_PORTS 16        /* optical ports, lasers or fibers per part */
#define SIM_MAX_WAVELENGTHS 16
#define SIM_MAX_GRID 128        /* die columns and rows of the wafer map */
#define SIM_MAX_DIES 8192
#define SIM_LOT_MAX 24

enum sim_product {
	SIM_PRODUCT_ELSFP = 0,   /* unit process: laser modules (the default) */
	SIM_PRODUCT_TERAPHY = 1, /* wafer process: optical I/O dies */
	SIM_PRODUCT_FIBER = 2,   /* unit process: fiber-attach assemblies */
};

enum sim_defect {
	SIM_DEFECT_NONE = 0,
	SIM_DEFECT_DEAD_PORT,         /* die: one port dark, its lane never syncs */
	SIM_DEFECT_WEAK_WAVELENGTH,   /* die: one (port, wavelength) far low */
	SIM_DEFECT_HIGH_BER,          /* die: one lane with BER 1e-8..1e-6 */
	SIM_DEFECT_SHORTED,           /* die: no light at all, no sync anywhere */
	SIM_DEFECT_SCRATCH,           /* die on a wafer's scratch line: far low, high BER */
	SIM_DEFECT_WEAK_LASER,        /* module: one laser far low */
	SIM_DEFECT_DRIFTING_LASER,    /* module: one laser low and dropping per sample */
	SIM_DEFECT_MISALIGNED_FIBER,  /* assembly: one fiber with > 3.5 dB extra loss */
	SIM_DEFECT_KINKED_LASER,      /* module: one laser's L-I kinks (its own draw,
	                                 beside the others: sim_unit_kinked_laser) */
	SIM_DEFECT_COUNT
};

typedef struct sim_model_params {
	uint64_t seed;
	enum sim_product product;
	char lot[SIM_LOT_MAX];       /* lot id; lot-to-lot shift is keyed by it */
	int units;                   /* modules/assemblies per lot (unit process) */
	int wafers;                  /* wafers per lot, cassette slots 1..wafers */
	double dark_w;               /* what a port with no light reads */

	/* TeraPHY wafers */
	double wafer_mm, edge_mm, die_w_mm, die_h_mm;
	int die_ports, die_wavelengths;
	double grid_start_nm, grid_step_nm; /* wavelength k = start + k * step */
	double ref_dbm;              /* reference laser launched into each port */
	double il_db;                /* nominal insertion loss port in -> out */
	double lot_sigma_db, wafer_sigma_db, die_sigma_db, port_sigma_db,
	       wl_sigma_db, noise_sigma_db;
	double radial_db;            /* extra loss at the usable edge, ~ (r/R)^2 */
	double q_nominal, q_per_db, q_sigma; /* lane Q at 53.125 Gb/s */
	double shorted_fraction, dead_port_fraction, weak_wl_fraction,
	       high_ber_fraction;    /* per die, mutually exclusive */
	double scratch_wafer_fraction, scratch_width_mm; /* per wafer */
	double weak_wl_drop_db, scratch_drop_db;
	/* Planted outliers (issue 16, for the PAT screen's tests): die
	 * (col, row) of every wafer reads outlier_db[i] dB more on every port
	 * and wavelength - a die far from its wafer yet inside the spec,
	 * which only a statistical screen rejects. Default: none. */
	int n_outliers;
	int outlier_col[4], outlier_row[4];
	double outlier_db[4];

	/* ELSFP modules */
	int lasers;                  /* 8, 16, or 0 = mixed (half 16, half 8) */
	double laser_dbm, module_sigma_db, laser_sigma_db;
	double weak_laser_fraction, drifting_laser_fraction; /* per module */
	double weak_laser_drop_db, drift_start_db, drift_per_sample_db;
	double wl_sigma_nm, bias_ma, bias_sigma_ma, temp_c, temp_sigma_c,
	       smsr_db, smsr_sigma_db;

	/* Fiber-attach assemblies */
	int fibers;
	double fiber_ref_dbm, coupling_db, assembly_sigma_db, fiber_sigma_db;
	double misaligned_fraction, misalign_min_db, misalign_max_db;
	/* ELSFP lasers driven by a source-measure unit (liv.c): threshold,
	 * series resistance, a kinked laser per module (an independent draw:
	 * the power at nominal bias is unchanged, so it shows only in LIV),
	 * the slope drop above its kink and the relative reading noise. */
	double ith_ma, ith_sigma_ma, rs_ohm, rs_sigma_ohm;
	double kinked_laser_fraction, kink_slope_drop, liv_noise;
	/* TeraPHY fiber alignment (align.c), opt-in (--fiber-align): each
	 * die's grating couplers sit off the positioner's nominal spot by a
	 * seeded placement error (coupler_sigma_um per axis; one die per
	 * wafer, sim_planted_die, off by planted_um), and the light coupled is
	 * the Gaussian mode overlap exp(-d^2 / w^2) of the fiber's offset d
	 * from them, w = mode_radius_um. Off: the fiber sits on every coupler. */
	int fiber_align;
	double coupler_sigma_um, planted_um, mode_radius_um;
	/* TeraPHY photodiodes and ring heaters (pdring.c), opt-in (--pd-ring):
	 * per port a photodiode (responsivity, dark current, shunt) and a
	 * ring resonator on the port's path whose resonance a heater
	 * red-shifts (cold resonance ring_detune_nm from grid channel
	 * ring_channel, shift per heater mW, Lorentzian dip of ring_fwhm_nm
	 * and ring_extinction_db). One die per wafer has a leaky photodiode
	 * (shunt leaky_shunt_ohm), another an open ring heater. */
	int pd_ring;
	double pd_resp_a_w, pd_resp_sigma_a_w, pd_dark_a, pd_dark_sigma,
	       pd_shunt_ohm, leaky_shunt_ohm;
	int ring_channel;
	double ring_detune_nm, ring_sigma_nm, ring_fwhm_nm, ring_extinction_db,
	       ring_shift_nm_mw, ring_shift_sigma, heater_ohm, heater_sigma_ohm;
} sim_model_params;

/* The default limits the example sequences use (docs/VIRTUAL_STATION.md). */
typedef struct sim_limits {
	double die_power_low_dbm, die_power_high_dbm; /* per port and wavelength */
	double die_ber_max;          /* true BER of every lane at the rate */
	double ber_rate_gbps;
	double laser_power_low_dbm, laser_power_high_dbm;
	double fiber_loss_max_db;
	/* The LIV screen (sequences/elsfp-liv.yaml, its limits file): with
	 * liv set, a module's expected bin is 6 when any laser fails one. */
	int liv;
	double ith_low_ma, ith_high_ma, slope_low_w_a, kink_max_pct;
	double rs_low_ohm, rs_high_ohm;
	/* The aligned screen (sequences/teraphy-align.yaml): with align set,
	 * a die whose monitor port (align_port at align_nm) cannot reach
	 * align_ref_dbm - align_loss_max_db at the optimum bins 4, else as
	 * its power says (5), BER untested. */
	int align, align_port;
	double align_nm, align_ref_dbm, align_loss_max_db;
	/* The full sort (sequences/teraphy-sort.yaml): with sort set (and
	 * align), a die that aligns and passes power bins 8 when a photodiode
	 * fails dark current or responsivity, else 9 when a ring fails its
	 * tuning (heater power to reach the target channel ring_channel,
	 * shift per mW, cold resonance), else 1. */
	int sort;
	double pd_reverse_v, pd_dark_max_a, pd_resp_low_a_w, pd_resp_high_a_w;
	double ring_power_max_mw, ring_shift_low, ring_shift_high,
	       ring_res_low_nm, ring_res_high_nm;
} sim_limits;

typedef struct sim_model {
	sim_model_params p;
	uint64_t key;                /* seed mixed with the lot id */
	/* The wafer map, derived from the geometry at init. */
	int cols, rows, n_dies;
	uint16_t route[SIM_MAX_DIES][2];           /* serpentine order: col, row */
	int16_t index[SIM_MAX_GRID][SIM_MAX_GRID]; /* [col][row] -> route index, -1 */
} sim_model;

/* What the model says a part is and how it must bin against sim_limits
 * when a sequence tests every port x wavelength (or laser, or fiber) and,
 * for dies, then every lane: power first (bin 5), then BER (bin 7). */
typedef struct sim_truth {
	enum sim_defect defect;
	int where;          /* port / lane / laser / fiber, 1-based; 0 = none */
	int where_wl;       /* wavelength channel 1-based (weak wavelength); 0 */
	int channels;       /* ports, lasers or fibers of the part */
	double min_dbm, max_dbm;  /* pm readings, noise-free, first sample */
	double max_loss_db;       /* fiber: worst coupling loss */
	double max_ber;           /* die: worst true lane BER; 1.0 = no sync */
	int power_pass, ber_pass;
	int expected_bin;   /* 1 PASS, 5 OPTICAL_POWER (or COUPLING_LOSS), 7 BER;
	                       with sim_limits.liv: 1 PASS, 6 LIV */
	int kinked;         /* ELSFP: the laser with a kink, 1-based; 0 none */
	int liv_pass;       /* ELSFP: every laser inside the LIV limits */
	double coupler_x_um, coupler_y_um; /* die: the coupler's placement
	                       error (the optimum is the origin plus it) */
	int align_pass;     /* die: the monitor port reaches the align limit */
	int leaky_pd;       /* die: the port whose photodiode leaks; 0 none */
	int dead_heater;    /* die: the port whose ring heater is open; 0 none */
	int pd_pass, ring_pass; /* die: every photodiode / ring inside the sort
	                       limits (pd_ring model; 1 without it) */
	int sort_bin;       /* die: the bin of the full sort (sim_limits.sort) */
} sim_truth;

/* Fill p with the documented defaults (ELSFP, seed 1, lot LOT1, 25 units). */
void sim_model_defaults(sim_model_params *p);
void sim_limits_defaults(sim_limits *l);

/* Copy and validate params, build the wafer map; 0, or -1 if a parameter
 * is out of range. Nothing to free. */
int sim_model_init(sim_model *m, const sim_model_params *p);

const char *sim_product_name(enum sim_product p);
int sim_product_parse(const char *name, enum sim_product *out);
const char *sim_defect_name(enum sim_defect d);

/* ---- TeraPHY wafers (slot = cassette slot 1..wafers) -------------------- */

/* Route index of die (col, row), or -1 when the map has no die there. */
int sim_die_index(const sim_model *m, int col, int row);
/* Die centre distance from the wafer centre, mm. */
double sim_die_radius_mm(const sim_model *m, int col, int row);
/* "<lot>-W<slot, 2 digits>" into buf. */
void sim_wafer_id(const sim_model *m, int slot, char *buf, size_t cap);
/* Wavelength of channel k (0-based) of the die grid, nm. */
double sim_grid_nm(const sim_model *m, int k);
/* Channel nearest nm (0-based), or -1 if further than half a step away. */
int sim_grid_index(const sim_model *m, double nm);

enum sim_defect sim_die_defect(const sim_model *m, int slot, int col, int row,
			       int *where, int *where_wl);
/* Noise-free output power of (port 1..ports, channel k), dBm; the dark
 * level in dBm for a dead port or a shorted die. */
double sim_die_mean_dbm(const sim_model *m, int slot, int col, int row, int port,
			int k);
/* One reading, W: mean plus reading noise number `sample`. */
double sim_die_power_w(const sim_model *m, int slot, int col, int row, int port,
		       int k, uint64_t sample);
/* True BER of lane 1..ports at rate_gbps; -1 when the lane cannot sync. */
double sim_die_ber(const sim_model *m, int slot, int col, int row, int lane,
		   double rate_gbps);

/* ---- units: ELSFP modules and fiber assemblies (unit 0..units-1) -------- */

/* Serial number: "<lot>-E0001" / "<lot>-F0001" (unit + 1). */
void sim_unit_serial(const sim_model *m, int unit, char *buf, size_t cap);
/* Lasers of a module, fibers of an assembly. */
int sim_unit_channels(const sim_model *m, int unit);
enum sim_defect sim_unit_defect(const sim_model *m, int unit, int *where);

typedef struct sim_laser {
	double power_dbm, wavelength_nm, bias_ma, temp_c, smsr_db;
} sim_laser;

/* Laser 1..lasers of module `unit` as read the `sample`-th time (power
 * carries reading noise and the drift of a drifting laser). */
void sim_laser_read(const sim_model *m, int unit, int laser, uint64_t sample,
		    sim_laser *out);
double sim_module_temp_c(const sim_model *m, int unit);
/* Noise-free power of laser 1..lasers at its nominal bias at reading
 * `sample` (a drifting laser drops per reading), dBm. */
double sim_laser_mean_dbm(const sim_model *m, int unit, int laser, uint64_t sample);
/* ---- LIV: a laser driven by a source-measure unit (liv.c) --------------- */
/* The laser of module `unit` whose L-I curve kinks, 1-based; 0: none. */
int sim_unit_kinked_laser(const sim_model *m, int unit);
/* A laser's L-I-V law: threshold, slope below/above the kink current, the
 * kink current (+inf: none), series resistance. */
typedef struct sim_liv {
	double ith_a, slope_w_a, kink_a, slope2_w_a, rs_ohm;
} sim_liv;
void sim_laser_liv(const sim_model *m, int unit, int laser, sim_liv *out);
/* Optical power (W, noise-free) and forward voltage (V) at `amps`. */
double sim_liv_power_w(const sim_liv *l, double amps);
double sim_liv_volts(const sim_liv *l, double amps);
/* The current a forward voltage drives (inverse of sim_liv_volts), A. */
double sim_liv_amps(const sim_liv *l, double volts);
/* 1 when every laser of `unit` lies inside l's LIV limits (noise-free). */
int sim_truth_liv(const sim_model *m, const sim_limits *l, int unit);
/* ---- fiber alignment (align.c) ------------------------------------------ */
/* The positioner's frame: NanoCube micrometres, nominal spot at 50, 50. */
#define SIM_FIBER_ORIGIN_UM 50.0
/* Route index of the die of wafer `slot` whose coupler is off by
 * planted_um; -1 without the alignment model. */
int sim_planted_die(const sim_model *m, int slot);
/* The die's coupler placement error, um (0, 0 without the model). */
void sim_die_coupler(const sim_model *m, int slot, int col, int row, double *ex,
		     double *ey);
/* Fraction of the light coupled with the fiber at (x, y) in the
 * positioner's frame: 1 without the model. */
double sim_die_coupling(const sim_model *m, int slot, int col, int row, double x,
			double y);
/* Fiber 1..fibers: noise-free coupling loss, dB. */
double sim_fiber_loss_db(const sim_model *m, int unit, int fiber);

/* ---- photodiodes and ring heaters (pdring.c) ---------------------------- */
/* Route index of wafer slot's die with the leaky photodiode / the open
 * ring heater (a die with no other defect, not the 3 um coupler die, not
 * each other), its port in *port; -1 without the pd_ring model. */
int sim_planted_leaky_pd(const sim_model *m, int slot, int *port);
int sim_planted_dead_heater(const sim_model *m, int slot, int *port);
typedef struct sim_pd {
	double resp_a_w, dark_a, shunt_ohm;
} sim_pd;
void sim_die_pd(const sim_model *m, int slot, int col, int row, int port, sim_pd *out);
/* Terminal current at `volts` with photo_a of photocurrent, in the SMU's
 * sign (reverse bias: negative volts, negative current). */
double sim_pd_amps(const sim_pd *pd, double volts, double photo_a);
/* The voltage that drives `amps` (inverse of sim_pd_amps), V. */
double sim_pd_volts(const sim_pd *pd, double amps, double photo_a);
typedef struct sim_ring {
	double res0_nm, shift_nm_mw, fwhm_nm, t_min, heater_ohm;
} sim_ring;
void sim_die_ring(const sim_model *m, int slot, int col, int row, int port,
		  sim_ring *out);
/* Through-port transmission at nm with heater_w in the heater. */
double sim_ring_through(const sim_ring *r, double nm, double heater_w);
/* Heater power that puts the resonance on grid channel k, mW (what the
 * heater would need; an open one cannot take it). */
double sim_ring_tuning_mw(const sim_model *m, const sim_ring *r, int k);

/* t's photodiode and ring fields and sort_bin (t's align and power
 * verdicts already set). */
void sim_truth_pdring(const sim_model *m, const sim_limits *l, int slot, int col,
		      int row, sim_truth *t);

/* What power-meter port `port` reads for unit `unit` in the unit process
 * (ELSFP: laser `port`; fiber: reference minus coupling loss; TeraPHY: the
 * unit-th die of wafer 1's route at the channel nearest wl_nm), W. */
double sim_model_power_w(const sim_model *m, int unit, int port, double wl_nm,
			 uint64_t sample);

/* ---- ground truth -------------------------------------------------------- */

int sim_truth_die(const sim_model *m, const sim_limits *l, int slot, int col,
		  int row, sim_truth *t);
int sim_truth_unit(const sim_model *m, const sim_limits *l, int unit, sim_truth *t);
/* The whole lot as CSV, one row per part (format in VIRTUAL_STATION.md).
 * 0, or -1 on a write error. */
int sim_truth_write_csv(const sim_model *m, const sim_limits *l, FILE *f);

/* ---- the deterministic generator underneath ------------------------------- */

uint64_t sim_splitmix64(uint64_t *state);
uint64_t sim_hash(uint64_t seed, uint64_t a, uint64_t b, uint64_t c, uint64_t d);
/* Uniform in [0, 1) from the top 53 bits. */
double sim_uniform(uint64_t x);
/* Standard normal drawn from *state (Irwin-Hall sum of 12 uniforms: only
 * additions, so bit-identical on every IEEE-754 platform, unlike Box-Muller's
 * log/cos). Tails are cut at +-6 sigma, which suits a process model. */
double sim_gauss(uint64_t *state);
/* Poisson count with mean lambda drawn from *state (exact below 30, normal
 * approximation above, never negative). */
uint64_t sim_poisson(double lambda, uint64_t *state);
/* BER of a Q factor: 0.5 erfc(Q / sqrt 2). */
double sim_ber_of_q(double q);

#endif
