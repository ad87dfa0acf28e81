"""What builds and keeps the index: articles loaded and chunked, vectors and BM25 terms, the stores (an embedded folder or Milvus)."""
