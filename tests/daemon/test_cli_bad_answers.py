"""Control CLIs with a bad --url or an unexpected answer: one line, non-zero exit.

Run in-process through the CLI's real entry point (an escaping exception fails the test
as a traceback would); the fake daemon is a real HTTP server on a loopback port."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from trnmon.cli import main

COMMANDS = [("inject", "--list"), ("inject", "chip_hang", "--node", "i-1"),
            ("inject", "--clear", "3"), ("jobs",),
            ("jobs", "submit", "--kind", "inference", "--model", "llama3-8b"),
            ("jobs", "cancel", "4"), ("clock", "status"), ("clock", "pause"),
            ("clock", "speed", "2")]
ANSWERS = [b'{"x": 1}', b"[]", b'"text"', b"null", b"<html>hello</html>",
           b'{"faults": [{"fault_id": "a"}], "jobs": 5, "queued": [], "tick": "x"}',
           b'{"fault_id": 1, "kind": "chip_hang", "instance_id": 5, "device": 0}']


class Fake(http.server.BaseHTTPRequestHandler):
    answer = b"{}"

    def _reply(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.answer)))
        self.end_headers()
        self.wfile.write(self.answer)

    do_GET = do_POST = do_PUT = do_DELETE = _reply  # noqa: N815  # http.server names

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def fake() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Fake)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def run(capsys: pytest.CaptureFixture[str], *args: str, token: Path) -> tuple[int, str]:
    code = main([*args, "--token-file", str(token)])
    return code, capsys.readouterr().err


@pytest.fixture(scope="module")
def token(tmp_path_factory: pytest.TempPathFactory) -> Path:
    p = tmp_path_factory.mktemp("tok") / "token"
    p.write_text("t" * 40 + "\n")
    return p


@pytest.mark.parametrize("answer", ANSWERS)
def test_unexpected_answers_are_one_line(fake: str, token: Path, answer: bytes,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    Fake.answer = answer
    for cmd in COMMANDS:
        code, err = run(capsys, *cmd, "--url", fake, token=token)
        assert code != 0, (cmd, answer)
        assert err.count("\n") == 1 and "daemon" in err, (cmd, err)


@pytest.mark.parametrize("url", ["notaurl", "http://", "ftp://127.0.0.1:1", "127.0.0.1:9464",
                                 "http://127.0.0.1:99999", "http://[::1", "http://h:x"])
def test_bad_urls_are_one_line(token: Path, url: str,
                              capsys: pytest.CaptureFixture[str]) -> None:
    for cmd in COMMANDS:
        code, err = run(capsys, *cmd, "--url", url, token=token)
        assert code == 2 and err.count("\n") == 1, (cmd, url, err)
