"""Memory kept flat: a Gradio session is forgotten once nobody can use it again.

For each session Gradio keeps a copy of the page's configuration in its state table (~110 KB), a result
queue, an entry of pending events and one of analytics per event. It drops a closed session's gr.State values
after an hour but the session itself never, only the least recently used beyond its capacity (10,000 by
default, ~1.1 GB). Two kinds of caller leave sessions behind:

- REST: a caller of POST /gradio_api/call/ask that sends no session hash (curl, requests) gets a new session for
  every call, named by the call's event id: 5,000 calls took ~300 MB (issue 9). Released once the call's
  result stream ends.
- gradio_client: each Client is a session, and the README's one-liner makes one per question: +312 MB over
  2,600 questions. A client holds a heartbeat stream open while it lives; once it has ended, the session is
  released: at once when it holds no gr.State value (an API client's), else (a page's) once unused for
  CLOSED_PAGE_KEPT_S, the hour Gradio keeps a closed tab's values for the tab to come back to.

SESSIONS_KEPT caps what is left (callers that never open a heartbeat): Gradio forgets the least recently used.
"""

from __future__ import annotations

import asyncio
import datetime
import re
from collections import Counter

import gradio as gr
from starlette.types import ASGIApp, Receive, Scope, Send

SESSIONS_KEPT = 1000  # at ~110 KB each, ~110 MB at most
CLOSED_PAGE_KEPT_S = 3600.0
RUNNING_RECHECK_S = 10.0  # a closed session whose event still runs is looked at again after this
# GET /gradio_api/call/NAME/EVENT_ID (and the /call/v2/ form): the stream that delivers one call's result.
_RESULT_STREAM = re.compile(r"/gradio_api/call/(?:v2/)?[^/]+/(?P<event_id>[^/]+)/?")
# GET /gradio_api/heartbeat/SESSION_HASH: open while a page or a gradio_client lives.
_HEARTBEAT = re.compile(r"/gradio_api/heartbeat/(?P<session>[^/]+)/?")


def release_session(blocks: gr.Blocks, session_hash: str) -> bool:
    """Forget a session: its state, its result queue, its entry of pending events and its events' analytics (a REST
    call's session is named by its event id). One with an event still running keeps them all, as its job writes
    there: returns whether it was released."""
    queue = blocks._queue
    if queue.pending_event_ids_session.get(session_hash):
        return False
    queue.pending_event_ids_session.pop(session_hash, None)
    queue.pending_messages_per_session.pop(session_hash, None)
    for event_id in [e for e, entry in queue.event_analytics.items() if e == session_hash or entry.get("session_hash") == session_hash]:
        queue.event_analytics.pop(event_id, None)
    with blocks.state_holder.lock:
        blocks.state_holder.session_data.pop(session_hash, None)
        blocks.state_holder.time_last_used.pop(session_hash, None)
    return True


class ReleaseSessions:
    """ASGI middleware: a REST call's session released after its result stream ends, a client's after its
    heartbeat ends (see the module's docstring for when)."""

    def __init__(self, app: ASGIApp, blocks: gr.Blocks):
        self.app = app
        self.blocks = blocks
        self.heartbeats: Counter[str] = Counter()  # the heartbeat streams open, per session

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"] if scope["type"] == "http" else ""
        if (stream := _RESULT_STREAM.fullmatch(path)) is not None:
            try:
                await self.app(scope, receive, send)
            finally:
                release_session(self.blocks, stream["event_id"])
        elif (heartbeat := _HEARTBEAT.fullmatch(path)) is not None:
            session = heartbeat["session"]
            self.heartbeats[session] += 1
            try:
                await self.app(scope, receive, send)
            finally:
                self.heartbeats[session] -= 1
                if not self.heartbeats[session]:
                    del self.heartbeats[session]
                    self._release_when_unused(session)
        else:
            await self.app(scope, receive, send)

    def _release_when_unused(self, session: str) -> None:
        """Release a session whose heartbeat has ended, or look again when it may be released."""
        if session in self.heartbeats:  # open again (a tab that came back): its next end looks again
            return
        holder = self.blocks.state_holder
        state, last_used = holder.session_data.get(session), holder.time_last_used.get(session)
        idle_s = (datetime.datetime.now() - last_used).total_seconds() if last_used else CLOSED_PAGE_KEPT_S
        if state is not None and state.state_data and idle_s < CLOSED_PAGE_KEPT_S:
            asyncio.get_running_loop().call_later(CLOSED_PAGE_KEPT_S - idle_s, self._release_when_unused, session)
        elif not release_session(self.blocks, session):
            asyncio.get_running_loop().call_later(RUNNING_RECHECK_S, self._release_when_unused, session)
