/*
 * instruments/sim/model.c - see model.h.
 *
 * Every random quantity is drawn from its own stream, keyed by a tag and the
 * indices it belongs to (sim_hash), never from a shared generator advanced
 * in call order: asking for port 3 before port 1 must not change either.
 */
#include "model.h"

#include <math.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>

/* Stream tags: arbitrary distinct constants, fixed forever, because changing
 * one changes every lot generated from a given seed. */
enum {
	TAG_LOT = 0x4c4f5420,     /* "LOT " */
	TAG_WAFER = 0x57414652,   /* "WAFR" */
	TAG_DIE = 0x44494520,     /* "DIE " */
	TAG_PORT = 0x504f5254,    /* "PORT" */
	TAG_WL = 0x57415645,      /* "WAVE" */
	TAG_Q = 0x51464143,       /* "QFAC" */
	TAG_DEFECT = 0x44454643,  /* "DEFC" */
	TAG_DEFPORT = 0x44455050, /* "DEPP" */
	TAG_DEFWL = 0x4445574c,   /* "DEWL" */
	TAG_HIBER = 0x48424552,   /* "HBER" */
	TAG_SCRATCH = 0x53435254, /* "SCRT" */
	TAG_NOISE = 0x4e4f4953,   /* "NOIS" */
	TAG_UNIT = 0x554e4954,    /* "UNIT" */
	TAG_LASERS = 0x4c534e4e,  /* "LSNN" */
	TAG_LWL = 0x4c574c20,     /* "LWL " */
	TAG_BIAS = 0x42494153,    /* "BIAS" */
	TAG_TEMP = 0x54454d50,    /* "TEMP" */
	TAG_SMSR = 0x534d5352,    /* "SMSR" */
	TAG_FIBER = 0x46494252,   /* "FIBR" */
	TAG_MISAL = 0x4d49534c,   /* "MISL" */
};

void sim_model_defaults(sim_model_params *p)
{
	memset(p, 0, sizeof(*p));
	p->seed = 1;
	p->product = SIM_PRODUCT_ELSFP;
	strcpy(p->lot, "LOT1");
	p->units = 25;
	p->wafers = 2;
	p->dark_w = 1e-9;

	p->wafer_mm = 300.0;
	p->edge_mm = 3.0;
	p->die_w_mm = 8.0;
	p->die_h_mm = 9.0;
	p->die_ports = 16;
	p->die_wavelengths = 16;
	p->grid_start_nm = 1301.0;
	p->grid_step_nm = 1.12;   /* 200 GHz at 1300 nm */
	p->ref_dbm = 4.0;
	p->il_db = 4.5;
	p->lot_sigma_db = 0.05;
	p->wafer_sigma_db = 0.10;
	p->die_sigma_db = 0.15;
	p->port_sigma_db = 0.10;
	p->wl_sigma_db = 0.10;
	p->noise_sigma_db = 0.02;
	p->radial_db = 1.0;
	p->q_nominal = 8.0;
	p->q_per_db = 0.1;
	p->q_sigma = 0.08;
	p->shorted_fraction = 0.01;
	p->dead_port_fraction = 0.015;
	p->weak_wl_fraction = 0.015;
	p->high_ber_fraction = 0.015;
	p->scratch_wafer_fraction = 0.25;
	p->scratch_width_mm = 4.0;
	p->weak_wl_drop_db = 15.0;
	p->scratch_drop_db = 20.0;

	p->lasers = 8;
	p->laser_dbm = 1.5;
	p->module_sigma_db = 0.3;
	p->laser_sigma_db = 0.2;
	p->weak_laser_fraction = 0.08;
	p->drifting_laser_fraction = 0.04;
	p->weak_laser_drop_db = 10.0;
	p->drift_start_db = 10.0;
	p->drift_per_sample_db = 0.25;
	p->wl_sigma_nm = 0.015;
	p->bias_ma = 60.0;
	p->bias_sigma_ma = 1.5;
	p->temp_c = 45.0;
	p->temp_sigma_c = 0.3;
	p->smsr_db = 45.0;
	p->smsr_sigma_db = 1.0;
	p->ith_ma = 8.0;
	p->ith_sigma_ma = 0.5;
	p->rs_ohm = 4.0;
	p->rs_sigma_ohm = 0.2;
	p->kinked_laser_fraction = 0.12;
	p->kink_slope_drop = 0.4;
	p->liv_noise = 2e-4;
	p->fiber_align = 0;
	p->coupler_sigma_um = 0.4;
	p->planted_um = 3.0;
	p->mode_radius_um = 5.0;
	p->pd_ring = 0;
	p->pd_resp_a_w = 0.85;
	p->pd_resp_sigma_a_w = 0.02;
	p->pd_dark_a = 1e-9;
	p->pd_dark_sigma = 0.2;
	p->pd_shunt_ohm = 1e11;
	p->leaky_shunt_ohm = 1e6;
	p->ring_channel = 8;          /* 1309.96 nm */
	p->ring_detune_nm = -0.56;    /* cold: half a grid step below it */
	p->ring_sigma_nm = 0.03;
	p->ring_fwhm_nm = 0.2;
	p->ring_extinction_db = 15.0;
	p->ring_shift_nm_mw = 0.25;
	p->ring_shift_sigma = 0.01;
	p->heater_ohm = 800.0;
	p->heater_sigma_ohm = 8.0;

	p->fibers = 16;
	p->fiber_ref_dbm = 0.0;
	p->coupling_db = 1.0;
	p->assembly_sigma_db = 0.06;
	p->fiber_sigma_db = 0.08;
	p->misaligned_fraction = 0.06;
	p->misalign_min_db = 3.5;
	p->misalign_max_db = 6.0;
}

void sim_limits_defaults(sim_limits *l)
{
	l->die_power_low_dbm = -7.0;
	l->die_power_high_dbm = 5.0;
	l->die_ber_max = 1e-12;
	l->ber_rate_gbps = 53.125;
	l->laser_power_low_dbm = -3.0;
	l->laser_power_high_dbm = 6.0;
	l->fiber_loss_max_db = 2.5;
	l->liv = 0;
	l->ith_low_ma = 3.0;
	l->ith_high_ma = 14.0;
	l->slope_low_w_a = 0.009;
	l->kink_max_pct = 20.0;
	l->rs_low_ohm = 2.0;
	l->rs_high_ohm = 7.0;
	l->align = 0;
	l->align_port = 1;
	l->align_nm = 1309.96;
	l->align_ref_dbm = 4.0;
	l->align_loss_max_db = 10.0;
	l->sort = 0;
	l->pd_reverse_v = 1.0;
	l->pd_dark_max_a = 50e-9;
	l->pd_resp_low_a_w = 0.7;
	l->pd_resp_high_a_w = 1.0;
	l->ring_power_max_mw = 4.0;
	l->ring_shift_low = 0.2;
	l->ring_shift_high = 0.3;
	l->ring_res_low_nm = 1308.9;
	l->ring_res_high_nm = 1309.9;
}

/* ---- generator ------------------------------------------------------------ */

uint64_t sim_splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

uint64_t sim_hash(uint64_t seed, uint64_t a, uint64_t b, uint64_t c, uint64_t d)
{
	uint64_t s = seed;
	uint64_t keys[4] = {a, b, c, d};
	uint64_t h = sim_splitmix64(&s);

	/* Feed each key through a full splitmix round so nearby indices (unit 3
	 * vs unit 4) land on unrelated streams. */
	for (size_t i = 0; i < 4; i++) {
		s = h ^ keys[i];
		h = sim_splitmix64(&s);
	}
	return h;
}

double sim_uniform(uint64_t x)
{
	return (double)(x >> 11) * 0x1.0p-53;
}

double sim_gauss(uint64_t *state)
{
	double sum = 0.0;

	for (int i = 0; i < 12; i++)
		sum += sim_uniform(sim_splitmix64(state));
	return sum - 6.0;
}

uint64_t sim_poisson(double lambda, uint64_t *state)
{
	if (!(lambda > 0))
		return 0;
	if (lambda < 30) {
		/* Knuth: multiply uniforms until below e^-lambda. */
		double limit = exp(-lambda), prod = 1.0;
		uint64_t k = 0;

		for (;;) {
			prod *= sim_uniform(sim_splitmix64(state));
			if (prod <= limit)
				return k;
			k++;
		}
	}
	{
		double x = lambda + sqrt(lambda) * sim_gauss(state) + 0.5;

		return x < 0 ? 0 : (uint64_t)x;
	}
}

double sim_ber_of_q(double q)
{
	return 0.5 * erfc(q / sqrt(2.0));
}

static double gauss_at(uint64_t key, uint64_t tag, uint64_t a, uint64_t b, uint64_t c)
{
	uint64_t s = sim_hash(key, tag, a, b, c);

	return sim_gauss(&s);
}

static double uniform_at(uint64_t key, uint64_t tag, uint64_t a, uint64_t b, uint64_t c)
{
	return sim_uniform(sim_hash(key, tag, a, b, c));
}

static double dbm_to_w(double dbm)
{
	return 1e-3 * pow(10.0, dbm / 10.0);
}

/* ---- names ----------------------------------------------------------------- */

static const char *const product_names[] = {"elsfp", "teraphy", "fiber"};

static const char *const defect_names[SIM_DEFECT_COUNT] = {
	"none", "dead-port", "weak-wavelength", "high-ber-lane", "shorted",
	"scratch", "weak-laser", "drifting-laser", "misaligned-fiber",
	"kinked-laser",
};

const char *sim_product_name(enum sim_product p)
{
	return (unsigned)p < 3 ? product_names[p] : "?";
}

int sim_product_parse(const char *name, enum sim_product *out)
{
	for (int i = 0; i < 3; i++)
		if (strcasecmp(name, product_names[i]) == 0) {
			*out = (enum sim_product)i;
			return 0;
		}
	return -1;
}

const char *sim_defect_name(enum sim_defect d)
{
	return (unsigned)d < SIM_DEFECT_COUNT ? defect_names[d] : "?";
}

/* ---- the wafer map ----------------------------------------------------------- */

/* Die (col, row) spans x in [x0, x0 + w], y in [y0, y0 + h], wafer centre at
 * (0, 0) on a die corner, column 0 left, row 0 at the top (flat/notch down). */
static void die_box(const sim_model *m, int col, int row, double *x0, double *y0)
{
	*x0 = (col - m->cols / 2) * m->p.die_w_mm;
	*y0 = (m->rows / 2 - row - 1) * m->p.die_h_mm;
}

static int die_inside(const sim_model *m, int col, int row)
{
	double r = m->p.wafer_mm / 2 - m->p.edge_mm, x0, y0;

	die_box(m, col, row, &x0, &y0);
	/* Whole dies only: every corner inside the usable radius. */
	for (int i = 0; i < 4; i++) {
		double x = x0 + (i & 1) * m->p.die_w_mm;
		double y = y0 + (i >> 1) * m->p.die_h_mm;

		if (x * x + y * y > r * r)
			return 0;
	}
	return 1;
}

static void build_map(sim_model *m)
{
	double r = m->p.wafer_mm / 2 - m->p.edge_mm;

	m->cols = 2 * (int)ceil(r / m->p.die_w_mm);
	m->rows = 2 * (int)ceil(r / m->p.die_h_mm);
	m->n_dies = 0;
	memset(m->index, 0xff, sizeof(m->index));
	/* Serpentine: row 0 left to right, row 1 right to left, ... so the
	 * chuck never travels back across the wafer between rows. */
	for (int row = 0; row < m->rows; row++)
		for (int i = 0; i < m->cols; i++) {
			int col = (row & 1) ? m->cols - 1 - i : i;

			if (!die_inside(m, col, row))
				continue;
			m->route[m->n_dies][0] = (uint16_t)col;
			m->route[m->n_dies][1] = (uint16_t)row;
			m->index[col][row] = (int16_t)m->n_dies;
			m->n_dies++;
		}
}

int sim_die_index(const sim_model *m, int col, int row)
{
	if (col < 0 || row < 0 || col >= m->cols || row >= m->rows)
		return -1;
	return m->index[col][row];
}

double sim_die_radius_mm(const sim_model *m, int col, int row)
{
	double x0, y0, x, y;

	die_box(m, col, row, &x0, &y0);
	x = x0 + m->p.die_w_mm / 2;
	y = y0 + m->p.die_h_mm / 2;
	return sqrt(x * x + y * y);
}

void sim_wafer_id(const sim_model *m, int slot, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s-W%02d", m->p.lot, slot);
}

double sim_grid_nm(const sim_model *m, int k)
{
	return m->p.grid_start_nm + k * m->p.grid_step_nm;
}

int sim_grid_index(const sim_model *m, double nm)
{
	double k = (nm - m->p.grid_start_nm) / m->p.grid_step_nm;
	int i = (int)floor(k + 0.5);

	if (i < 0 || i >= m->p.die_wavelengths || fabs(k - i) > 0.5)
		return -1;
	return i;
}

/* ---- init ------------------------------------------------------------------- */

static int in_range(double v, double lo, double hi)
{
	return v >= lo && v <= hi;
}

int sim_model_init(sim_model *m, const sim_model_params *p)
{
	double fractions = p->shorted_fraction + p->dead_port_fraction
			   + p->weak_wl_fraction + p->high_ber_fraction;
	uint64_t lot = 0xcbf29ce484222325ULL;

	if ((unsigned)p->product > 2 || p->units < 1 || p->units > 1000000
	    || p->wafers < 1 || p->wafers > 25 || !(p->dark_w > 0))
		return -1;
	if (!memchr(p->lot, '\0', sizeof(p->lot)) || !p->lot[0])
		return -1;
	if (!in_range(p->wafer_mm, 50, 450) || !in_range(p->edge_mm, 0, 20)
	    || !in_range(p->die_w_mm, 3, 40) || !in_range(p->die_h_mm, 3, 40)
	    || p->die_w_mm * p->die_h_mm < 9.0)
		return -1;
	if (!in_range(p->die_ports, 1, SIM_MAX_PORTS)
	    || !in_range(p->die_wavelengths, 1, SIM_MAX_WAVELENGTHS)
	    || !(p->grid_step_nm > 0))
		return -1;
	if (!in_range(fractions, 0, 1) || p->shorted_fraction < 0 || p->dead_port_fraction < 0
	    || p->weak_wl_fraction < 0 || p->high_ber_fraction < 0
	    || !in_range(p->scratch_wafer_fraction, 0, 1))
		return -1;
	if (!(p->lasers == 0 || p->lasers == 8 || p->lasers == 16)
	    || p->weak_laser_fraction < 0 || p->drifting_laser_fraction < 0
	    || p->weak_laser_fraction + p->drifting_laser_fraction > 1)
		return -1;
	if (!in_range(p->fibers, 1, SIM_MAX_PORTS) || !in_range(p->misaligned_fraction, 0, 1)
	    || p->misalign_min_db > p->misalign_max_db)
		return -1;
	memset(m, 0, sizeof(*m));
	m->p = *p;
	/* FNV-1a of the lot id, mixed into the seed: a lot is (seed, lot id). */
	for (const char *c = p->lot; *c; c++)
		lot = (lot ^ (uint8_t)*c) * 0x100000001b3ULL;
	m->key = sim_hash(p->seed, lot, 0, 0, 0);
	build_map(m);
	if (m->cols > SIM_MAX_GRID || m->rows > SIM_MAX_GRID || m->n_dies < 1)
		return -1;
	return 0;
}

/* ---- TeraPHY dies -------------------------------------------------------------- */

static uint64_t die_key(int slot, int col, int row)
{
	return ((uint64_t)(uint32_t)slot << 32) | ((uint64_t)(uint16_t)col << 16)
	       | (uint16_t)row;
}

/* Distance of die centre from the wafer's scratch line, or a huge number
 * when the wafer has none. The line: direction angle a, offset d from the
 * centre, both drawn per wafer. */
static int on_scratch(const sim_model *m, int slot, int col, int row)
{
	const double pi = 3.14159265358979323846;
	double a, d, x0, y0, x, y, dist;

	if (uniform_at(m->key, TAG_SCRATCH, (uint64_t)slot, 0, 0) >= m->p.scratch_wafer_fraction)
		return 0;
	a = pi * uniform_at(m->key, TAG_SCRATCH, (uint64_t)slot, 1, 0);
	d = (uniform_at(m->key, TAG_SCRATCH, (uint64_t)slot, 2, 0) - 0.5)
	    * (m->p.wafer_mm / 2);
	die_box(m, col, row, &x0, &y0);
	x = x0 + m->p.die_w_mm / 2;
	y = y0 + m->p.die_h_mm / 2;
	dist = fabs(-sin(a) * x + cos(a) * y - d);
	return dist < m->p.scratch_width_mm / 2;
}

enum sim_defect sim_die_defect(const sim_model *m, int slot, int col, int row,
			       int *where, int *where_wl)
{
	const sim_model_params *p = &m->p;
	uint64_t k = die_key(slot, col, row);
	double u = uniform_at(m->key, TAG_DEFECT, k, 0, 0);
	int port = 1 + (int)(sim_hash(m->key, TAG_DEFPORT, k, 0, 0) % (uint64_t)p->die_ports);
	int wl = 1 + (int)(sim_hash(m->key, TAG_DEFWL, k, 0, 0) % (uint64_t)p->die_wavelengths);
	enum sim_defect d = SIM_DEFECT_NONE;
	double edge = 0;

	if (on_scratch(m, slot, col, row))
		d = SIM_DEFECT_SCRATCH;
	else if (u < (edge += p->shorted_fraction))
		d = SIM_DEFECT_SHORTED;
	else if (u < (edge += p->dead_port_fraction))
		d = SIM_DEFECT_DEAD_PORT;
	else if (u < (edge += p->weak_wl_fraction))
		d = SIM_DEFECT_WEAK_WAVELENGTH;
	else if (u < (edge += p->high_ber_fraction))
		d = SIM_DEFECT_HIGH_BER;
	if (where)
		*where = (d == SIM_DEFECT_DEAD_PORT || d == SIM_DEFECT_WEAK_WAVELENGTH
			  || d == SIM_DEFECT_HIGH_BER) ? port : 0;
	if (where_wl)
		*where_wl = d == SIM_DEFECT_WEAK_WAVELENGTH ? wl : 0;
	return d;
}

/* Process deviation of a port from nominal, dB, without the wavelength
 * term: what sets the lane's optical margin. */
static double die_port_dev_db(const sim_model *m, int slot, int col, int row, int port)
{
	const sim_model_params *p = &m->p;
	uint64_t k = die_key(slot, col, row);
	double r = sim_die_radius_mm(m, col, row) / (p->wafer_mm / 2 - p->edge_mm);

	return p->lot_sigma_db * gauss_at(m->key, TAG_LOT, 0, 0, 0)
	       + p->wafer_sigma_db * gauss_at(m->key, TAG_WAFER, (uint64_t)slot, 0, 0)
	       + p->die_sigma_db * gauss_at(m->key, TAG_DIE, k, 0, 0)
	       + p->port_sigma_db * gauss_at(m->key, TAG_PORT, k, (uint64_t)port, 0)
	       - p->radial_db * r * r;
}

double sim_die_mean_dbm(const sim_model *m, int slot, int col, int row, int port, int k)
{
	const sim_model_params *p = &m->p;
	int where, where_wl;
	enum sim_defect d = sim_die_defect(m, slot, col, row, &where, &where_wl);
	double dbm;

	if (d == SIM_DEFECT_SHORTED || (d == SIM_DEFECT_DEAD_PORT && port == where))
		return 10.0 * log10(p->dark_w / 1e-3);
	dbm = p->ref_dbm - p->il_db + die_port_dev_db(m, slot, col, row, port)
	      + p->wl_sigma_db * gauss_at(m->key, TAG_WL, die_key(slot, col, row),
					  (uint64_t)port, (uint64_t)k);
	if (d == SIM_DEFECT_WEAK_WAVELENGTH && port == where && k == where_wl - 1)
		dbm -= p->weak_wl_drop_db;
	if (d == SIM_DEFECT_SCRATCH)
		dbm -= p->scratch_drop_db;
	if (p->pd_ring) {
		/* The port's ring, heater off, takes its tail off every channel. */
		sim_ring r;

		sim_die_ring(m, slot, col, row, port, &r);
		dbm += 10.0 * log10(sim_ring_through(&r, sim_grid_nm(m, k), 0.0));
	}
	for (int i = 0; i < p->n_outliers && i < 4; i++)
		if (p->outlier_col[i] == col && p->outlier_row[i] == row)
			dbm += p->outlier_db[i];
	return dbm;
}

double sim_die_power_w(const sim_model *m, int slot, int col, int row, int port,
		       int k, uint64_t sample)
{
	int where;
	enum sim_defect d = sim_die_defect(m, slot, col, row, &where, NULL);
	double noise;

	/* Dark is the meter's floor, a valid small number, not overrange. */
	if (d == SIM_DEFECT_SHORTED || (d == SIM_DEFECT_DEAD_PORT && port == where))
		return m->p.dark_w;
	noise = m->p.noise_sigma_db * gauss_at(m->key, TAG_NOISE, die_key(slot, col, row),
					       (uint64_t)(port * 64 + k), sample);
	return dbm_to_w(sim_die_mean_dbm(m, slot, col, row, port, k) + noise);
}

double sim_die_ber(const sim_model *m, int slot, int col, int row, int lane,
		   double rate_gbps)
{
	const sim_model_params *p = &m->p;
	uint64_t k = die_key(slot, col, row);
	int where;
	enum sim_defect d = sim_die_defect(m, slot, col, row, &where, NULL);
	double q;

	if (d == SIM_DEFECT_SHORTED || (d == SIM_DEFECT_DEAD_PORT && lane == where))
		return -1;
	if (d == SIM_DEFECT_SCRATCH)
		return 1e-5;
	if (d == SIM_DEFECT_HIGH_BER && lane == where)
		return pow(10.0, -8.0 + 2.0 * uniform_at(m->key, TAG_HIBER, k, 0, 0));
	q = p->q_nominal + p->q_per_db * die_port_dev_db(m, slot, col, row, lane)
	    + p->q_sigma * gauss_at(m->key, TAG_Q, k, (uint64_t)lane, 0);
	/* Eye opening shrinks with rate: Q ~ 1/sqrt(rate) around 53.125 Gb/s. */
	if (rate_gbps > 0)
		q *= sqrt(53.125 / rate_gbps);
	return sim_ber_of_q(q);
}

/* ---- units ---------------------------------------------------------------------- */

void sim_unit_serial(const sim_model *m, int unit, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s-%c%04d", m->p.lot,
		 m->p.product == SIM_PRODUCT_FIBER ? 'F' : 'E', unit + 1);
}

int sim_unit_channels(const sim_model *m, int unit)
{
	if (m->p.product == SIM_PRODUCT_FIBER)
		return m->p.fibers;
	if (m->p.product == SIM_PRODUCT_TERAPHY)
		return m->p.die_ports;
	if (m->p.lasers)
		return m->p.lasers;
	return uniform_at(m->key, TAG_LASERS, (uint64_t)unit, 0, 0) < 0.5 ? 16 : 8;
}

enum sim_defect sim_unit_defect(const sim_model *m, int unit, int *where)
{
	const sim_model_params *p = &m->p;
	double u = uniform_at(m->key, TAG_DEFECT, (uint64_t)unit, 1, 0);
	int which = 1 + (int)(sim_hash(m->key, TAG_DEFPORT, (uint64_t)unit, 1, 0)
			      % (uint64_t)sim_unit_channels(m, unit));
	enum sim_defect d = SIM_DEFECT_NONE;

	if (p->product == SIM_PRODUCT_ELSFP) {
		if (u < p->weak_laser_fraction)
			d = SIM_DEFECT_WEAK_LASER;
		else if (u < p->weak_laser_fraction + p->drifting_laser_fraction)
			d = SIM_DEFECT_DRIFTING_LASER;
	} else if (p->product == SIM_PRODUCT_FIBER) {
		if (u < p->misaligned_fraction)
			d = SIM_DEFECT_MISALIGNED_FIBER;
	}
	if (where)
		*where = d == SIM_DEFECT_NONE ? 0 : which;
	return d;
}

/* Laser grid: 16 lasers on the die grid; 8 lasers on every other channel. */
static double laser_grid_nm(const sim_model *m, int unit, int laser)
{
	int step = sim_unit_channels(m, unit) == 8 ? 2 : 1;

	return sim_grid_nm(m, (laser - 1) * step);
}

double sim_module_temp_c(const sim_model *m, int unit)
{
	return m->p.temp_c + m->p.temp_sigma_c * gauss_at(m->key, TAG_TEMP, (uint64_t)unit, 0, 0);
}

/* Noise-free power of a laser at reading number `sample` (a drifting laser
 * drops with every reading), dBm. */
double sim_laser_mean_dbm(const sim_model *m, int unit, int laser, uint64_t sample)
{
	const sim_model_params *p = &m->p;
	uint64_t u = (uint64_t)unit, l = (uint64_t)laser;
	int where;
	enum sim_defect d = sim_unit_defect(m, unit, &where);
	double dbm = p->laser_dbm + p->module_sigma_db * gauss_at(m->key, TAG_UNIT, u, 0, 0)
		     + p->laser_sigma_db * gauss_at(m->key, TAG_PORT, u, l, 1);

	if (d == SIM_DEFECT_WEAK_LASER && laser == where)
		dbm -= p->weak_laser_drop_db;
	if (d == SIM_DEFECT_DRIFTING_LASER && laser == where)
		dbm -= p->drift_start_db + p->drift_per_sample_db * (double)sample;
	return dbm;
}

void sim_laser_read(const sim_model *m, int unit, int laser, uint64_t sample,
		    sim_laser *out)
{
	const sim_model_params *p = &m->p;
	uint64_t u = (uint64_t)unit, l = (uint64_t)laser;

	out->power_dbm = sim_laser_mean_dbm(m, unit, laser, sample)
			 + p->noise_sigma_db * gauss_at(m->key, TAG_NOISE, u, l + 1000, sample);
	out->wavelength_nm = laser_grid_nm(m, unit, laser)
			     + p->wl_sigma_nm * (gauss_at(m->key, TAG_LWL, u, 0, 0)
						 + gauss_at(m->key, TAG_LWL, u, l, 1));
	out->bias_ma = p->bias_ma + p->bias_sigma_ma * gauss_at(m->key, TAG_BIAS, u, l, 0);
	out->temp_c = sim_module_temp_c(m, unit)
		      + 0.5 * p->temp_sigma_c * gauss_at(m->key, TAG_TEMP, u, l, 1);
	out->smsr_db = p->smsr_db + p->smsr_sigma_db * gauss_at(m->key, TAG_SMSR, u, l, 0);
}

double sim_fiber_loss_db(const sim_model *m, int unit, int fiber)
{
	const sim_model_params *p = &m->p;
	uint64_t u = (uint64_t)unit;
	int where;
	double db = p->coupling_db + p->assembly_sigma_db * gauss_at(m->key, TAG_UNIT, u, 0, 2)
		    + p->fiber_sigma_db * gauss_at(m->key, TAG_FIBER, u, (uint64_t)fiber, 0);

	if (sim_unit_defect(m, unit, &where) == SIM_DEFECT_MISALIGNED_FIBER && fiber == where)
		db += p->misalign_min_db + (p->misalign_max_db - p->misalign_min_db)
					   * uniform_at(m->key, TAG_MISAL, u, 0, 0);
	return db;
}

double sim_model_power_w(const sim_model *m, int unit, int port, double wl_nm,
			 uint64_t sample)
{
	const sim_model_params *p = &m->p;

	if (port < 1 || port > sim_unit_channels(m, unit))
		return p->dark_w;
	if (p->product == SIM_PRODUCT_ELSFP) {
		sim_laser l;

		sim_laser_read(m, unit, port, sample, &l);
		return dbm_to_w(l.power_dbm);
	}
	if (p->product == SIM_PRODUCT_FIBER)
		return dbm_to_w(p->fiber_ref_dbm - sim_fiber_loss_db(m, unit, port)
				+ p->noise_sigma_db * gauss_at(m->key, TAG_NOISE, (uint64_t)unit,
							       (uint64_t)port + 2000, sample));
	{
		int k = sim_grid_index(m, wl_nm);
		int i = unit % m->n_dies;

		if (k < 0)
			return p->dark_w;
		return sim_die_power_w(m, 1, m->route[i][0], m->route[i][1], port, k, sample);
	}
}

/* ---- ground truth ----------------------------------------------------------------- */

int sim_truth_die(const sim_model *m, const sim_limits *l, int slot, int col, int row,
		  sim_truth *t)
{
	const sim_model_params *p = &m->p;

	if (sim_die_index(m, col, row) < 0 || slot < 1 || slot > p->wafers)
		return -1;
	memset(t, 0, sizeof(*t));
	t->defect = sim_die_defect(m, slot, col, row, &t->where, &t->where_wl);
	t->channels = p->die_ports;
	t->min_dbm = INFINITY;
	t->max_dbm = -INFINITY;
	for (int port = 1; port <= p->die_ports; port++) {
		double ber = sim_die_ber(m, slot, col, row, port, l->ber_rate_gbps);

		if (ber < 0)
			ber = 1.0;
		if (ber > t->max_ber)
			t->max_ber = ber;
		for (int k = 0; k < p->die_wavelengths; k++) {
			double dbm = sim_die_mean_dbm(m, slot, col, row, port, k);

			t->min_dbm = fmin(t->min_dbm, dbm);
			t->max_dbm = fmax(t->max_dbm, dbm);
		}
	}
	t->power_pass = t->min_dbm >= l->die_power_low_dbm && t->max_dbm <= l->die_power_high_dbm;
	t->ber_pass = t->max_ber <= l->die_ber_max;
	t->expected_bin = !t->power_pass ? 5 : !t->ber_pass ? 7 : 1;
	sim_die_coupler(m, slot, col, row, &t->coupler_x_um, &t->coupler_y_um);
	{
		int k = sim_grid_index(m, l->align_nm);

		t->align_pass = k >= 0 && l->align_port >= 1 &&
				l->align_port <= p->die_ports &&
				sim_die_mean_dbm(m, slot, col, row, l->align_port, k) >=
				l->align_ref_dbm - l->align_loss_max_db;
	}
	/* The aligned screen: alignment first (bin 4), then power. */
	if (l->align)
		t->expected_bin = !t->align_pass ? 4 : !t->power_pass ? 5 : 1;
	sim_truth_pdring(m, l, slot, col, row, t);
	if (l->sort)
		t->expected_bin = t->sort_bin;
	return 0;
}

int sim_truth_unit(const sim_model *m, const sim_limits *l, int unit, sim_truth *t)
{
	if (unit < 0 || unit >= m->p.units || m->p.product == SIM_PRODUCT_TERAPHY)
		return -1;
	memset(t, 0, sizeof(*t));
	t->defect = sim_unit_defect(m, unit, &t->where);
	t->channels = sim_unit_channels(m, unit);
	t->min_dbm = INFINITY;
	t->max_dbm = -INFINITY;
	for (int c = 1; c <= t->channels; c++) {
		double dbm;

		if (m->p.product == SIM_PRODUCT_ELSFP) {
			dbm = sim_laser_mean_dbm(m, unit, c, 0);
		} else {
			double loss = sim_fiber_loss_db(m, unit, c);

			t->max_loss_db = fmax(t->max_loss_db, loss);
			dbm = m->p.fiber_ref_dbm - loss;
		}
		t->min_dbm = fmin(t->min_dbm, dbm);
		t->max_dbm = fmax(t->max_dbm, dbm);
	}
	if (m->p.product == SIM_PRODUCT_ELSFP)
		t->power_pass = t->min_dbm >= l->laser_power_low_dbm
				&& t->max_dbm <= l->laser_power_high_dbm;
	else
		t->power_pass = t->max_loss_db <= l->fiber_loss_max_db;
	t->ber_pass = 1;
	t->expected_bin = t->power_pass ? 1 : 5;
	if (m->p.product == SIM_PRODUCT_ELSFP) {
		t->kinked = sim_unit_kinked_laser(m, unit);
		t->liv_pass = sim_truth_liv(m, l, unit);
		/* The LIV screen (elsfp-liv.yaml) bins on LIV alone. */
		if (l->liv)
			t->expected_bin = t->liv_pass ? 1 : 6;
	}
	return 0;
}

int sim_truth_write_csv(const sim_model *m, const sim_limits *l, FILE *f)
{
	const sim_model_params *p = &m->p;
	sim_truth t;

	if (p->product == SIM_PRODUCT_TERAPHY) {
		fprintf(f, "lot,wafer,slot,col,row,radius_mm,defect,defect_port,"
			   "defect_wavelength,min_dbm,max_dbm,max_ber,power_pass,ber_pass,"
			   "expected_bin,align_pass,leaky_pd,dead_heater,pd_pass,ring_pass,"
			   "expected_sort_bin\n");
		for (int slot = 1; slot <= p->wafers; slot++) {
			char id[48];

			sim_wafer_id(m, slot, id, sizeof(id));
			for (int i = 0; i < m->n_dies; i++) {
				int col = m->route[i][0], row = m->route[i][1];

				sim_truth_die(m, l, slot, col, row, &t);
				fprintf(f, "%s,%s,%d,%d,%d,%.2f,%s,%d,%d,%.4f,%.4f,%.3e,%d,%d,%d,"
					   "%d,%d,%d,%d,%d,%d\n",
					p->lot, id, slot, col, row, sim_die_radius_mm(m, col, row),
					sim_defect_name(t.defect), t.where, t.where_wl, t.min_dbm,
					t.max_dbm, t.max_ber, t.power_pass, t.ber_pass,
					t.expected_bin, t.align_pass, t.leaky_pd, t.dead_heater,
					t.pd_pass, t.ring_pass, t.sort_bin);
			}
		}
	} else {
		/* The LIV columns come last, so readers by position keep
		 * their columns; expected_liv_bin is the bin of the LIV screen. */
		fprintf(f, "lot,unit,serial,channels,defect,defect_channel,min_dbm,max_dbm,"
			   "max_loss_db,power_pass,expected_bin,kinked_laser,liv_pass,"
			   "expected_liv_bin\n");
		for (int u = 0; u < p->units; u++) {
			char serial[48];

			sim_unit_serial(m, u, serial, sizeof(serial));
			sim_truth_unit(m, l, u, &t);
			fprintf(f, "%s,%d,%s,%d,%s,%d,%.4f,%.4f,%.4f,%d,%d,%d,%d,%d\n", p->lot, u, serial,
				t.channels, sim_defect_name(t.defect), t.where, t.min_dbm,
				t.max_dbm, t.max_loss_db, t.power_pass, t.expected_bin,
				t.kinked, t.liv_pass,
				p->product == SIM_PRODUCT_ELSFP ? (t.liv_pass ? 1 : 6) : 0);
		}
	}
	return ferror(f) ? -1 : 0;
}
