"""Where a job's ranks sit: parallelism degrees, ranks per chip, and the links each group uses.

Ranks count NeuronCores the way Neuron counts them (collectives.rst, calibration.md):
logical cores on Trn2 (4 per chip at LNC=2, 8 at LNC=1), physical cores on Trn1/Inf2
(2 per chip). TP=64 on a trn2.48xlarge at LNC=2 is the whole instance.

Ranks are laid out tensor-parallel fastest, then pipeline stages, then data-parallel
replicas (expert parallelism runs over the data-parallel ranks, as in Megatron), so a TP
group stays inside one instance whenever it fits, consecutive pipeline stages are
neighbours, and data-parallel replicas are furthest apart.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from trnmon.errors import TrnmonError
from trnmon.hw.catalog import ULTRASERVER_NODES, InstanceType
from trnmon.hw.lnc import core_numbering
from trnmon.sim.comm import Span

Dtype = Literal["bf16", "fp8", "int8"]
DTYPE_BYTES: dict[str, float] = {"bf16": 2.0, "fp8": 1.0, "int8": 1.0}


class PerfError(TrnmonError):
    """A placement or workload the rules cannot cost (bad degrees, does not fit)."""


@dataclass(frozen=True, slots=True)
class Placement:
    """One job's hardware and parallelism; build it with `make_placement`."""

    instance: InstanceType
    nodes: int
    lnc: int
    tp: int
    pp: int
    dp: int
    ep: int
    ultraserver: bool  # the nodes are whole UltraServers (trn2u, NeuronLink ring)

    @property
    def ranks_per_chip(self) -> int:
        return core_numbering(self.instance.chip_spec, self.lnc).logical_per_chip

    @property
    def ranks_per_node(self) -> int:
        return self.ranks_per_chip * self.instance.chips

    @property
    def chips(self) -> int:
        return self.nodes * self.instance.chips

    @property
    def tp_chips(self) -> int:
        """Chips one tensor-parallel group spans."""
        return max(1, math.ceil(self.tp / self.ranks_per_chip))

    def span_of(self, group_chips: int) -> Span:
        """The links a group of `group_chips` consecutive chips uses."""
        per_node = self.instance.chips
        if group_chips <= per_node:
            return Span(chips_per_node=group_chips)
        nodes = math.ceil(group_chips / per_node)
        ring = min(nodes, ULTRASERVER_NODES) if self.ultraserver else 1
        return Span(chips_per_node=per_node, ring_nodes=ring, efa_nodes=math.ceil(nodes / ring))

    @property
    def tp_span(self) -> Span:
        return self.span_of(self.tp_chips)

    @property
    def stage_chips(self) -> int:
        """Chips between one pipeline stage and the next (one TP group)."""
        return self.tp_chips

    @property
    def pp_crosses_node(self) -> bool:
        return self.pp > 1 and self.tp * self.pp > self.ranks_per_node

    @property
    def dp_span(self) -> Span:
        """Links of one data-parallel group: replicas are tp x pp ranks apart."""
        if self.dp <= 1:
            return Span(chips_per_node=1)
        stride_ranks = self.tp * self.pp
        if stride_ranks < self.ranks_per_node:  # several replicas per node
            per_node = max(1, self.ranks_per_node // stride_ranks)
            members_here = min(self.dp, per_node)
            nodes = math.ceil(self.dp / per_node)
            stride_nodes = 1
        else:
            members_here, nodes = 1, self.dp
            stride_nodes = math.ceil(stride_ranks / self.ranks_per_node)
        # Replicas share an UltraServer ring only while they sit inside one UltraServer.
        per_us = ULTRASERVER_NODES // stride_nodes if stride_nodes <= ULTRASERVER_NODES else 1
        ring = max(1, min(nodes, per_us)) if self.ultraserver else 1
        return Span(chips_per_node=members_here, ring_nodes=ring,
                    efa_nodes=math.ceil(nodes / ring))

    @property
    def ep_span(self) -> Span:
        """Links of one expert-parallel group (ep consecutive data-parallel replicas)."""
        if self.ep <= 1:
            return Span(chips_per_node=1)
        sub = Placement(self.instance, self.nodes, self.lnc, self.tp, self.pp, self.ep, 1,
                        self.ultraserver)
        return sub.dp_span


def make_placement(instance: InstanceType, *, nodes: int = 1, lnc: int = 2,
                   tp: int | None = None, pp: int = 1, dp: int | None = None, ep: int = 1,
                   ultraserver: bool | None = None) -> Placement:
    """Validate the degrees and fill in the defaults (tp: one instance; dp: the rest)."""
    if nodes < 1:
        raise PerfError(f"--nodes must be at least 1, got {nodes}")
    chip = instance.chip_spec
    if lnc not in (1, 2):
        raise PerfError(f"--lnc must be 1 or 2, got {lnc}")
    if not chip.supports_lnc:
        lnc = 1
    per_chip = core_numbering(chip, lnc).logical_per_chip
    total = nodes * instance.chips * per_chip
    tp = tp if tp is not None else min(total, instance.chips * per_chip)
    for flag, value in (("--tp", tp), ("--pp", pp), ("--ep", ep)):
        if value < 1:
            raise PerfError(f"{flag} must be at least 1, got {value}")
    if dp is None:
        if total % (tp * pp):
            raise PerfError(f"tp x pp = {tp * pp} does not divide the {total} NeuronCore "
                            f"ranks of {nodes} x {instance.name}")
        dp = total // (tp * pp)
    if dp < 1 or tp * pp * dp != total:
        raise PerfError(f"tp x pp x dp = {tp}x{pp}x{dp} = {tp * pp * dp} ranks, but "
                        f"{nodes} x {instance.name} has {total} NeuronCore ranks")
    if dp % ep:
        raise PerfError(f"--ep {ep} must divide the data-parallel degree {dp}")
    if tp > per_chip and tp % per_chip:
        raise PerfError(f"--tp {tp} must be a multiple of the {per_chip} ranks per chip")
    us = instance.ultraserver_member and nodes % ULTRASERVER_NODES == 0
    if ultraserver is not None:
        us = ultraserver and us
    return Placement(instance, nodes, lnc, tp, pp, dp, ep, us)
