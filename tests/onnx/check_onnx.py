"""Runs an exported indus model in ONNX Runtime (from PyPI) on the sample
`indus export --sample` wrote, and compares with indus's own outputs.

    python check_onnx.py MODEL.onnx SAMPLE.json
"""

import json
import sys

import numpy as np
import onnxruntime as ort

model, sample_path = sys.argv[1:]
sample = json.load(open(sample_path))
want = np.array(sample["outputs"], dtype=np.float32).reshape(-1, sample["output_width"])
session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
name = session.get_inputs()[0].name
if name == "raw":
    # The preprocessing is in the graph: feed the raw rows (null = missing).
    raw = [np.nan if v is None else v for v in sample["raw"]]
    x = np.array(raw, dtype=np.float32).reshape(-1, sample["raw_width"])
else:
    x = np.array(sample["inputs"], dtype=np.float32).reshape(-1, sample["width"])
(got,) = session.run(["outputs"], {name: x})
diff = float(np.max(np.abs(got - want)))
print(f"onnxruntime {ort.__version__}: {x.shape[0]} rows from `{name}`, max |onnx - indus| = {diff:.3g}")
assert got.shape == want.shape, (got.shape, want.shape)
assert diff <= 1e-5, diff
