"""The catalog graph service: entity model, temporal graph store, sync and GraphQL API."""
