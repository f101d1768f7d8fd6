"""The layout rules, one module per family; inspection.layout runs them in order and RULES names each."""
