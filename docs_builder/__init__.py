"""TechDocs: MkDocs sites built from catalog entities and exposed as GraphQL fields (a later issue)."""
