"""search-indexer: keeps the search index current and answers /v1/search."""
