/*
 * instruments/sim/pm_scpi.h - a simulated Keysight N7745A multiport power
 * meter (docs/INSTRUMENTS.md), answering for the part under test of the
 * shared station state: the die in contact (wafer process; dark when
 * separated), or the unit selected with :SIMulate:DUT (unit process).
 *
 * Invariant: no I/O; one reading = one sample index of its port, so the
 * n-th reading of a port is a pure function of the model (model.h).
 *
 * SCPI subset (case-insensitive, short or long form, leading ':' optional,
 * ';' separates commands; <p> = port 1..ports, default 1):
 *   *IDN? *RST *CLS *OPC *OPC? *WAI  :SYSTem:ERRor[:NEXT]?
 *   :SENSe<p>[:CHANnel1]:POWer:WAVelength[:CW] <num>[PM|NM|UM|M] / ?  (metres)
 *   :SENSe<p>[:CHANnel1]:POWer:UNIT 0|1|DBM|W / ?                     (0 dBm, 1 W)
 *   :SENSe<p>[:CHANnel1]:POWer:ATIMe <num>[US|MS|S] / ?               (seconds)
 *   :SENSe<p>[:CHANnel1]:POWer:RANGe:AUTO 0|1|ON|OFF / ?
 *   :SENSe<p>[:CHANnel1]:POWer:GAIN:AUTO 0|1|ON|OFF / ?
 *   :READ<p>[:CHANnel1][:SCALar]:POWer[:DC]?     new reading, in the port's unit
 *   :FETCh<p>[:CHANnel1][:SCALar]:POWer[:DC]?    last reading (new one if none)
 *   :READ1[:CHANnel1]:POWer:ALL?                 #<n><len> float32 LE watts, all ports
 *   :READ1[:CHANnel1]:POWer:ALL:CONFig?          #<n><len> (slot, channel) U16 LE pairs
 * Simulator only: :SIMulate:DUT <n> / ?, :SIMulate:UNITs?
 * A reading takes the port's averaging time (scaled by --time-scale).
 */
#ifndef KGD_SIM_PM_SCPI_H
#define KGD_SIM_PM_SCPI_H

#include "scpi_core.h"
#include "station.h"

#define SIM_PM_IDN "Keysight Technologies,N7745A,MY00000001,V1.0 (sim)"
#define SIM_PM16_IDN "Keysight Technologies,N7745A-16,MY00000001,V1.0 (sim)"

typedef struct sim_pm sim_pm;

/* A meter with `ports` ports (8, or 16 for the 16-port variant) over st
 * (borrowed: must outlive the meter). NULL on out of memory. */
sim_pm *sim_pm_new(sim_station *st, int ports);
void sim_pm_free(sim_pm *pm);

/* Execute one program message; the reply (LF-terminated) appended to out,
 * the modelled busy time in *busy_s. 0, or -1 when out of memory. */
int sim_pm_execute(void *pm, const char *line, const sim_fx *fx, sim_buf *out,
		   double *busy_s);

/* Thorlabs PM100D (single channel), the station's reference monitor:
 * reads the reference laser (TeraPHY, fiber) or laser 1 of the module in
 * the fixture (ELSFP). Subset: *IDN? *RST SENS:CORR:WAV <nm>/?,
 * SENS:POW:UNIT W|DBM/?, SENS:POW:RANG:AUTO 0|1/?, SENS:AVER:COUN <n>/?,
 * CONF:POW, MEAS:POW?, READ?, plus the common commands. */
#define SIM_PM100_IDN "Thorlabs,PM100D,P0000001,2.7.0"

typedef struct sim_pm100 sim_pm100;

sim_pm100 *sim_pm100_new(sim_station *st);
void sim_pm100_free(sim_pm100 *pm);
int sim_pm100_execute(void *pm, const char *line, const sim_fx *fx, sim_buf *out,
		      double *busy_s);

#endif
