"""The GraphQL API (Strawberry) and the Starlette application that serves it."""
