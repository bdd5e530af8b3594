"""Recomputes a run's per-group fairness figures with fairlearn (PyPI) from
the run's own held-out predictions, and compares them with what indus wrote
in metrics.json.

    python check_fairlearn.py HELD_OUT.csv DATA.csv METRICS.json SPEC.json

SPEC.json lists the protected columns as the plugin declares them:
[{"column": "age", "edges": [26, 40]}, {"column": "status",
"groups": {"female": ["..."]}}]. The groups are formed here, from the data
file's own values, not taken from indus.
"""

import json
import math
import sys

import fairlearn
import numpy as np
import pandas as pd
from fairlearn.metrics import (
    MetricFrame,
    count,
    demographic_parity_difference,
    demographic_parity_ratio,
    equalized_odds_difference,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)
from sklearn.metrics import precision_score, roc_auc_score

held_out_path, data_path, metrics_path, spec_path = sys.argv[1:]
held = pd.read_csv(held_out_path)
data = pd.read_csv(data_path, dtype=str, keep_default_na=False)
report = json.load(open(metrics_path))["fairness"]
spec = json.load(open(spec_path))
positive = report["positive_class"]

# `row` is the row's 1-based number among the data file's rows.
rows = data.iloc[held["row"].to_numpy() - 1].reset_index(drop=True)
y_true = (held["truth"] == positive).astype(int).to_numpy()
y_pred = (held["label"] == positive).astype(int).to_numpy()
score = held[f"p_{positive}"].to_numpy()


def edge(e):
    return f"{e:g}"


def groups_of(p):
    values = rows[p["column"]]
    if "edges" in p:
        edges = p["edges"]
        v = values.astype(float).to_numpy()
        names = []
        for x in v:
            above = sum(1 for e in edges if x >= e)
            if above == 0:
                names.append(f"< {edge(edges[0])}")
            elif above == len(edges):
                names.append(f">= {edge(edges[-1])}")
            else:
                names.append(f"[{edge(edges[above - 1])}, {edge(edges[above])})")
        return pd.Series(names)
    merged = {v: name for name, members in p.get("groups", {}).items() for v in members}
    return values.map(lambda v: merged.get(v, v))


def base_rate(y_true, y_pred):
    return float(np.mean(y_true))


def precision(y_true, y_pred):
    return precision_score(y_true, y_pred, zero_division=np.nan)


worst = 0.0
checked = 0


def agree(what, ours, theirs):
    global worst, checked
    if ours is None or (isinstance(theirs, float) and math.isnan(theirs)):
        assert ours is None and math.isnan(theirs), f"{what}: indus {ours}, fairlearn {theirs}"
        return
    diff = abs(float(ours) - float(theirs))
    worst = max(worst, diff)
    checked += 1
    assert diff <= 1e-6, f"{what}: indus {ours}, fairlearn {theirs}"


for p in spec:
    sensitive = groups_of(p)
    frame = MetricFrame(
        metrics={
            "count": count,
            "base_rate": base_rate,
            "selection_rate": selection_rate,
            "true_positive_rate": true_positive_rate,
            "false_positive_rate": false_positive_rate,
            "precision": precision,
        },
        y_true=y_true,
        y_pred=y_pred,
        sensitive_features=sensitive,
    )
    ours = next(c for c in report["columns"] if c["column"] == p["column"])
    by_group = {g["group"]: g for g in ours["groups"] if g["count"] > 0}
    assert set(by_group) == set(frame.by_group.index), (set(by_group), set(frame.by_group.index))
    for name, row in frame.by_group.iterrows():
        g = by_group[name]
        for metric in row.index:
            agree(f"{p['column']}={name} {metric}", g[metric], float(row[metric]))
        mask = (sensitive == name).to_numpy()
        auc = roc_auc_score(y_true[mask], score[mask]) if len(set(y_true[mask])) == 2 else float("nan")
        agree(f"{p['column']}={name} roc_auc", g["roc_auc"], float(auc))
    kwargs = dict(y_true=y_true, y_pred=y_pred, sensitive_features=sensitive)
    agree(f"{p['column']} demographic parity difference", ours["demographic_parity_difference"], demographic_parity_difference(**kwargs))
    agree(f"{p['column']} demographic parity ratio", ours["demographic_parity_ratio"], demographic_parity_ratio(**kwargs))
    agree(f"{p['column']} equalized odds difference", ours["equalized_odds_difference"], equalized_odds_difference(**kwargs))

print(f"fairlearn {fairlearn.__version__}: {checked} figures over {len(held)} held-out rows agree, max |indus - fairlearn| = {worst:.3g}")
