"""Answering: one handler an intent (rag/query/intents.py), each over the same search services."""
