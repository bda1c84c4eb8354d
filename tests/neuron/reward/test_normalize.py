"""The running normalizer: the normal CDF of z-scores under running statistics with a capped count."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mirror_neuron.neuron.reward.normalize import RunningNormalizer

PHI = {-1.96: 0.0249979, -1.0: 0.1586553, 0.0: 0.5, 1.0: 0.8413447, 1.96: 0.9750021}  # standard normal table


def test_cdf_mapping_of_known_z_scores() -> None:
    normalizer = RunningNormalizer()
    normalizer.set_state({"count": 10, "mean": 0.0, "var": 1.0})
    z = np.array(list(PHI))
    np.testing.assert_allclose(normalizer.transform(z), list(PHI.values()), atol=1e-7)
    normalizer.set_state({"count": 10, "mean": 5.0, "var": 4.0})  # x = mean + z * 2
    np.testing.assert_allclose(normalizer.transform(5.0 + 2 * z), list(PHI.values()), atol=1e-7)


def test_first_batch_is_normalized_with_its_own_statistics() -> None:
    normalizer = RunningNormalizer()
    out = normalizer(np.array([1.0, 2.0, 3.0]))
    # mean 2, population variance 2/3; z = -+1 / sqrt(2/3) = -+1.2247449; Phi(1.2247449) = 0.8896643
    assert normalizer.get_state() == {"count": 3, "mean": 2.0, "var": pytest.approx(2 / 3)}
    np.testing.assert_allclose(out, [0.1103357, 0.5, 0.8896643], atol=1e-7)


def test_second_batch_merges_by_hand() -> None:
    normalizer = RunningNormalizer()
    normalizer(np.array([1.0, 2.0, 3.0]))
    out = normalizer(np.array([4.0, 5.0]))
    # w_new = 2/5, w_old = 3/5, batch mean 4.5, batch var 0.25, diff 2.5:
    # mean = 0.4 * 4.5 + 0.6 * 2 = 3; var = 0.4 * 0.25 + 0.6 * 2/3 + 0.4 * 0.6 * 6.25 = 2
    assert normalizer.count == 5
    assert normalizer.mean == pytest.approx(3.0)
    assert normalizer.var == pytest.approx(2.0)
    assert normalizer.var == pytest.approx(np.var([1, 2, 3, 4, 5]))
    np.testing.assert_allclose(out, [0.7602499, 0.9213504], atol=1e-7)  # Phi(1 / sqrt 2), Phi(2 / sqrt 2)


def test_uncapped_statistics_equal_numpy_over_everything_seen() -> None:
    rng = np.random.default_rng(0)
    normalizer = RunningNormalizer(count_limit=10_000)
    seen: list[np.ndarray] = []
    for size in (1, 7, 3, 12, 1, 5):
        batch = rng.normal(3.0, 2.0, size)
        seen.append(batch)
        normalizer(batch)
        everything = np.concatenate(seen)
        assert normalizer.count == len(everything)
        assert normalizer.mean == pytest.approx(everything.mean(), rel=1e-12)
        assert normalizer.var == pytest.approx(everything.var(), rel=1e-12)


def test_count_cap_gives_new_batches_a_fixed_weight() -> None:
    normalizer = RunningNormalizer(count_limit=4)
    normalizer(np.zeros(4))
    normalizer(np.zeros(4))
    assert normalizer.count == 4  # capped: uncapped it would be 8
    out = normalizer(np.full(4, 12.0))
    # w_new = 4 / (4 + 4) = 1/2: mean = 6, var = 0 + 0 + 1/4 * 144 = 36 (uncapped: mean 4, var 32)
    assert (normalizer.count, normalizer.mean, normalizer.var) == (4, 6.0, 36.0)
    np.testing.assert_allclose(out, PHI[1.0], atol=1e-7)  # z = (12 - 6) / 6 = 1


def test_capped_mean_fades_old_batches_geometrically() -> None:
    normalizer = RunningNormalizer(count_limit=10)
    normalizer(np.zeros(10))
    for k in range(1, 6):
        normalizer(np.ones(10))  # each batch weighs 10 / 20: mean_k = 1 - 0.5 ** k
        assert normalizer.mean == pytest.approx(1 - 0.5 ** k)


def test_nan_is_left_out_of_the_statistics_and_normalizes_to_zero() -> None:
    normalizer = RunningNormalizer()
    values = np.array([1.0, np.nan, 3.0])
    out = normalizer(values)
    assert np.isnan(values[1])  # the input is not touched
    assert (normalizer.count, normalizer.mean, normalizer.var) == (2, 2.0, 1.0)
    np.testing.assert_allclose(out, [PHI[-1.0], 0.0, PHI[1.0]], atol=1e-7)


def test_all_nan_or_empty_batches_leave_the_statistics_alone() -> None:
    normalizer = RunningNormalizer()
    normalizer(np.array([1.0, 3.0]))
    before = normalizer.get_state()
    np.testing.assert_array_equal(normalizer(np.array([np.nan, np.inf])), [0.0, 0.0])
    assert normalizer(np.array([])).shape == (0,)
    assert normalizer.get_state() == before


def test_zero_variance_gives_one_half() -> None:
    normalizer = RunningNormalizer()
    np.testing.assert_array_equal(normalizer(np.array([5.0, 5.0, 5.0])), [0.5, 0.5, 0.5])
    np.testing.assert_array_equal(RunningNormalizer()(np.array([7.0])), [0.5])  # a batch of one is defined


def test_state_round_trips_through_json() -> None:
    normalizer = RunningNormalizer(count_limit=5)
    for batch in ([1.0, 2.0, 4.0], [8.0, np.nan, 0.5, 3.0]):
        normalizer(np.array(batch))
    restored = RunningNormalizer(count_limit=5)
    restored.set_state(json.loads(json.dumps(normalizer.get_state())))
    batch = np.array([2.0, 6.0, -1.0])
    np.testing.assert_array_equal(restored(batch), normalizer(batch))
    assert restored.get_state() == normalizer.get_state()


def test_count_limit_must_be_positive() -> None:
    with pytest.raises(ValueError, match="count_limit"):
        RunningNormalizer(count_limit=0)


def test_unbiased_variance_of_a_first_batch_of_one_stays_nan_and_z_is_never_scaled_again() -> None:
    normalizer = RunningNormalizer(count_limit=3000, ddof=1)
    first = normalizer(np.array([2.0]))
    # torch.tensor([2.0]).var() is NaN: mean 2, var NaN; `var > 0` is false, so z = x - mean = 0 -> Phi(0) = 0.5
    assert normalizer.count == 1 and normalizer.mean == 2.0 and np.isnan(normalizer.var)
    np.testing.assert_array_equal(first, [0.5])
    out = normalizer(np.array([1.0, 3.0, 5.0]))
    # w_new = 3/4, w_old = 1/4, batch mean 3: mean = 0.75 * 3 + 0.25 * 2 = 2.75; var = 0.75 * 4 + 0.25 * NaN + ... = NaN
    # z = x - 2.75, unscaled: -1.75, 0.25, 2.25 -> Phi = 0.0400592, 0.5987063, 0.9877755
    assert normalizer.mean == pytest.approx(2.75) and np.isnan(normalizer.var)
    np.testing.assert_allclose(out, [0.0400592, 0.5987063, 0.9877755], atol=1e-7)
    restored = RunningNormalizer(count_limit=3000, ddof=1)
    restored.set_state(json.loads(json.dumps(normalizer.get_state())))  # NaN survives a saved state
    np.testing.assert_array_equal(restored(np.array([4.0])), normalizer(np.array([4.0])))


def test_unbiased_variance_of_larger_batches_is_the_sample_variance() -> None:
    normalizer = RunningNormalizer(ddof=1)
    out = normalizer(np.array([1.0, 2.0, 3.0]))
    # mean 2, sample variance (1 + 0 + 1) / 2 = 1; z = -1, 0, 1
    assert normalizer.var == pytest.approx(1.0)
    np.testing.assert_allclose(out, [PHI[-1.0], 0.5, PHI[1.0]], atol=1e-7)
    with pytest.raises(ValueError, match="ddof"):
        RunningNormalizer(ddof=2)
