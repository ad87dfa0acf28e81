"""Memory kept flat under the plain REST route: each call's Gradio session is forgotten once its result is read.

A caller of POST /gradio_api/call/ask that sends no session hash (curl, requests) gets a new session for
every call, named by the call's event id, and Gradio keeps each one: a copy of the page's configuration in
its state table (~60 KB), a result queue, an entry of pending events and one of analytics. Nothing ever
closes them, so 5,000 calls took ~300 MB (issue 9). gradio_client and the page keep one session of their
own: they are left alone.
"""

from __future__ import annotations

import re

import gradio as gr

# GET /gradio_api/call/NAME/EVENT_ID (and the /call/v2/ form): the stream that delivers one call's result.
_RESULT_STREAM = re.compile(r"/gradio_api/call/(?:v2/)?[^/]+/(?P<event_id>[^/]+)/?")


def release_call_session(blocks: gr.Blocks, event_id: str) -> None:
    """Forget the session of one finished REST call: the one named by its event id, as Gradio names it when the
    caller sends none. A call still running (its caller left before the result) keeps it: its job writes there."""
    queue = blocks._queue
    if queue.pending_event_ids_session.get(event_id):
        return
    queue.pending_event_ids_session.pop(event_id, None)
    queue.pending_messages_per_session.pop(event_id, None)
    queue.event_analytics.pop(event_id, None)
    with blocks.state_holder.lock:
        blocks.state_holder.session_data.pop(event_id, None)
        blocks.state_holder.time_last_used.pop(event_id, None)


class ReleaseRestSessions:
    """ASGI middleware: after a REST call's result stream ends, release_call_session."""

    def __init__(self, app, blocks: gr.Blocks):
        self.app = app
        self.blocks = blocks

    async def __call__(self, scope, receive, send) -> None:
        try:
            await self.app(scope, receive, send)
        finally:
            stream = _RESULT_STREAM.fullmatch(scope.get("path", "")) if scope["type"] == "http" else None
            if stream is not None:
                release_call_session(self.blocks, stream["event_id"])
