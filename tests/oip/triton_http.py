"""Calls a running `indus serve` with the official Triton HTTP client
(`tritonclient.http`, unchanged) for every served scenario, and checks that
its answers equal `/v1/.../predict`'s for the same rows.

Usage: python triton_http.py http://127.0.0.1:PORT
Exits non-zero, naming the scenario and the call, on the first mismatch.
"""

import json
import sys
import urllib.request

import numpy as np
import tritonclient.http as triton

NUMPY = {"FP32": np.float32, "INT64": np.int64, "BOOL": np.bool_}


def fetch(url, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, headers={"content-type": "application/json"})
    with urllib.request.urlopen(req) as res:
        return json.load(res)


def complete_rows(meta, rows):
    """The rows with a value for every input (binary tensors have no null);
    when none has, every row, with the inputs that miss a value left out
    (only optional ones can: nullable or looked up by key)."""
    names = [spec["name"] for spec in meta["inputs"]]
    full = [r for r in rows if all(r.get(n) is not None for n in names)]
    return full or rows


def tensors(meta, rows, binary):
    """One InferInput per input the model lists, from the rows."""
    out = []
    for spec in meta["inputs"]:
        name, datatype = spec["name"], spec["datatype"]
        values = [r.get(name) for r in rows]
        if any(v is None for v in values):
            continue
        if datatype == "BYTES":
            array = np.array([str(v).encode() for v in values], dtype=np.object_)
        elif len(spec["shape"]) == 2:
            array = np.array(values, dtype=np.float32).reshape(len(rows), -1)
        else:
            array = np.array(values, dtype=NUMPY[datatype])
        tensor = triton.InferInput(name, [len(rows)] + spec["shape"][1:], datatype)
        tensor.set_data_from_numpy(array, binary_data=binary)
        out.append(tensor)
    return out


def check(client, base, name):
    meta = client.get_model_metadata(name)
    assert meta["name"] == name, meta
    assert client.is_model_ready(name), name
    version = meta["versions"][0]
    assert client.is_model_ready(name, model_version=version), name
    rows = complete_rows(meta, fetch(f"{base}/v1/scenarios/{name}/examples")["rows"])
    expected = fetch(f"{base}/v1/scenarios/{name}/predict", {"rows": rows})["predictions"]
    names = [o["name"] for o in meta["outputs"]]
    first = "label" if "label" in names else "value"
    for binary in (False, True):
        outputs = [triton.InferRequestedOutput(n, binary_data=binary) for n in names]
        result = client.infer(name, tensors(meta, rows, binary), outputs=outputs)
        got = result.as_numpy(first)
        if first == "label":
            got = [g.decode() if isinstance(g, bytes) else str(g) for g in got]
            want = [p["label"] for p in expected]
            assert got == want, f"{name} (binary={binary}): {got} != {want}"
            scores = result.as_numpy("score")
            want_scores = np.array([p["score"] for p in expected], dtype=np.float32)
            assert np.allclose(scores, want_scores, atol=1e-6), f"{name}: {scores} != {want_scores}"
        else:
            want = np.array([p["value"] for p in expected], dtype=np.float32)
            assert np.allclose(got, want, atol=1e-5), f"{name}: {got} != {want}"
    # The same through the version route.
    client.infer(name, tensors(meta, rows, False), model_version=version)
    print(f"{name}: tritonclient.http agrees with /v1 predict on {len(rows)} rows (JSON and binary)")


def main():
    base = sys.argv[1].rstrip("/")
    client = triton.InferenceServerClient(url=base.split("://", 1)[1])
    assert client.is_server_live() and client.is_server_ready()
    server = client.get_server_metadata()
    assert server["name"] == "indus", server
    served = [s["name"] for s in fetch(f"{base}/v1/scenarios")]
    assert served, "nothing served"
    for name in served:
        check(client, base, name)


if __name__ == "__main__":
    main()
