"""Running normalization of one scoring model's rewards, as the later validators did it.

Each scoring model keeps a running mean and variance over the rewards it has given. A batch is first
folded into those statistics, then mapped through the normal CDF of its z-score, so that every
scorer's output lands in [0, 1] on a comparable scale before the weighted sum.
"""

from __future__ import annotations

import math

import numpy as np

_erf = np.vectorize(math.erf, otypes=[np.float64])  # batches are small; no scipy dependency


class RunningNormalizer:
    """Running mean/variance with a capped count, then ``0.5 * (1 + erf(z / sqrt 2))``.

    Update with a batch ``x`` of ``n`` finite values (batch mean ``m``, variance ``v`` with ``ddof``
    delta degrees of freedom), when the normalizer has count ``c``, mean ``mean`` and variance ``var``::

        w_new = n / (c + n)        w_old = c / (c + n)
        mean' = w_new * m + w_old * mean
        var'  = w_new * v + w_old * var + w_new * w_old * (m - mean) ** 2
        c'    = min(count_limit, c + n)

    This is the exact pooled mean and variance of every value seen, as long as the count stays
    under ``count_limit``. Once it is capped, each new batch weighs ``n / (count_limit + n)``, so old
    batches fade geometrically (openvalidators: count_limit 1000, later 3000).

    The batch is normalized with the statistics that already include it:
    ``z = (x - mean') / sqrt(var')``, then the normal CDF. Non-finite inputs (NaN, +-inf) are left
    out of the statistics and normalize to 0.

    ``ddof=0`` (default): the population variance, so a batch of one is well defined; ``z = 0`` when
    ``var' == 0``. ``ddof=1``: openvalidators' rule, torch's default unbiased variance, whose batch of
    one has variance NaN; NaN then stays in ``var`` for good (every later ``var'`` adds it), and as
    there ``z = x - mean'``, not scaled, whenever ``var' > 0`` is false (0 or NaN). So after a first
    batch of one, openvalidators never scaled that scorer's z-scores again.
    """

    def __init__(self, count_limit: int = 1000, ddof: int = 0) -> None:
        if count_limit < 1:
            raise ValueError(f"count_limit must be at least 1, got {count_limit}")
        if ddof not in (0, 1):
            raise ValueError(f"ddof must be 0 or 1, got {ddof}")
        self.count_limit, self.ddof = count_limit, ddof
        self.count = 0
        self.mean = 0.0
        self.var = 0.0

    def update(self, values: np.ndarray) -> None:
        """Fold the finite values of one batch into the running statistics."""
        x = np.asarray(values, dtype=np.float64)
        x = x[np.isfinite(x)]
        n = len(x)
        if n == 0:
            return
        w_new = n / (self.count + n)
        w_old = self.count / (self.count + n)
        batch_mean = float(x.mean())
        batch_var = float(x.var(ddof=self.ddof)) if n > self.ddof else math.nan  # torch: a lone value has var NaN
        diff = batch_mean - self.mean
        self.mean = w_new * batch_mean + w_old * self.mean
        self.var = w_new * batch_var + w_old * self.var + w_new * w_old * diff * diff
        self.count = min(self.count_limit, self.count + n)

    def transform(self, values: np.ndarray) -> np.ndarray:
        """The normal CDF of each value's z-score under the current statistics; 0 for non-finite values."""
        x = np.asarray(values, dtype=np.float64)
        finite = np.isfinite(x)
        z = np.zeros_like(x)
        if self.var > 0:
            z[finite] = (x[finite] - self.mean) / math.sqrt(self.var)
        elif self.ddof == 1:  # openvalidators: centred, not scaled, when the variance is 0 or NaN
            z[finite] = x[finite] - self.mean
        normalized = 0.5 * (1.0 + _erf(z / math.sqrt(2.0)))
        normalized[~finite] = 0.0
        return normalized

    def __call__(self, values: np.ndarray) -> np.ndarray:
        """Update with the batch, then normalize it."""
        self.update(values)
        return self.transform(values)

    def get_state(self) -> dict:
        return {"count": self.count, "mean": self.mean, "var": self.var}

    def set_state(self, state: dict) -> None:
        self.count, self.mean, self.var = int(state["count"]), float(state["mean"]), float(state["var"])
