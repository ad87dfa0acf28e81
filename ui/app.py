"""The Gradio chat over the pipeline (minimal: the full UI is its own issue)."""

from __future__ import annotations

import html

import gradio as gr

from rag.pipeline import Pipeline, QuestionError
from rag.schema import Answer


def render_answer(answer: Answer) -> str:
    """Markdown for the chat: the quoted sentence with the span in bold, confidence and sources. Text is escaped."""
    if not answer.found:
        lines = [f"Not found in the articles (confidence {answer.score:.2f})."]
        lines += [f"- related [{c.n}] {html.escape(c.title)}: {html.escape(' '.join(c.passage.split())[:200])}…" for c in answer.related[:3]]
        return "\n".join(lines)
    first = answer.citations[0]
    sentence = answer.answer
    if first.span_start is not None:
        a, b = first.span_start - first.start, first.span_end - first.start
        quoted = f"{html.escape(sentence[:a])}<b>{html.escape(sentence[a:b])}</b>{html.escape(sentence[b:])}"
    else:
        quoted = html.escape(sentence)
    markers = " ".join(f"[{c.n}]" for c in answer.citations)
    sources = "\n".join(
        f"- [{c.n}] {html.escape(c.title)} — {c.published or 'undated'} — {html.escape(c.path)}" for c in answer.citations
    )
    return f"“{quoted}” {markers}\n\nconfidence {answer.score:.2f}\n\n{sources}"


def build_app(pipeline: Pipeline) -> gr.Blocks:
    def respond(message: str, history: list) -> str:
        try:
            return render_answer(pipeline.ask(message))
        except QuestionError as exc:
            return f"Please rephrase: {exc}."

    return gr.ChatInterface(
        respond,
        title="Ask the news",
        examples=["Who is the Foreign Ministry spokesperson?"],
        analytics_enabled=False,
        api_name="chat",
    )


def serve(pipeline: Pipeline, host: str = "127.0.0.1", port: int = 7860) -> None:
    build_app(pipeline).queue().launch(server_name=host, server_port=port, show_error=True)
