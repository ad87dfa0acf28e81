"""Load test: 50 visitors ask at once through `gradio_client`, while a new visitor opens the page.

The burst itself is eval/concurrency.py's (a `rag serve` subprocess on a copy of the corpus, one
client per visitor, all questions released at once, latency from submit to answer). This adds what
issue 5 asks besides: the page's latency for a new visitor meanwhile (GET / every 0.2 s while the
clients connect and ask), the server's resident memory after warm-up and at its peak (VmHWM), and a
check that every reply is the `rag ask --json` object. Then the same burst, in the same run, against
a server that does no work (eval/gradio_floor.py: the same /ask route and queue, answering at once):
what Gradio and 50 gradio_clients cost on this machine when the answer costs nothing, the floor under
any server's figures. For both it counts the CPU seconds the server and the clients (this process)
spent in the burst. Prints a markdown table for eval/RESULTS.md; exits 1 on any error.

    .venv/bin/python -m eval.load_test --clients 50

`--rest N` asks N questions one after another through the plain REST route instead (POST
/gradio_api/call/ask, then GET its result stream, each call a new session as curl makes it), and
reports the server's resident memory after a warm-up and after the N calls; exits 1 on an error
or when memory grew more than 5 MB (issue 9).

    .venv/bin/python -m eval.load_test --rest 5000

`--api SECONDS` loads the JSON API instead (ui/api.py), one server throughout: for each number of clients in
--api-clients (50 then 200 by default), that many asyncio clients over httpx, each asking the gold questions one
after another through POST /api/ask for SECONDS, then as many calling GET /api/status, a route that does no work,
for as long: the floor that the server and the clients set. For each: p50 / p95 / p99 of the answered calls,
answers a second, 503s with Retry-After (the bounded queue full: the client waits as long, then asks again), errors
by status, the server's CPU seconds and its RSS before, at its peak and after, and the machine's load average.
Exits 1 on any error (a 503 with Retry-After counts as one only while the clients are within the server's queue
bound: the questions answered at once and api_max_waiting) or when the server's RSS, API_SETTLE_S after the last
phase, is over 50 MB above where it was after the warm-up.

    .venv/bin/python -m eval.load_test --api 30 [--api-clients 50,200] [--api-concurrency N]

`--threads N` and `--concurrency N` start the server with RAG_RUNTIME_THREADS=N (threads per network
call) and RAG_SERVE_CONCURRENCY=N (questions the page answers at once; --api-concurrency: the API's); `--busy N` keeps N other processes
spinning on the CPU during the burst, as on a machine doing other work:

    for busy in 0 2; do for threads in 1 2; do for concurrency in 1 2 4; do
      .venv/bin/python -m eval.load_test --clients 50 --threads $threads --concurrency $concurrency --busy $busy; done; done; done
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import resource
import shutil
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from gradio_client import Client
from pydantic import BaseModel

from eval.concurrency import WARM_UP, Reply, ask_concurrently, free_port, running, running_server, summary
from eval.gradio_floor import FLOOR_READY
from eval.metrics import percentile
from eval.runner import read_gold
from rag.cli import SERVE_THREADS_PER_CALL
from rag.config import Settings
from ui.api import answering_threads

ROOT = Path(__file__).resolve().parent.parent
CONTRACT_KEYS = ["question", "found", "answer", "span", "score", "citations", "related"]


def is_contract_object(reply: dict | None) -> bool:
    """The `rag ask --json` keys, in order; an extension's optional keys ("fact", "more", …) may follow."""
    return list(reply or {})[: len(CONTRACT_KEYS)] == CONTRACT_KEYS


class Burst(BaseModel):
    """One burst of questions: latency from submit to answer, the CPU it took on either side, and the
    page's latency for a new visitor meanwhile."""

    latency_ms: dict[str, float]  # p50, p95, max of the questions
    server_cpu_s: float
    clients_cpu_s: float  # this process: the gradio_clients' threads (and the visitor's GETs)
    page_ms: dict[str, float]  # p50, max of GET / while the clients connect and ask
    page_requests: int

    def cells(self) -> str:
        latency, page = self.latency_ms, self.page_ms
        return (
            f"{latency['p50']:.0f} ms | {latency['p95']:.0f} ms | {latency['max']:.0f} ms | {self.server_cpu_s:.2f} / {self.clients_cpu_s:.2f} s "
            f"| {page['p50']:.0f} / {page['max']:.0f} ms ({self.page_requests})"
        )


class LoadReport(BaseModel):
    clients: int
    errors: list[str]
    burst: Burst
    floor: Burst  # the same burst against eval/gradio_floor.py's server that does no work (its page holds nothing)
    rss_after_warm_up_mb: float
    peak_rss_mb: float

    def markdown(self) -> str:
        return "\n".join(
            [
                "| server | questions at once | errors | p50 | p95 | max | CPU server / clients | GET / meanwhile (p50 / max, requests) "
                "| RSS after warm-up | peak RSS |",
                "|---|---|---|---|---|---|---|---|---|---|",
                f"| rag serve | {self.clients} | {len(self.errors)} | {self.burst.cells()} | {self.rss_after_warm_up_mb:.0f} MB | {self.peak_rss_mb:.0f} MB |",
                f"| zero-work floor (eval/gradio_floor.py) | {self.clients} | — | {self.floor.cells()} | — | — |",
            ]
        )


def server_pid(port: int, program: bytes = b"serve") -> int:
    """The server process listening on port, found by its command line: `rag serve` unless another program is named."""
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue  # a process that ended meanwhile
        if program in args and str(port).encode() in args:
            return int(cmdline.parent.name)
    raise RuntimeError(f"no {program.decode()} process on port {port}")


def cpu_seconds(pid: int) -> float:
    """User and system CPU time a process has used, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def timed_burst(url: str, pid: int, questions: list[str], errors: list[str]) -> tuple[list[Reply], Burst]:
    """ask_concurrently, with the CPU the server (pid) and this process spent meanwhile (connecting the
    clients before is not counted), and a new visitor opening the page while they connect and ask; a
    failed GET / goes to errors."""
    page_ms: list[float] = []
    stop = threading.Event()
    visitor = threading.Thread(target=open_page, args=(url, stop, page_ms, errors))
    visitor.start()
    try:
        clients = [Client(url, verbose=False) for _ in questions]
        server_before, clients_before = cpu_seconds(pid), own_cpu_seconds()
        replies = ask_concurrently(url, questions, clients)
        server_cpu, clients_cpu = cpu_seconds(pid) - server_before, own_cpu_seconds() - clients_before
    finally:
        stop.set()
        visitor.join()
    burst = Burst(
        latency_ms=summary(replies)["latency_ms"],
        server_cpu_s=server_cpu,
        clients_cpu_s=clients_cpu,
        page_ms={"p50": percentile(page_ms, 50), "max": max(page_ms, default=0.0)},
        page_requests=len(page_ms),
    )
    return replies, burst


def floor_burst(reply: str, questions: list[str], work: Path, busy: int, errors: list[str]) -> Burst:
    """The same burst against eval/gradio_floor.py answering REPLY at once, BUSY cores kept busy meanwhile."""
    (work / "reply.json").write_text(reply, encoding="utf-8")
    port = free_port()
    command = [sys.executable, "-m", "eval.gradio_floor", "--port", str(port), "--reply", str(work / "reply.json")]
    with running(command, port, FLOOR_READY, ready_seconds=120) as url:
        Client(url, verbose=False).predict(WARM_UP, api_name="/ask")
        with busy_cores(busy):
            return timed_burst(url, server_pid(port, b"eval.gradio_floor"), questions, errors)[1]


def memory_mb(pid: int, field: str) -> float:
    """VmRSS (now) or VmHWM (peak) of a process, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise ValueError(f"no {field} for pid {pid}")


def open_page(url: str, stop: threading.Event, times_ms: list[float], errors: list[str]) -> None:
    """A new visitor loading the page, again and again until stop."""
    while not stop.is_set():
        started = time.perf_counter()
        try:
            with urllib.request.urlopen(url, timeout=60) as response:
                response.read()
            times_ms.append((time.perf_counter() - started) * 1000)
        except OSError as exc:
            errors.append(f"GET / during the burst: {exc}")
        stop.wait(0.2)


class RestReport(BaseModel):
    calls: int
    errors: list[str]
    rss_before_mb: float  # after the warm-up calls
    rss_after_mb: float
    seconds: float

    @property
    def growth_mb(self) -> float:
        return self.rss_after_mb - self.rss_before_mb

    def markdown(self) -> str:
        return "\n".join(
            [
                "| REST calls | errors | RSS before | RSS after | growth | per call | time |",
                "|---|---|---|---|---|---|---|",
                f"| {self.calls} | {len(self.errors)} | {self.rss_before_mb:.1f} MB | {self.rss_after_mb:.1f} MB "
                f"| {self.growth_mb:+.1f} MB | {self.growth_mb * 1024 / self.calls:+.2f} KB | {self.seconds:.0f} s |",
            ]
        )


REST_WARM_UP_CALLS = 200  # Python's and the allocator's pools fill first: growth after them is what stays
REST_GROWTH_LIMIT_MB = 5.0


def rest_call(url: str, question: str) -> dict:
    """One question as curl would ask it: POST for an event id, then the result stream until it completes."""
    request = urllib.request.Request(
        # The route takes every argument by position: question, then k, retriever, since, until, source left unset.
        f"{url}gradio_api/call/ask",
        data=json.dumps({"data": [question, None, None, None, None, None]}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        event_id = json.load(response)["event_id"]
    event = None
    with urllib.request.urlopen(f"{url}gradio_api/call/ask/{event_id}", timeout=60) as stream:
        for line in stream:
            text = line.decode().strip()
            if text.startswith("event:"):
                event = text.removeprefix("event:").strip()
            elif text.startswith("data:") and event in ("complete", "error"):
                data = json.loads(text.removeprefix("data:"))
                if event == "error":
                    raise RuntimeError(f"the server answered with an error: {data}")
                return json.loads(data[0])
    raise RuntimeError(f"the result stream of {event_id} ended without a result")


def run_rest_test(corpus: Path, questions: list[str], work: Path) -> RestReport:
    shutil.copytree(corpus, work / "corpus", ignore=shutil.ignore_patterns(".rag-index"))
    port = free_port()
    errors: list[str] = []

    def ask(question: str) -> None:
        try:
            if not is_contract_object(rest_call(url, question)):
                errors.append(f"{question!r}: not the `rag ask --json` object")
        except (OSError, RuntimeError, ValueError) as exc:
            errors.append(f"{question!r}: {exc}")

    with running_server(work / "corpus", port) as url:
        pid = server_pid(port)
        for n in range(REST_WARM_UP_CALLS):
            ask(questions[n % len(questions)])
        rss_before = memory_mb(pid, "VmRSS")
        started = time.perf_counter()
        for question in questions:
            ask(question)
        seconds = time.perf_counter() - started
        rss_after = memory_mb(pid, "VmRSS")
    return RestReport(calls=len(questions), errors=errors, rss_before_mb=rss_before, rss_after_mb=rss_after, seconds=seconds)


def spin(spinning) -> None:
    """Keeps one core busy while `spinning` is set."""
    while spinning.is_set():
        sum(i * i for i in range(10_000))


@contextmanager
def busy_cores(count: int) -> Iterator[None]:
    """COUNT processes spinning on the CPU while the block runs: the other work of a loaded machine."""
    spinning = multiprocessing.Event()
    spinning.set()
    spinners = [multiprocessing.Process(target=spin, args=(spinning,)) for _ in range(count)]
    for process in spinners:
        process.start()
    try:
        yield
    finally:
        spinning.clear()
        for process in spinners:
            process.join()


class ApiPhase(BaseModel):
    """One route under load for a bounded time: every answered call's latency from send to the whole response."""

    route: str
    clients: int
    answered: int
    refused: int  # 503 with Retry-After: the bounded queue full (the caller waits as long and asks again)
    errors: dict[str, int]  # by status ("500", "503 without Retry-After", "503 within the queue's bound") or exception name
    latency_ms: dict[str, float]  # p50, p95, p99, max of the answered calls
    seconds: float
    server_cpu_s: float
    rss_mb: dict[str, float]  # the server's before, peak during, and after
    load_after: float  # the machine's 1-minute load average when it ended

    def row(self, label: str = "") -> str:
        latency, errors = self.latency_ms, ", ".join(f"{n} × {what}" for what, n in self.errors.items()) or "0"
        rss = self.rss_mb
        return (
            f"| {self.route}{label} | {self.clients} | {self.answered} | {self.answered / self.seconds:.1f} | {latency['p50']:.0f} ms "
            f"| {latency['p95']:.0f} ms | {latency['p99']:.0f} ms | {latency['max']:.0f} ms | {self.refused} | {errors} | {self.server_cpu_s:.1f} s "
            f"| {rss['before']:.0f} / {rss['peak']:.0f} / {rss['after']:.0f} MB | {self.load_after:.2f} |"
        )


class ApiLoadReport(BaseModel):
    machine: str
    errors: list[str]
    phases: list[ApiPhase]  # per number of clients: /api/ask, then GET /api/status (the zero-work floor) on the same server
    rss_start_mb: float  # after the warm-up, before the first phase
    rss_end_mb: float  # after the last phase and API_SETTLE_S without calls

    @property
    def rss_growth_mb(self) -> float:
        return self.rss_end_mb - self.rss_start_mb

    def markdown(self) -> str:
        rows = [phase.row("" if phase.route == "/api/ask" else " (zero-work floor)") for phase in self.phases]
        return "\n".join(
            [
                f"machine: {self.machine}",
                "",
                "| route | clients | answered | answered/s | p50 | p95 | p99 | max | 503 + Retry-After | errors | server CPU "
                "| server RSS before / peak / after | load (1 min) after |",
                "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
                *rows,
                "",
                f"server RSS: {self.rss_start_mb:.0f} MB after the warm-up, {self.rss_end_mb:.0f} MB {API_SETTLE_S:.0f} s after the last phase "
                f"({self.rss_growth_mb:+.0f} MB; the bound is {API_RSS_GROWTH_LIMIT_MB:.0f} MB)",
            ]
        )


API_SETTLE_S = 5.0  # after the last phase, before the server's RSS is read again
API_RSS_GROWTH_LIMIT_MB = 50.0
RSS_SAMPLE_S = 0.05


@contextmanager
def rss_peak(pid: int) -> Iterator[list[float]]:
    """The server's RSS in MB, sampled every RSS_SAMPLE_S while the block runs: the list holds the highest seen."""
    peak = [memory_mb(pid, "VmRSS")]
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(RSS_SAMPLE_S):
            peak[0] = max(peak[0], memory_mb(pid, "VmRSS"))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield peak
    finally:
        stop.set()
        sampler.join()


async def api_phase(url: str, route: str, bodies: list[dict] | None, clients: int, seconds: float, pid: int, admitted: int, errors: list[str]) -> ApiPhase:
    """CLIENTS clients, each with its connection, calling ROUTE again as soon as it has its answer until SECONDS have
    passed (POST with the next of BODIES, GET without). A 503 with Retry-After is the queue full: the client waits as
    long, as a client should, then goes on; past ADMITTED clients (the server's bound) that is the queue working,
    within it an error. Any other call not answered 200 with the route's object goes to errors."""
    times_ms: list[float] = []
    failed: dict[str, int] = {}
    refused = 0
    loop = asyncio.get_running_loop()

    async def client(n: int, http: httpx.AsyncClient) -> None:
        nonlocal refused
        call = n
        async with http:
            while loop.time() < deadline:
                body = bodies[call % len(bodies)] if bodies else None
                call += clients
                began = time.perf_counter()
                retry_after = None
                try:
                    response = await (http.post(route, json=body) if body is not None else http.get(route))
                    retry_after = response.headers.get("retry-after") if response.status_code == 503 else None
                    problem = None if response.status_code == 200 else str(response.status_code)
                    if problem is None and bodies and not is_contract_object(response.json()):
                        problem = "not the `rag ask --json` object"
                    elif response.status_code == 503:
                        problem = "503 without Retry-After" if retry_after is None else "503 within the queue's bound" if clients <= admitted else None
                except (httpx.HTTPError, ValueError) as exc:  # no answer, or a body that is no JSON
                    problem = type(exc).__name__
                if problem is not None:
                    failed[problem] = failed.get(problem, 0) + 1
                    errors.append(f"{route} {body or ''}: {problem}")
                elif retry_after is not None:
                    refused += 1
                    await asyncio.sleep(float(retry_after))
                else:
                    times_ms.append((time.perf_counter() - began) * 1000)

    https = [httpx.AsyncClient(base_url=url, timeout=300) for _ in range(clients)]  # made before the clock starts: ~30 ms of CPU each
    rss_before = memory_mb(pid, "VmRSS")
    with rss_peak(pid) as peak:
        server_before, started = cpu_seconds(pid), time.perf_counter()
        deadline = loop.time() + seconds
        await asyncio.gather(*(client(n, http) for n, http in enumerate(https)))
        elapsed, server_cpu = time.perf_counter() - started, cpu_seconds(pid) - server_before
    latency = {f"p{q}": percentile(times_ms, q) for q in (50, 95, 99)} | {"max": max(times_ms, default=0.0)}
    return ApiPhase(
        route=route,
        clients=clients,
        answered=len(times_ms),
        refused=refused,
        errors=failed,
        latency_ms=latency,
        seconds=elapsed,
        server_cpu_s=server_cpu,
        rss_mb={"before": rss_before, "peak": peak[0], "after": memory_mb(pid, "VmRSS")},
        load_after=os.getloadavg()[0],
    )


def run_api_load_test(corpus: Path, questions: list[str], work: Path, client_counts: list[int], seconds: float) -> ApiLoadReport:
    """For each number of clients, /api/ask and then the zero-work floor (GET /api/status) for SECONDS each, one
    server throughout; its RSS after the warm-up and API_SETTLE_S after the last phase."""
    shutil.copytree(corpus, work / "corpus", ignore=shutil.ignore_patterns(".rag-index"))
    settings = Settings()  # as the server reads them: it inherits this environment, and rag serve sets its threads per call
    answering = answering_threads(settings.model_copy(update={"runtime_threads": settings.runtime_threads or SERVE_THREADS_PER_CALL}))
    admitted = answering + settings.api_max_waiting
    port = free_port()
    errors: list[str] = []
    phases = []
    with running_server(work / "corpus", port) as url:
        asyncio.run(warm_up(url, [WARM_UP, *questions], answering))
        pid = server_pid(port)
        rss_start = memory_mb(pid, "VmRSS")
        bodies = [{"question": q} for q in questions]
        for clients in client_counts:
            phases.append(asyncio.run(api_phase(url, "/api/ask", bodies, clients, seconds, pid, admitted, errors)))
            phases.append(asyncio.run(api_phase(url, "/api/status", None, clients, seconds, pid, admitted, errors)))
        time.sleep(API_SETTLE_S)
        rss_end = memory_mb(pid, "VmRSS")
    return ApiLoadReport(machine=machine(), errors=errors, phases=phases, rss_start_mb=rss_start, rss_end_mb=rss_end)


async def warm_up(url: str, questions: list[str], answering: int) -> None:
    """Each question once, ANSWERING at a time (the server's threads all busy), before anything is timed: the models
    load, and each thread, network stream and input length has made its buffers. The first pass over the seed gold
    adds ~50 MB of RSS, once; where the RSS starts is after it."""
    async with httpx.AsyncClient(base_url=url, timeout=300) as http:
        for first in range(0, len(questions), answering):
            for response in await asyncio.gather(*(http.post("/api/ask", json={"question": q}) for q in questions[first : first + answering])):
                response.raise_for_status()


def machine() -> str:
    """The CPU, its cores, the load average now."""
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")), "a CPU")
    one, five, fifteen = os.getloadavg()
    return f"{model}, {os.cpu_count()} cores, load average {one:.2f} / {five:.2f} / {fifteen:.2f} (1 / 5 / 15 min)"


def run_load_test(corpus: Path, questions: list[str], work: Path, busy: int = 0) -> LoadReport:
    shutil.copytree(corpus, work / "corpus", ignore=shutil.ignore_patterns(".rag-index"))
    port = free_port()
    with running_server(work / "corpus", port) as url:
        warm_up_reply = Client(url, verbose=False).predict(WARM_UP, api_name="/ask")  # loads the model before anything is measured
        pid = server_pid(port)
        rss_after_warm_up = memory_mb(pid, "VmRSS")
        errors: list[str] = []
        with busy_cores(busy):
            replies, burst = timed_burst(url, pid, questions, errors)
        peak_rss = memory_mb(pid, "VmHWM")
    floor = floor_burst(warm_up_reply, questions, work, busy, errors)
    for reply in replies:
        if reply.error or not is_contract_object(reply.answer):
            errors.append(f"{reply.question!r}: {reply.error or 'not the `rag ask --json` object'}")
    return LoadReport(
        clients=len(questions),
        errors=errors,
        burst=burst,
        floor=floor,
        rss_after_warm_up_mb=rss_after_warm_up,
        peak_rss_mb=peak_rss,
    )


def client_counts(text: str) -> list[int]:
    """--api-clients: comma-separated numbers of clients, each at least 1."""
    try:
        counts = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"numbers of clients separated by commas, e.g. 50,200; got {text!r}") from None
    if any(n < 1 for n in counts):
        raise argparse.ArgumentTypeError(f"each number of clients must be at least 1; got {text!r}")
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=50, help="questions asked at the same moment")
    parser.add_argument("--rest", type=int, default=None, metavar="N", help="instead: N REST calls one by one, memory before and after")
    parser.add_argument(
        "--api", type=float, default=None, metavar="SECONDS", help="instead: each of --api-clients callers of /api/ask for SECONDS, then of /api/status"
    )
    parser.add_argument("--api-clients", type=client_counts, default=[50, 200], metavar="N,N", help="with --api: the numbers of clients, in order")
    parser.add_argument("--corpus", type=Path, default=ROOT / "seeds")
    parser.add_argument("--gold", type=Path, default=ROOT / "eval" / "gold" / "seeds.jsonl", help="where the questions come from")
    parser.add_argument("--threads", type=int, default=None, help="the server's RAG_RUNTIME_THREADS (default: its own)")
    parser.add_argument("--concurrency", type=int, default=None, help="the server's RAG_SERVE_CONCURRENCY (default: its own)")
    parser.add_argument("--api-concurrency", type=int, default=None, help="the server's RAG_API_CONCURRENCY (default: its own)")
    parser.add_argument("--busy", type=int, default=0, help="other processes spinning on the CPU during the burst")
    args = parser.parse_args(argv)
    for variable, value in (("RAG_RUNTIME_THREADS", args.threads), ("RAG_SERVE_CONCURRENCY", args.concurrency), ("RAG_API_CONCURRENCY", args.api_concurrency)):
        if value is not None:
            os.environ[variable] = str(value)  # the server subprocess inherits the environment
    gold = [item.question for item in read_gold(args.gold)]
    calls = args.rest if args.rest is not None else args.clients
    questions = [gold[i % len(gold)] for i in range(calls)]
    load_before = os.getloadavg()[0]
    report: LoadReport | RestReport | ApiLoadReport
    with tempfile.TemporaryDirectory(prefix="rag-load-") as tmp:
        if args.api is not None:
            report = run_api_load_test(args.corpus, gold, Path(tmp), args.api_clients, args.api)
        elif args.rest is not None:
            report = run_rest_test(args.corpus, questions, Path(tmp))
        else:
            report = run_load_test(args.corpus, questions, Path(tmp), args.busy)
    print(f"machine: {os.cpu_count()} cores, load average {load_before:.2f} before the run")  # before the server and its index
    print(
        f"server: RAG_RUNTIME_THREADS={os.environ.get('RAG_RUNTIME_THREADS', 'its default')}, "
        f"RAG_SERVE_CONCURRENCY={os.environ.get('RAG_SERVE_CONCURRENCY', 'its default')}, "
        f"RAG_API_CONCURRENCY={os.environ.get('RAG_API_CONCURRENCY', 'its default')}, "
        f"RAG_PRECISION={os.environ.get('RAG_PRECISION', 'its default')}; {args.busy} busy processes; "
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} after"
    )
    print(report.markdown())
    for error in report.errors[:20]:
        print(f"error: {error}")
    grew = False
    if isinstance(report, RestReport) and report.growth_mb > REST_GROWTH_LIMIT_MB:
        grew = True
        print(f"error: memory grew {report.growth_mb:.1f} MB over {report.calls} REST calls (the limit is {REST_GROWTH_LIMIT_MB:.0f} MB)")
    if isinstance(report, ApiLoadReport) and report.rss_growth_mb > API_RSS_GROWTH_LIMIT_MB:
        grew = True
        print(f"error: the server's RSS did not come back: {report.rss_growth_mb:+.0f} MB after the phases (the bound is {API_RSS_GROWTH_LIMIT_MB:.0f} MB)")
    return 1 if report.errors or grew else 0


if __name__ == "__main__":
    sys.exit(main())
