"""The reader UI: pages rendered by alt-frontend from alt-backend's and auth-service's answers."""
