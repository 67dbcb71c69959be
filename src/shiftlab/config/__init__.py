"""Configs before anything is built: where they live, resolvers, override text, the option
chosen in each group, and the schema checked at launch. Nothing here imports torch."""
