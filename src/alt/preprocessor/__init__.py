"""pre-processor: fetches feeds, extracts full text, asks for summaries and judges them."""
