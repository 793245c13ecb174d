"""The Neuron runtime process behind each emulated job: pid, command line, version, tag.

A real host shows each application that holds NeuronCores as a process (neuron-ls's PID,
COMMAND and RUNTIME VERSION columns; neuron-monitor's `pid` and `neuron_runtime_tag`).
An emulated job gets the same, one process per node it runs on, derived from the fleet
seed and the job id alone, so a daemon, its clients and a re-run with the same seed all
show the same pids. The tag is the job's name, the `runtime_tag` the exporter already
uses for the job.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

PID_MIN, PID_MAX = 2_000, 4_194_303  # Linux pid_max on 64-bit hosts
# Neuron runtime library (aws-neuronx-runtime-lib) versions a fleet runs side by side;
# most jobs use the newest.
RUNTIME_VERSIONS = ("2.26.43.0", "2.26.43.0", "2.26.43.0", "2.25.145.0", "2.24.5.0")
TAG_MAX = 255  # NEURON_PROCESS_TAG's documented limit


def _digest(*parts: object) -> int:
    text = "/".join(map(str, parts)).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "big")


@dataclass(frozen=True, slots=True)
class RuntimeProcess:
    """What `ps` and neuron-ls would show for one job's runtime on one node."""

    pid: int
    command: str
    runtime_version: str
    tag: str


def command_line(kind: str, model: str, nodes: int, cores_per_node: int) -> str:
    """The launch command a job of this kind would run under (torchrun for training,
    a serving entry point for online inference)."""
    if kind in ("pretrain", "finetune"):
        script = "pretrain.py" if kind == "pretrain" else "finetune.py"
        return (f"torchrun --nnodes={nodes} --nproc-per-node={cores_per_node} {script} "
                f"--model {model} --bf16")
    if kind == "inference":
        return (f"python3 -m vllm.entrypoints.openai.api_server --model {model} "
                f"--device neuron --tensor-parallel-size {cores_per_node}")
    return f"python3 batch_infer.py --model {model} --neuron-cores {cores_per_node}"


def runtime_process(seed: int, job_id: int, node: int, *, name: str, kind: str, model: str,
                    nodes: int, cores_per_node: int) -> RuntimeProcess:
    """The runtime process of job `job_id` on `node`; the same inputs, the same process."""
    pid = PID_MIN + _digest("pid", seed, job_id, node) % (PID_MAX - PID_MIN)
    version = RUNTIME_VERSIONS[_digest("rt", seed, job_id) % len(RUNTIME_VERSIONS)]
    return RuntimeProcess(pid=pid, command=command_line(kind, model, nodes, cores_per_node),
                          runtime_version=version, tag=name[:TAG_MAX])
