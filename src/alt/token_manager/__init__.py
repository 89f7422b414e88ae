"""auth-token-manager: OAuth2 token refresh for the Inoreader sync."""
