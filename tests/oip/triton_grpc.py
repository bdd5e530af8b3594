"""Calls a running `indus serve --grpc-port` with the official Triton gRPC
client (`tritonclient.grpc`, unchanged) for every served scenario, and
checks that its answers equal `/v1/.../predict`'s for the same rows.

Usage: python triton_grpc.py http://127.0.0.1:HTTP_PORT 127.0.0.1:GRPC_PORT
"""

import sys

import numpy as np
import tritonclient.grpc as triton

from triton_http import NUMPY, complete_rows, fetch


def tensors(meta, rows):
    out = []
    for spec in meta.inputs:
        values = [r.get(spec.name) for r in rows]
        if any(v is None for v in values):
            continue
        shape = [len(rows)] + list(spec.shape[1:])
        if spec.datatype == "BYTES":
            array = np.array([str(v).encode() for v in values], dtype=np.object_)
        elif len(spec.shape) == 2:
            array = np.array(values, dtype=np.float32).reshape(shape)
        else:
            array = np.array(values, dtype=NUMPY[spec.datatype])
        tensor = triton.InferInput(spec.name, shape, spec.datatype)
        tensor.set_data_from_numpy(array)
        out.append(tensor)
    return out


def main():
    base, grpc_url = sys.argv[1].rstrip("/"), sys.argv[2]
    client = triton.InferenceServerClient(url=grpc_url)
    assert client.is_server_live() and client.is_server_ready()
    assert client.get_server_metadata().name == "indus"
    for scenario in fetch(f"{base}/v1/scenarios"):
        name = scenario["name"]
        meta = client.get_model_metadata(name)
        assert meta.name == name and client.is_model_ready(name)
        assert client.is_model_ready(name, model_version=meta.versions[0])
        rows = complete_rows(
            {"inputs": [{"name": t.name} for t in meta.inputs]},
            fetch(f"{base}/v1/scenarios/{name}/examples")["rows"],
        )
        expected = fetch(f"{base}/v1/scenarios/{name}/predict", {"rows": rows})["predictions"]
        names = [o.name for o in meta.outputs]
        first = "label" if "label" in names else "value"
        result = client.infer(
            name, tensors(meta, rows), outputs=[triton.InferRequestedOutput(n) for n in names]
        )
        got = result.as_numpy(first)
        if first == "label":
            got = [g.decode() if isinstance(g, bytes) else str(g) for g in got]
            want = [p["label"] for p in expected]
            assert got == want, f"{name}: {got} != {want}"
            want_scores = np.array([p["score"] for p in expected], dtype=np.float32)
            assert np.allclose(result.as_numpy("score"), want_scores, atol=1e-6), name
        else:
            want = np.array([p["value"] for p in expected], dtype=np.float32)
            assert np.allclose(got, want, atol=1e-5), f"{name}: {got} != {want}"
        try:
            client.get_model_metadata("no-such-model")
            raise AssertionError("an unknown model was found")
        except triton.InferenceServerException as e:
            assert "no-such-model" in str(e), e
        print(f"{name}: tritonclient.grpc agrees with /v1 predict on {len(rows)} rows")


if __name__ == "__main__":
    main()
