"""Property-based fuzzing of every control endpoint: any body, any token, never a 5xx."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest_daemon import DaemonProcess

pytestmark = pytest.mark.slow  # starts a real daemon

ENDPOINTS = [("POST", "/api/v1/faults"), ("POST", "/api/v1/jobs"),
             ("POST", "/api/v1/control/pause"), ("POST", "/api/v1/control/resume"),
             ("PUT", "/api/v1/control/speed")]
FAULT_KINDS = ["hbm_ecc_corrected", "hbm_ecc_uncorrected", "sram_ecc_corrected",
               "sram_ecc_uncorrected", "link_degraded", "link_down", "thermal_throttle",
               "chip_hang", "node_loss"]
FIELDS = ["kind", "instance_id", "device", "port", "duration_s", "model", "nodes",
          "ultraserver", "instance_family", "tp", "pp", "seq_len", "global_batch",
          "efficiency", "peak_rps", "prompt_tokens", "output_tokens", "name", "speed",
          "paused", "x"]

scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=20),
                    st.sampled_from([*FAULT_KINDS, "pretrain", "inference", "llama3-8b",
                                     "trn2", "inf2", "llama3-8b-x"]))
values = st.recursive(scalars, lambda c: st.lists(c, max_size=3)
                      | st.dictionaries(st.text(max_size=5), c, max_size=3), max_leaves=6)


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Any:
    d = DaemonProcess(tmp_path_factory.mktemp("fuzz") / "state").start()
    yield d
    d.kill()


def check(d: DaemonProcess, method: str, path: str, raw: bytes, token: bool = True) -> None:
    status, hdrs, body = d.request(method, path, raw=raw, token=token)
    assert status < 500, (method, path, raw, body)
    if status >= 400:
        assert hdrs["content-type"].startswith("application/json")
        assert "error" in json.loads(body) and b"Traceback" not in body


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(endpoint=st.sampled_from(ENDPOINTS),
       body=st.dictionaries(st.sampled_from(FIELDS), values, max_size=6))
def test_json_bodies_never_5xx(daemon: DaemonProcess, endpoint: tuple[str, str],
                               body: dict[str, Any]) -> None:
    if endpoint[1] == "/api/v1/faults" and "instance_id" in body and body["instance_id"] == "":
        body["instance_id"] = daemon.get_json("/sd")[0]["labels"]["instance"]
    check(daemon, *endpoint, raw=json.dumps(body).encode())


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(endpoint=st.sampled_from(ENDPOINTS), raw=st.binary(max_size=200),
       token=st.booleans())
def test_raw_bytes_never_5xx(daemon: DaemonProcess, endpoint: tuple[str, str], raw: bytes,
                             token: bool) -> None:
    check(daemon, *endpoint, raw=raw, token=token)


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(kind=st.sampled_from(FAULT_KINDS), node=st.integers(0, 6),
       device=st.one_of(st.none(), st.integers(-1, 20)),
       port=st.one_of(st.none(), st.integers(-1, 7)),
       duration=st.one_of(st.none(), st.floats(-10, 1e9)))
def test_fault_injection_and_clear(daemon: DaemonProcess, kind: str, node: int,
                                   device: int | None, port: int | None,
                                   duration: float | None) -> None:
    ids = [g["labels"]["instance"] for g in daemon.get_json("/sd")]
    body: dict[str, Any] = {"kind": kind,
                            "instance_id": ids[node] if node < len(ids) else "i-nope"}
    for k, v in (("device", device), ("port", port), ("duration_s", duration)):
        if v is not None:
            body[k] = v
    status, _, raw = daemon.request("POST", "/api/v1/faults", body, token=True)
    assert status in (201, 404, 422), raw
    if status == 201:
        fid = json.loads(raw)["fault_id"]
        status, _, raw = daemon.request("DELETE", f"/api/v1/faults/{fid}", token=True)
        assert status in (200, 404), raw  # a short fault may have cleared itself


@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(ident=st.one_of(st.integers(-5, 10**20).map(str), st.text(max_size=12)),
       which=st.sampled_from(["faults", "jobs"]))
def test_delete_ids_never_5xx(daemon: DaemonProcess, ident: str, which: str) -> None:
    from urllib.parse import quote

    status, _, raw = daemon.request("DELETE", f"/api/v1/{which}/{quote(ident, safe='')}",
                                    token=True)
    assert status < 500, raw
    assert daemon.get_json("/healthz")["status"] == "ok"
