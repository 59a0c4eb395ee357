"""The build side: ingest, chunking, embedding, lexical index, store, incremental indexing."""
