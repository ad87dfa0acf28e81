"""The floor under any answer's latency through Gradio: `rag serve`'s /ask route on a server that does no work.

It answers every question at once with the same reply, one that `rag serve` gave, so the bytes on the
wire are a real answer's. The queue is set as `rag serve` sets it (one event at a time by default,
/ask RAG_SERVE_CONCURRENCY at once). What a burst of gradio_client calls costs against it is what
Gradio's server, its queue and event stream, and gradio_client's calls cost on this machine when the
answer costs nothing. eval/load_test.py runs its burst against this server too, in the same run.

    .venv/bin/python -m eval.gradio_floor --port 7861 --reply reply.json
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import gradio as gr

from rag.config import Settings

FLOOR_READY = "the zero-work /ask route is up"  # the line eval.concurrency.running waits for


def build_floor_app(reply: str, concurrency: int) -> gr.Blocks:
    """A page holding nothing but the /ask route, answering REPLY to every question."""

    def ask(
        question: str,
        k: int | None = None,
        retriever: str | None = None,
        since: str | None = None,
        until: str | None = None,
        source: str | None = None,
    ) -> str:
        """The same reply to every question: the arguments are rag serve's, and nothing is done with them."""
        return reply

    with gr.Blocks(analytics_enabled=False) as app:
        gr.api(ask, api_name="ask", concurrency_limit=concurrency, concurrency_id="ask")
    return app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--reply", type=Path, required=True, help="a file holding the JSON text /ask returns")
    args = parser.parse_args(argv)
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    app = build_floor_app(args.reply.read_text(encoding="utf-8"), Settings().serve_concurrency)
    app.queue(default_concurrency_limit=1).launch(server_name="127.0.0.1", server_port=args.port, prevent_thread_lock=True, quiet=True)
    print(FLOOR_READY, flush=True)
    app.block_thread()
    return 0


if __name__ == "__main__":
    sys.exit(main())
