"""The tenant tree: provinces, cities and counties named by their GB/T 2260 codes."""
