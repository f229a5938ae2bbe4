/*
 * instruments/sim/smu.h - the simulated Keithley 2400 SourceMeters of the
 * virtual station: SMU n is wired to laser n of the ELSFP module in the
 * fixture (roles smu1..smu8), so a current it sources drives that laser
 * along its L-I-V law (liv.c) and the power meter's port n sees the light;
 * on TeraPHY with --pd-ring, SMU pdN to port N's photodiode and heaterN to
 * port N's ring heater (pdring.c) on the die the probes touch.
 *
 * Invariant: the 2400's SCPI subset the keithley-24xx driver uses
 * (docs/INSTRUMENTS.md), every other header an error in the queue; a
 * reading always honours the compliance limit as the instrument does (the
 * source level is cut back until the sensed quantity sits at the limit).
 */
#ifndef KGD_SIM_SMU_H
#define KGD_SIM_SMU_H

#include "scpi_core.h"
#include "station.h"

#define SIM_SMU_IDN "KEITHLEY INSTRUMENTS INC.,MODEL 2400,4000001,C32 (sim)"
#define SIM_SMU_MAX 8   /* SMUs (lasers) of the fixture */

typedef struct sim_smu sim_smu;

/* What an SMU's terminals are wired to. */
enum sim_smu_kind {
	SIM_SMU_LASER = 0,   /* ELSFP laser n of the module in the fixture */
	SIM_SMU_PD,          /* TeraPHY (--pd-ring): port n's photodiode */
	SIM_SMU_HEATER,      /* TeraPHY (--pd-ring): port n's ring heater */
};

/* The SMU wired to laser `lane` (1-based) of the module in st's fixture. */
sim_smu *sim_smu_new(sim_station *st, int lane);
/* The SMU wired to device `lane` (1-based) of the kind; a photodiode's or
 * heater's pads are those of the die the probes touch (open when none). */
sim_smu *sim_smu_new_kind(sim_station *st, enum sim_smu_kind kind, int lane);
void sim_smu_free(sim_smu *smu);
int sim_smu_execute(void *smu, const char *line, const sim_fx *fx, sim_buf *out,
		    double *busy_s);

#endif
