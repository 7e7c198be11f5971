"""What every stage shares: errors, limits, storage, configuration, the artefacts (the contracts
between stages), the review file staff write, typography and the caption writers.

`core` imports nothing else of the package: the stages build on it, never on each other.
"""
