#!/usr/bin/env python3
"""Non-learned reference points for the retail-recommendation scenario, on
the same u1 split and the same top-10 protocol as `indus run` reports:

- RMSE of predicting the training mean rating for every test rating;
- HR@10 / NDCG@10 of ranking by popularity (training rating count) and by
  an item's mean training rating (items with at least MIN ratings), each
  list leaving out what the user rated in training; relevant = the user's
  u1 test ratings >= 4.

Standard library only:  python3 benches/retail_baselines.py [DATA_DIR]
"""
import csv
import math
import os
import sys
from collections import defaultdict

data = sys.argv[1] if len(sys.argv) > 1 else os.environ.get(
    "INDUS_DATA_DIR", os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data"))
path = os.path.join(data, "retail", "movielens100k_ratings.csv")
train, test = [], []
with open(path, newline="") as f:
    for row in csv.DictReader(f):
        r = (row["user_id"], row["item_id"], int(row["rating"]))
        (test if row["u_fold"] == "1" else train).append(r)

mean = sum(r for _, _, r in train) / len(train)
rmse = math.sqrt(sum((r - mean) ** 2 for _, _, r in test) / len(test))
print(f"training-mean predictor: RMSE {rmse:.4f} on {len(test)} u1 test ratings")

count, total = defaultdict(int), defaultdict(int)
seen = defaultdict(set)
for u, i, r in train:
    count[i] += 1
    total[i] += r
    seen[u].add(i)
liked = defaultdict(set)
for u, i, r in test:
    if r >= 4:
        liked[u].add(i)


def evaluate(ranked, name):
    hits, ndcg = [], []
    for u, rel in liked.items():
        if u not in seen:
            continue
        top = [i for i in ranked if i not in seen[u]][:10]
        found = [k for k, i in enumerate(top) if i in rel]
        hits.append(bool(found))
        dcg = sum(1 / math.log2(k + 2) for k in found)
        ideal = sum(1 / math.log2(k + 2) for k in range(min(len(rel), 10)))
        ndcg.append(dcg / ideal)
    print(f"{name}: HR@10 {sum(hits) / len(hits):.4f}, NDCG@10 {sum(ndcg) / len(ndcg):.4f} over {len(hits)} users")


evaluate(sorted(count, key=lambda i: (-count[i], int(i))), "most rated first")
for minimum in (1, 10):
    items = [i for i in count if count[i] >= minimum]
    evaluate(sorted(items, key=lambda i: (-total[i] / count[i], int(i))),
             f"highest mean rating first (items with >= {minimum} ratings)")
