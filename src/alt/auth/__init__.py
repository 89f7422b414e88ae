"""auth-service: identity, sessions, CSRF and the user's signed token for other services."""
