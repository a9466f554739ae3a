"""The scaffolder: Backstage software templates run as GraphQL mutations (a later issue)."""
