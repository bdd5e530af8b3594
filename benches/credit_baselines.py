#!/usr/bin/env python3
"""Reference models for the credit-scoring scenario on its protocol:
stratified 5-fold (or `FOLDS`-fold) cross-validation of the shipped German credit file, mean
ROC-AUC over the folds, for each of seeds 7, 1, 2, 3, 4, 5 (the fold
assignment differs from indus's own, the protocol is the same). The file's
20 columns (not the plugin's three derived ones): categories one-hot,
numbers standardised, credit amount log1p'd first.

Needs scikit-learn and pandas (a benchmark-only dependency; the product
never imports Python):

    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install scikit-learn pandas
    /tmp/venv/bin/python benches/credit_baselines.py
    FOLDS=10 /tmp/venv/bin/python benches/credit_baselines.py   # the data README's 10-fold protocol
"""
import os

import numpy as np
import pandas as pd
from sklearn.compose import make_column_transformer
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

SEEDS = [7, 1, 2, 3, 4, 5]
FOLDS = int(os.environ.get("FOLDS", "5"))
path = os.path.join(os.path.dirname(__file__), "..", "plugins", "finance-credit", "data", "german_credit.csv")
rows = pd.read_csv(path)
bad = (rows.pop("creditability") == "bad").astype(int)
categories = [c for c in rows.columns if not pd.api.types.is_numeric_dtype(rows[c])]
numbers = [c for c in rows.columns if c not in categories]
rows["credit_amount"] = np.log1p(rows["credit_amount"])

models = {
    "logistic regression (C=1)": lambda: LogisticRegression(max_iter=2000),
    "logistic regression (C=0.1)": lambda: LogisticRegression(C=0.1, max_iter=2000),
    "random forest (500 trees, leaves of 2+)": lambda: RandomForestClassifier(
        500, min_samples_leaf=2, n_jobs=1, random_state=0),
    "gradient-boosted trees (depth 3, 200 rounds)": lambda: HistGradientBoostingClassifier(
        max_depth=3, learning_rate=0.05, max_iter=200),
}
print(f"{FOLDS} folds\nmodel | mean ROC-AUC over seeds | per seed " + " ".join(map(str, SEEDS)))
for name, make in models.items():
    scores = []
    for seed in SEEDS:
        pipeline = make_pipeline(
            make_column_transformer(
                (OneHotEncoder(handle_unknown="ignore"), categories), (StandardScaler(), numbers)),
            make())
        folds = StratifiedKFold(FOLDS, shuffle=True, random_state=seed)
        scores.append(cross_val_score(pipeline, rows, bad, cv=folds, scoring="roc_auc").mean())
    print(f"{name} | {np.mean(scores):.4f} | " + " ".join(f"{s:.4f}" for s in scores))
