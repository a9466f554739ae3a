"""Offline lint of Neo4j Cypher with Neo4j's own front end (see README.md)."""
