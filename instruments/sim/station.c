/*
 * instruments/sim/station.c - see station.h.
 */
#include "station.h"

#include <math.h>
#include <time.h>

int sim_station_select(sim_station *st, long n)
{
	if (n < 0 || n >= st->model.p.units)
		return -1;
	st->dut = (int)n;
	/* A module inserted in the fixture comes up lasing at nominal bias,
	 * as the example sequences expect. */
	st->low_power = 0;
	st->tx_disable = 0;
	for (int i = 0; i < SIM_MAX_PORTS; i++) {
		st->smu_on[i] = 0;
		st->smu_a[i] = 0;
	}
	return 0;
}

double sim_station_smu_light_w(const sim_station *st, int lane, uint64_t sample)
{
	const sim_model *m = &st->model;
	uint64_t s;
	sim_liv l;

	if (m->p.product != SIM_PRODUCT_ELSFP || lane < 1 || lane > SIM_MAX_PORTS ||
	    lane > sim_unit_channels(m, st->dut) || !st->smu_on[lane - 1])
		return -1;
	sim_laser_liv(m, st->dut, lane, &l);
	s = sim_hash(m->key, 0x4c495652 /* "LIVR" */, (uint64_t)st->dut,
		     (uint64_t)lane, sample);
	return sim_liv_power_w(&l, st->smu_a[lane - 1]) *
	       (1.0 + m->p.liv_noise * sim_gauss(&s));
}

double sim_station_port_factor(const sim_station *st, int slot, int col, int row,
			       int port, int k)
{
	const sim_model *m = &st->model;
	double f = sim_die_coupling(m, slot, col, row, st->fiber_x, st->fiber_y);
	sim_ring r;

	if (!m->p.pd_ring || port < 1 || port > SIM_MAX_PORTS)
		return f;
	if (!sim_station_laser_on(st, port))
		return 0.0;
	sim_die_ring(m, slot, col, row, port, &r);
	return f * sim_ring_through(&r, sim_grid_nm(m, k), st->heater_w[port - 1]) /
	       sim_ring_through(&r, sim_grid_nm(m, k), 0.0);
}

double sim_station_pd_photo_a(const sim_station *st, int port)
{
	const sim_model *m = &st->model;
	int slot, col, row, k;
	sim_pd pd;

	if (!m->p.pd_ring || port < 1 || port > m->p.die_ports ||
	    !sim_station_die(st, &slot, &col, &row))
		return 0.0;
	k = sim_grid_index(m, st->pm_nm[port - 1]);
	if (k < 0)
		return 0.0;
	sim_die_pd(m, slot, col, row, port, &pd);
	return pd.resp_a_w * 1e-3 * pow(10.0, sim_die_mean_dbm(m, slot, col, row, port, k) / 10.0) *
	       sim_station_port_factor(st, slot, col, row, port, k);
}

int sim_station_die(const sim_station *st, int *slot, int *col, int *row)
{
	if (!st->slot || !st->at_die || !st->contact)
		return 0;
	*slot = st->slot;
	*col = st->col;
	*row = st->row;
	return 1;
}

int sim_station_laser_on(const sim_station *st, int lane)
{
	if (lane < 1 || lane > sim_unit_channels(&st->model, st->dut))
		return 0;
	return !st->low_power && !(st->tx_disable & (1u << (lane - 1)));
}

double sim_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
