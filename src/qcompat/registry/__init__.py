"""Known issues as data: the entries and how they match a stack, reading them, log forensics, what a planned stack
expects, the sampler checks' expectations, and each entry's provenance in released wheels."""
