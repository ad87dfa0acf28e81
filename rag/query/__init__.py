"""What answers a question: its scope and follow-up context, retrieval, the readers, article facts and lists, citations."""
