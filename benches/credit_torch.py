#!/usr/bin/env python3
"""A PyTorch copy of the credit-scoring network, for trying changes quickly
before building them into indus: the German credit file with the plugin's
three derived affordability columns, categories one-hot, numbers
standardised (credit amount log1p'd first), balanced class weights, AdamW,
stratified 5-fold cross-validation per seed (scikit-learn's folds, not
indus's). Prints the mean fold ROC-AUC over the seeds, then each seed's.

Each argument is one setting, written as Python keyword arguments:
  ple=N         N piecewise-linear bins beside each number with more than
                `min_distinct` (default 8) distinct training values
  ple_only=1    the bins instead of the scaled value
  hidden=, dropout=, act='gelu', lr=, wd=, epochs=, bs=   the network
  ens=N         N networks from different seeds, probabilities averaged
  min_count=N   category values seen fewer than N times share one input
  swa=F         weights averaged over the last (1 - F) of the epochs

Benchmark-only (needs torch, scikit-learn, pandas); the product never
imports Python:

    python3 benches/credit_torch.py "" "ple=4" "ple=4,hidden=64,dropout=0.5,ens=5"
    SEEDS="8 9 10 11 12 13" python3 benches/credit_torch.py "ple=4"
"""
import os
import sys

import numpy as np
import pandas as pd
import torch
import torch.nn as nn
from sklearn.model_selection import StratifiedKFold
from sklearn.metrics import roc_auc_score
torch.set_num_threads(1)
rows = pd.read_csv(os.path.join(os.path.dirname(__file__), "..", "plugins", "finance-credit", "data", "german_credit.csv"))
y = (rows.pop("creditability") == "bad").astype(np.float32).values
am, mo, age, rate = [rows[c].astype(float).values for c in ["credit_amount","duration_in_month","age_in_years","installment_rate_in_percentage_of_disposable_income"]]
rows["log_monthly_payment"] = np.log1p(am/np.maximum(mo,1))
rows["log_income_estimate"] = np.log1p(am/np.maximum(mo,1)/np.maximum(rate,1))
rows["loan_years_per_age"] = mo/12/np.maximum(age,18)
rows["credit_amount"] = np.log1p(am)
cats = [c for c in rows.columns if not pd.api.types.is_numeric_dtype(rows[c])]
nums = [c for c in rows.columns if c not in cats]

def features(tr, te, cfg):
    out_tr, out_te = [], []
    for c in cats:
        vals = rows[c].values
        counts = pd.Series(vals[tr]).value_counts()
        keep = [v for v in counts.index if counts[v] >= cfg.get("min_count", 1)]
        for v in keep:
            out_tr.append((vals[tr] == v).astype(np.float32)); out_te.append((vals[te] == v).astype(np.float32))
        if cfg.get("min_count", 1) > 1:
            out_tr.append((~np.isin(vals[tr], keep)).astype(np.float32)); out_te.append((~np.isin(vals[te], keep)).astype(np.float32))
    for c in nums:
        v = rows[c].values.astype(np.float64)
        m, s = v[tr].mean(), v[tr].std() or 1.0
        nb = cfg.get("ple", 0)
        many = len(np.unique(v[tr])) > cfg.get("min_distinct", 8)
        if not (cfg.get("ple_only") and nb and many):
            out_tr.append(((v[tr]-m)/s).astype(np.float32)); out_te.append(((v[te]-m)/s).astype(np.float32))
        if nb and many:
            edges = np.unique(np.quantile(v[tr], np.linspace(0, 1, nb+1)))
            for a, b in zip(edges[:-1], edges[1:]):
                f = lambda x: np.clip((x-a)/(b-a), 0, 1).astype(np.float32)
                out_tr.append(f(v[tr])); out_te.append(f(v[te]))
    return np.stack(out_tr, 1), np.stack(out_te, 1)

def fit_predict(Xtr, ytr, Xte, cfg, seed):
    torch.manual_seed(seed)
    h = cfg.get("hidden", 32); act = {"relu": nn.ReLU, "gelu": nn.GELU}[cfg.get("act", "relu")]
    net = nn.Sequential(nn.Linear(Xtr.shape[1], h), act(), nn.Dropout(cfg.get("dropout", .3)), nn.Linear(h, 1))
    for m in net:
        if isinstance(m, nn.Linear): nn.init.kaiming_uniform_(m.weight, nonlinearity="relu"); nn.init.zeros_(m.bias)
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.get("lr", 5e-4), weight_decay=cfg.get("wd", .01))
    Xt, yt = torch.tensor(Xtr), torch.tensor(ytr)
    pos = ytr.mean(); w = torch.where(yt > .5, torch.tensor(.5/pos), torch.tensor(.5/(1-pos)))
    g = torch.Generator().manual_seed(seed)
    E = cfg.get("epochs", 40); bs = cfg.get("bs", 16)
    swa = None; nswa = 0
    for ep in range(E):
        net.train()
        perm = torch.randperm(len(Xt), generator=g)
        for i in range(0, len(Xt), bs):
            idx = perm[i:i+bs]
            loss = (nn.functional.binary_cross_entropy_with_logits(net(Xt[idx]).squeeze(1), yt[idx], reduction="none") * w[idx]).mean()
            opt.zero_grad(); loss.backward(); opt.step()
        if cfg.get("swa") and ep >= E*cfg["swa"]:
            sd = {k: v.detach().clone() for k, v in net.state_dict().items()}
            if swa is None: swa = sd
            else:
                for k in swa: swa[k] += sd[k]
            nswa += 1
    if swa is not None:
        net.load_state_dict({k: v/nswa for k, v in swa.items()})
    net.eval()
    with torch.no_grad(): return torch.sigmoid(net(torch.tensor(Xte)).squeeze(1)).numpy()

def evaluate(cfg, seeds):
    res = []
    for seed in seeds:
        aucs = []
        for k, (tr, te) in enumerate(StratifiedKFold(5, shuffle=True, random_state=seed).split(rows, y)):
            Xtr, Xte = features(tr, te, cfg)
            p = np.mean([fit_predict(Xtr, y[tr], Xte, cfg, seed*100+k*10+j) for j in range(cfg.get("ens", 1))], 0)
            aucs.append(roc_auc_score(y[te], p))
        res.append(np.mean(aucs))
    return np.mean(res), res

if __name__ == "__main__":
    seeds = [int(s) for s in os.environ.get("SEEDS", "7 1 2 3 4 5").split()]
    for arg in sys.argv[1:]:
        cfg = eval("dict(%s)" % arg)
        m, r = evaluate(cfg, seeds)
        print(f"{m:.4f} | " + " ".join(f"{x:.4f}" for x in r) + f" | {arg}", flush=True)
