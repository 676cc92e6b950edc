"""The leakage guards' measure (fraud and laundering alike): how well one column or feature alone separates a label."""

import numpy as np
import pandas as pd


def single_feature_auc(y: np.ndarray, values) -> float:
    """ROC AUC of one column alone, symmetrised (a feature may rank either way): numbers and booleans as they are,
    anything else as its label rate, cross-fitted over two halves (no row sees its own label)."""
    values = pd.Series(values)
    numeric = pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values)
    return _auc(y, values.astype(float).to_numpy() if numeric else _encoded(values, y))


def _auc(y: np.ndarray, value: np.ndarray) -> float:
    """Mann–Whitney ROC AUC, symmetrised."""
    ranks = pd.Series(value).rank().to_numpy()
    positive = y.sum()
    auc = (ranks[y].sum() - positive * (positive + 1) / 2) / (positive * (len(y) - positive))
    return max(auc, 1 - auc)


def _encoded(values: pd.Series, y: np.ndarray) -> np.ndarray:
    """A categorical column as its label rate, cross-fitted over two halves."""
    values = values.astype("string").fillna("<null>").to_numpy()
    half = np.arange(len(values)) % 2 == 0
    out = np.empty(len(values))
    for fit, apply in ((half, ~half), (~half, half)):
        rate = pd.Series(y[fit]).groupby(values[fit]).mean()
        out[apply] = pd.Series(values[apply]).map(rate).fillna(y[fit].mean()).to_numpy()
    return out


def null_pattern(rows: pd.DataFrame, columns: list[str]) -> pd.Series:
    """Per row, which of `columns` are null, as a string of 0s and 1s (a label carried by what is missing)."""
    return rows[columns].isna().astype(int).astype(str).agg("".join, axis=1)
