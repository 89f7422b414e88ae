"""pre-processor-sidecar: Inoreader (Google Reader API) sync into the normal pipeline."""
