"""Saved reporting queries: named GraphQL documents run with parameters (a later issue)."""
