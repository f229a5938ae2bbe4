/*
 * instruments/sim/pm_scpi.h - a simulated Keysight N7745A multiport power
 * meter: the SCPI parser and instrument state, with no I/O of its own.
 *
 * Invariant: sim_pm_execute() turns one program message (one line, without
 * its LF) into exactly the bytes the instrument would send back, and every
 * command it cannot honour leaves an entry in the SCPI error queue instead,
 * as the real instrument does. The socket loop (vstation.c) only moves
 * bytes, so the parser can be exercised without a socket.
 *
 * SCPI subset (case-insensitive, short or long form, leading ':' optional,
 * several commands per line separated by ';'; <p> = port 1..8, default 1):
 *   *IDN? *RST *CLS *OPC *OPC? *WAI
 *   :SYSTem:ERRor[:NEXT]?
 *   :SENSe<p>[:CHANnel1]:POWer:WAVelength[:CW] <num>[PM|NM|UM|M] / ?  (metres)
 *   :SENSe<p>[:CHANnel1]:POWer:UNIT 0|1|DBM|W / ?                     (0 dBm, 1 W)
 *   :SENSe<p>[:CHANnel1]:POWer:ATIMe <num>[US|MS|S] / ?               (seconds)
 *   :SENSe<p>[:CHANnel1]:POWer:RANGe:AUTO 0|1|ON|OFF / ?
 *   :SENSe<p>[:CHANnel1]:POWer:GAIN:AUTO 0|1|ON|OFF / ?
 *   :READ<p>[:CHANnel1][:SCALar]:POWer[:DC]?     new reading, in the port's unit
 *   :FETCh<p>[:CHANnel1][:SCALar]:POWer[:DC]?    last reading (new one if none)
 *   :READ1[:CHANnel1]:POWer:ALL?                 #<n><len> float32 LE watts, all ports
 *   :READ1[:CHANnel1]:POWer:ALL:CONFig?          #<n><len> (slot, channel) U16 LE pairs
 * Vendor extension of the simulator (not on the real instrument):
 *   :SIMulate:DUT <n> / ?    select the unit under test, 0..units-1 (default 0),
 *                            as an operator inserting the next module would
 *   :SIMulate:UNITs?         the lot size
 * Errors queued: -113 Undefined header, -114 Header suffix out of range,
 * -109 Missing parameter, -224 Illegal parameter value, -222 Data out of
 * range, -350 Queue overflow.
 */
#ifndef KGD_SIM_PM_SCPI_H
#define KGD_SIM_PM_SCPI_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"

#define SIM_PM_IDN "Keysight Technologies,N7745A,MY00000001,V1.0 (sim)"

/* A growable byte buffer for replies (binary-safe). */
typedef struct sim_buf {
	uint8_t *data;
	size_t len, cap;
} sim_buf;

/* Append n bytes; 0 or -1 when out of memory. */
int sim_buf_add(sim_buf *b, const void *p, size_t n);
void sim_buf_free(sim_buf *b);

typedef struct sim_pm sim_pm;

/* Create a power meter reading from model (borrowed: must outlive the
 * meter). It has model->p.ports ports. fault_garbage makes every power
 * reading answer with bytes that are not a number. NULL on out of memory. */
sim_pm *sim_pm_new(const sim_model *model, int fault_garbage);
void sim_pm_free(sim_pm *pm);

/* Execute one program message; append the reply, LF-terminated, to out
 * (nothing when the message holds no query). 0, or -1 when out of memory. */
int sim_pm_execute(sim_pm *pm, const char *line, sim_buf *out);

#endif
