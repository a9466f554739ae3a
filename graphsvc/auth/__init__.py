"""Who is asking, and what they may do: API tokens, OIDC bearer tokens, scopes."""
