"""ICC(3,1), PCC and MAE against independent implementations: a two-way ANOVA
fitted by statsmodels (test-only dependency), scipy's Pearson r and
scikit-learn's mean absolute error."""
import numpy as np
import pandas as pd
import pytest
import torch

from auzoo.engine.intensity_metrics import (AUIntensityMetric, icc_3_1, intensity_scores, mae,
                                            pcc, per_subject_icc, zero_baseline)


def _icc_by_anova(y: np.ndarray, p: np.ndarray) -> float:
    """ICC(3,1) from statsmodels' two-way ANOVA (frame and rater as factors)."""
    from statsmodels.formula.api import ols
    from statsmodels.stats.anova import anova_lm

    n = len(y)
    long = pd.DataFrame({"score": np.concatenate([y, p]),
                         "frame": np.tile(np.arange(n), 2),
                         "rater": np.repeat(["label", "prediction"], n)})
    table = anova_lm(ols("score ~ C(frame) + C(rater)", data=long).fit())
    ms = table["sum_sq"] / table["df"]
    bms, ems = ms["C(frame)"], ms["Residual"]
    return (bms - ems) / (bms + ems)


def _labels_and_predictions(seed=0, n=60):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 6, size=(n, 3)).astype(float)
    p = np.clip(0.7 * y + rng.normal(0.4, 0.8, size=y.shape), 0, 5)
    return y, p


def test_icc_matches_a_two_way_anova():
    y, p = _labels_and_predictions()
    ours = icc_3_1(y, p)
    for j in range(y.shape[1]):
        assert ours[j] == pytest.approx(_icc_by_anova(y[:, j], p[:, j]), rel=1e-9, abs=1e-12)
    assert 0.2 < ours.min() and ours.max() < 1.0


def test_icc_is_consistency_not_agreement():
    y, p = _labels_and_predictions(1)
    base = icc_3_1(y, p)
    shifted = icc_3_1(y, np.clip(p, 0, 4) + 1.0)                 # offset inside 0-5: same ICC
    np.testing.assert_allclose(shifted, icc_3_1(y, np.clip(p, 0, 4)), rtol=1e-12)
    half = icc_3_1(y, p / 2)                                     # a scale mismatch lowers it
    assert (half < base).all()
    cov = [np.cov(y[:, j], p[:, j])[0, 1] for j in range(3)]     # k = 2 identity
    var = [y[:, j].var(ddof=1) + p[:, j].var(ddof=1) for j in range(3)]
    np.testing.assert_allclose(base, 2 * np.array(cov) / np.array(var), rtol=1e-10)


def test_pcc_and_mae_match_scipy_and_sklearn():
    from scipy.stats import pearsonr
    from sklearn.metrics import mean_absolute_error

    y, p = _labels_and_predictions(2)
    np.testing.assert_allclose(pcc(y, p), [pearsonr(y[:, j], p[:, j])[0] for j in range(3)])
    np.testing.assert_allclose(mae(y, p), [mean_absolute_error(y[:, j], p[:, j]) for j in range(3)])


def test_mask_drops_frames_per_au_and_predictions_are_clipped():
    y, p = _labels_and_predictions(3)
    mask = np.ones(y.shape, bool)
    mask[::3, 1] = False
    keep = mask[:, 1]
    assert icc_3_1(y, p, mask)[1] == pytest.approx(_icc_by_anova(y[keep, 1], p[keep, 1]))
    assert mae(y, p, mask)[1] == pytest.approx(np.abs(y[keep, 1] - p[keep, 1]).mean())
    # a value the dataset did not code (255 in the cache) must not count when masked
    y_bad = y.copy()
    y_bad[~mask] = 255
    np.testing.assert_allclose(mae(y_bad, p, mask), mae(y, p, mask))
    over = p.copy()
    over[0] = 9.0                                                # scored as 5
    clipped = p.copy()
    clipped[0] = 5.0
    np.testing.assert_allclose(mae(y, over), mae(y, clipped))


def test_zero_predictor_and_degenerate_columns():
    y = np.array([[0, 0], [2, 0], [4, 0], [1, 0]], float)
    base = zero_baseline(y)
    assert base["icc"][0] == 0.0 and np.isnan(base["icc"][1])   # constant label and prediction
    assert np.isnan(base["pcc"]).all()
    np.testing.assert_allclose(base["mae"], [7 / 4, 0.0])       # MAE of 0 = mean label
    s = intensity_scores(y, np.zeros_like(y), (6, 12))
    assert s["icc_mean"] == 0.0 and np.isnan(s["pcc_mean"]) and s["frames"].tolist() == [4, 4]


def test_per_subject_icc_leaves_out_aus_a_subject_never_shows():
    y, p = _labels_and_predictions(4, n=40)
    y[:20, 2] = 0                                                # subject A never shows AU c
    subjects = np.array(["A"] * 20 + ["B"] * 20)
    table = per_subject_icc(y, p, subjects, (1, 2, 4))
    assert np.isnan(table.loc["A", "AU4"])
    assert table.loc["B", "AU4"] == pytest.approx(_icc_by_anova(y[20:, 2], p[20:, 2]))
    assert table.loc["A", "mean"] == pytest.approx(table.loc["A", ["AU1", "AU2"]].mean())


def test_mmengine_metric_deduplicates_frames():
    y, p = _labels_and_predictions(5, n=10)
    metric = AUIntensityMetric(aus=(1, 2, 4))
    batch = dict(intensity_pred=torch.tensor(p), intensity=torch.tensor(y),
                 intensity_mask=torch.ones(y.shape, dtype=torch.bool), index=torch.arange(10))
    metric.process(None, [batch])
    metric.process(None, [{k: v[:3] for k, v in batch.items()}])  # a padded last batch
    out = metric.compute_metrics(metric.results)
    assert out["intensity_frames"] == 10
    assert out["icc_AU2"] == pytest.approx(icc_3_1(y, p)[1])
    assert out["mae_mean"] == pytest.approx(mae(y, p).mean())
