"""The rulebook: every enum code and coefficient of the per-tick model, in one place.

The numpy kernels (`trnmon/sim/kernel.py`, `JobTable.advance` in `trnmon/sim/jobs.py`),
the numba kernels (`trnmon/sim/fused.py`) and the executable specification
(`trnmon/sim/reference.py`) all read their numbers from here, and their formulas from
`trnmon/sim/formulas.py`, the rulebook's other half (it imports these coefficients, so it
is a sibling, not imported here): pure functions that numpy calls on arrays, numba
compiles with `njit` and the reference calls on floats. So a rule changes in one place
and the reference tests check that the three paths still agree.

Still written per path, because sharing them would change result bits or speed (the golden
digests pin each path's bits; the masks and selects around the formulas are per path by
design: `np.where` / boolean indexing in numpy, `if` in the loops):
- power, idle + span x activity x clock² (`formulas.power`, which numpy and the reference
  call): numpy computes it in float32 with `clock ** 2`; the numba loop in float64 as
  `((span x act) x clk) x clk`. Calling `formulas.power` from numba (clk**2 first) changed
  power_w bits of throttled chips on a 131,072-chip fleet with half the clocks at 0.7,
  although the golden digest did not notice; so numba keeps its own line.
- the HBM capacity clip (tensors give way): numpy sums a chip's five categories in float32
  over masked rows, numba accumulates them in float64 in the loop.
- the per-port NeuronLink bytes: numpy scales by `wf * float32(dt)` first and multiplies by
  an up-mask, numba multiplies rate x wf x dt in float64 (`formulas.counter_step`, which
  the reference shares); core utilization and engine shares are single products, written
  with numba's explicit float32 casts in the core loop.
- the job tick's phase logic (which of the training or serving results a slot takes, the
  state timers, progress and checkpoints) is selection, not arithmetic: `np.where` chains
  in `JobTable.advance`, `if`s in `fused.fused_jobs` and `reference._job_slot`.

Coefficients are plain Python floats on purpose: numpy treats them as "weak" scalars (a
float32 array times 0.65 stays float32) and numba freezes them as compile-time
constants, so naming a literal here changes no result bit.

The formulas, in words (the reference model spells them out one device at a time):

- chip busy = min(1, job busy x job clock / chip clock) on a working chip, 1 on a hung
  one; core utilization = busy x the core's static weight; engine ratio = utilization x
  the job kind's `ENGINE_MIX` row.
- activity = `ACTIVITY_BUSY` x busy + `ACTIVITY_HBM` x HBM bandwidth utilization
  (`HUNG_ACTIVITY` on a hung chip); power = idle + (max - idle) x activity x clock².
- temperature relaxes towards ambient + R_th x power with time constant tau (exact for a
  constant input over the tick); a chip throttles above its limit and recovers
  `THROTTLE_HYSTERESIS_C` below it, at `THROTTLE_CLOCK`.
- a job runs at its slowest chip's clock and its worst link's `LINK_FACTOR`.
- host: runtime share of vCPUs = (`RUNTIME_VCPU_TRAINING` or `RUNTIME_VCPU_SERVING`) x
  job busy, split `RUNTIME_USER_SHARE` / rest; host memory = `HOST_BASE_MEM` + a share of
  the instance's memory while a job runs.
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np

from trnmon.topology import PortKind


# --- enum codes ----------------------------------------------------------------------------
class Health(IntEnum):
    """A chip's health code in `FleetState.health`."""

    HEALTHY = 0
    DEGRADED = 1  # working, but throttled or behind a degraded link
    FAILED = 2  # uncorrectable error: the chip is out until repaired
    HUNG = 3  # busy with no progress
    LOST = 4  # its node stopped reporting


class LinkState(IntEnum):
    """A NeuronLink port's state code in `FleetState.link_state`."""

    UP = 0
    DEGRADED = 1
    DOWN = 2


class JobState(IntEnum):
    """A job-table slot's state code."""

    FREE = 0  # slot unused
    LOADING = 1  # loading the model or the last checkpoint
    RUNNING = 2
    CHECKPOINTING = 3
    STALLED = 4  # a chip hung: everyone waits in the collective until the watchdog fires


class JobKind(IntEnum):
    """What a job does; its code indexes `ENGINE_MIX`."""

    PRETRAIN = 0
    FINETUNE = 1
    INFERENCE = 2
    BATCH_INFERENCE = 3

    @property
    def label(self) -> str:
        return self.name.lower()

    @property
    def training(self) -> bool:
        return self in (JobKind.PRETRAIN, JobKind.FINETUNE)


# The same codes as plain ints, for the numba kernels (which freeze globals as constants).
HEALTHY, DEGRADED, FAILED, HUNG, LOST = (int(h) for h in Health)
LINK_UP, LINK_DEGRADED, LINK_DOWN = (int(s) for s in LinkState)
J_FREE, J_LOADING, J_RUNNING, J_CHECKPOINTING, J_STALLED = (int(s) for s in JobState)
K_PRETRAIN, K_FINETUNE, K_INFERENCE, K_BATCH_INFERENCE = (int(k) for k in JobKind)
PORT_NONE, PORT_INTRA, PORT_RING = (int(PortKind.NONE), int(PortKind.INTRA_NODE),
                                    int(PortKind.ULTRASERVER))
INTRA_PORTS = 4  # ports [0, 4) run inside the node, [4, P) are the UltraServer ring

# --- devices (the chip tick) -------------------------------------------------------------
THROTTLE_CLOCK = 0.7  # clock fraction while throttled
THROTTLE_HYSTERESIS_C = 5.0
LINK_FACTOR = np.array([1.0, 0.5, 0.25], dtype=np.float64)  # bandwidth by LinkState (rerouted)
# EFA: a job whose collectives cross EFA runs them at its nodes' up fraction of EFA devices
# (a downed device's bandwidth is gone, its bytes move to the others), never below this
# floor; a node whose EFA devices are all down is drained, so only a job crashing at that
# moment would see it.
EFA_FACTOR_FLOOR = 1.0 / 64
ACTIVITY_BUSY = 0.65  # share of dynamic power that follows core busy ...
ACTIVITY_HBM = 0.35  # ... and HBM bandwidth
HUNG_ACTIVITY = 0.6  # a hung chip spins
# Engine-active shares while busy: tensor, vector, scalar, gpsimd (rows by JobKind).
ENGINE_MIX = np.array([
    [0.82, 0.38, 0.22, 0.06],  # pretrain
    [0.80, 0.40, 0.24, 0.06],  # finetune
    [0.35, 0.55, 0.30, 0.10],  # inference: decode is memory-bound, vector-heavy
    [0.55, 0.50, 0.28, 0.08],  # batch inference
], dtype=np.float32)
IDLE_KIND = ENGINE_MIX.shape[0]  # the idle pseudo-job's kind: an all-zero engine mix
# (engines, job kinds + idle): the layout the kernels gather from.
ENGINE_MIX_T = np.ascontiguousarray(
    np.vstack([ENGINE_MIX, np.zeros((1, ENGINE_MIX.shape[1]), dtype=np.float32)]).T)

# --- hosts (the node tick) ---------------------------------------------------------------
HOST_BASE_MEM = 24 * 2**30  # bytes the OS and agents hold on every node
RUNTIME_VCPU_TRAINING = 0.14  # vCPU share of the Neuron runtime per unit of job busy
RUNTIME_VCPU_SERVING = 0.07
RUNTIME_USER_SHARE = 0.8  # of the runtime's vCPU time in user mode (the rest system)
RUNTIME_SYSTEM_SHARE = 0.2
HOST_USER_BASE = 0.015  # host-wide vCPU user ratio with nothing running ...
HOST_USER_PER_RUNTIME = 1.3  # ... plus this much per unit of runtime share
HOST_SYSTEM_BASE = 0.008
HOST_SYSTEM_PER_RUNTIME = 0.35
HOST_MEM_TRAINING = 0.28  # share of the instance's memory a job's host processes take
HOST_MEM_SERVING = 0.12
# Host memory a Neuron runtime reports for itself (neuron-monitor `memory_used.host`), apart
# from the job's other host processes above: real captures show a few MB to a few GB per
# runtime (1 MB in the trn1 capture of aws-neuron-sdk#633). Placeholders in that range.
RUNTIME_HOST_BYTES_TRAINING = 2 * 2**30
RUNTIME_HOST_BYTES_SERVING = 512 * 2**20


def runtime_host_bytes(kind: str) -> float:
    """Host bytes one runtime of a job of this kind (its label) reports."""
    training = kind in ("pretrain", "finetune")
    return float(RUNTIME_HOST_BYTES_TRAINING if training else RUNTIME_HOST_BYTES_SERVING)

# --- jobs (the job tick) -----------------------------------------------------------------
HANG_WATCHDOG_S = 600.0  # collective timeout before a stalled job is declared failed
LOAD_S = 90.0  # loading weights / a checkpoint at start and restart
STEP_JITTER_SIGMA = 0.01  # relative step-time noise per tick
COMM_BUSY = 0.15  # cores' busy share while waiting on exposed communication
SERVE_MIN_BUSY = 0.02  # a serving runtime keeps polling
PHASE_BUSY = 0.05  # busy share while loading or checkpointing
LOADING_HBM_BW = 0.6  # HBM bandwidth utilization while loading weights
CHECKPOINT_HBM_BW = 0.3  # ... while writing a checkpoint
SERVE_HBM_BW_MAX = 0.95
SERVE_HBM_BW_PER_BUSY = 0.7
EFA_BYTES_PER_REQUEST = 64e3  # serving traffic per request over EFA
SERVE_LINK_EXPONENT = 0.1  # a degraded link slows decode steps by factor**0.1
# Serving (decode) roofline, `formulas.decode_step`.
HBM_EFFICIENCY = 0.7  # achievable share of HBM bandwidth
COMPUTE_EFFICIENCY = 0.6  # achievable share of peak FLOP/s in decode
DECODE_BUSY_BASE = 0.55  # busy share with sequences in flight, memory-bound ...
DECODE_BUSY_INTENSITY = 0.45  # ... plus this much times the arithmetic intensity

# --- drawn once at start, and the environment ----------------------------------------------
CORE_WEIGHT_SPREAD = 0.06  # a core's static load share is 1 - U(0, spread)
RACK_AMBIENT_OFFSET_C = (-1.5, 2.5)  # per-rack inlet offset, uniform (hot aisles)
AMBIENT_SWING_C = 1.5  # +- over the day, warmest at 15:00 local

# --- scheduling and arrivals (trnmon/sim/scheduler.py, trnmon/sim/arrivals.py) -------------
# Queue order: lower first. A crashed job resumes ahead of everything (it held nodes a moment
# ago); services next (users are waiting on them), then training, batch work last.
PRIORITY_RESTART = 0
PRIORITY = {JobKind.INFERENCE: 1, JobKind.PRETRAIN: 2, JobKind.FINETUNE: 3,
            JobKind.BATCH_INFERENCE: 4}
# Target-allocation arrivals: the feed-forward rate holds the target on average; the two
# feedback terms correct the instantaneous gap (target - allocated - queued nodes, per
# healthy node) and the recent average's gap (an EWMA of the allocated share).
ARRIVAL_GAP_GAIN = 6.0
# 40, not 12: with 12 the trn2 family of ohio (42 nodes, 2-UltraServer gangs draining for
# their reservations) averaged 0.87 against the 0.9 target and dipped below 0.75 on 1 of
# 179 days in three of five 180-day seeds; with 40 it averages 0.88-0.89 and stays in
# [0.75, 0.97] every day of all five (ultracluster-40k, before its campaign: unchanged
# within 0.89-0.91).
ARRIVAL_EWMA_GAIN = 40.0
ARRIVAL_EWMA_S = 4 * 3600.0  # time constant of the allocated-share average
ARRIVAL_MAX_BOOST = 8.0  # the rate never exceeds this multiple of the feed-forward rate
ARRIVAL_SAMPLES = 2000  # specs drawn (from a fixed seed) to estimate a family's mean node-s
# Job sizes by kind (nodes, or UltraServers for gangs) and their relative weights: many
# small jobs, few large gangs (the shape of Philly, Helios and Meta RSC job-size traces).
GANG_ULTRASERVERS = (1, 2, 4, 8, 16)
GANG_WEIGHTS = (0.40, 0.25, 0.15, 0.12, 0.08)
TRAIN_NODES = (1, 2, 4, 8)
TRAIN_WEIGHTS = (0.50, 0.25, 0.15, 0.10)
BATCH_NODES = (1, 2)
BATCH_WEIGHTS = (0.7, 0.3)
GANG_SHARE = 0.7  # of pretraining jobs on a family with UltraServers, gangs on whole ones
# Families smaller than this many nodes in a cell run proportionally shorter jobs (a few
# nodes only stay near their target allocation day by day if jobs turn over within it).
SMALL_POOL_NODES = 16
MIN_JOB_HOURS = 0.25  # every drawn duration gets this much on top of its exponential draw

# --- goodput (trnmon/sim/goodput.py) -------------------------------------------------------
# Where a job's time goes, in this order in every goodput array. Allocated = the first four.
GOODPUT_STATES = ("productive", "checkpoint", "loading", "lost", "requeue", "queue")
