"""The load test's floor: the same burst against a server that does no work, with the CPU each side spent."""

import json
import sys

from eval.concurrency import free_port, running
from eval.gradio_floor import FLOOR_READY
from eval.load_test import CONTRACT_KEYS, Burst, is_contract_object, server_pid, timed_burst


def test_the_floor_server_gives_its_reply_to_every_question_and_the_burst_counts_both_sides_cpu(tmp_path):
    reply = json.dumps({key: None for key in CONTRACT_KEYS} | {"question": "as rag serve answered it", "found": False})
    (tmp_path / "reply.json").write_text(reply, encoding="utf-8")
    port = free_port()
    command = [sys.executable, "-m", "eval.gradio_floor", "--port", str(port), "--reply", str(tmp_path / "reply.json")]
    with running(command, port, FLOOR_READY, ready_seconds=120) as url:
        errors: list[str] = []
        replies, burst = timed_burst(url, server_pid(port, b"eval.gradio_floor"), ["Who?", "When?", "Where?"], errors)
    assert errors == [] and [r.error for r in replies] == [None] * 3
    assert all(r.answer == json.loads(reply) and is_contract_object(r.answer) for r in replies)
    assert 0 < burst.latency_ms["p50"] <= burst.latency_ms["max"]
    assert burst.server_cpu_s > 0 and burst.clients_cpu_s > 0
    assert burst.page_requests >= 1 and 0 < burst.page_ms["max"]  # the page was opened while they asked


def test_a_burst_is_one_row_of_cells():
    latency = {"p50": 1200.4, "p95": 1890.6, "max": 2001.0}
    burst = Burst(latency_ms=latency, server_cpu_s=0.5, clients_cpu_s=3.25, page_ms={"p50": 14.2, "max": 640.0}, page_requests=9)
    assert burst.cells() == "1200 ms | 1891 ms | 2001 ms | 0.50 / 3.25 s | 14 / 640 ms (9)"
