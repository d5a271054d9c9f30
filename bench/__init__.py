"""Benchmarks: each prints its figures against a baseline measured in the same run."""


def percentile(values: list[float], q: float) -> float:
    """The nearest-rank `q` quantile (0 < q < 1) of `values`."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]
