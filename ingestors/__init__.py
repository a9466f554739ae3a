"""Ingestors: read catalog entities from their sources (files, git, URLs) for the sync."""
