"""Validates the deployment manifests offline.

Kubernetes objects (deploy/kubernetes/) are checked with the
kubernetes-validate package (PyPI), strictly: an unknown field is an error.
KServe objects (deploy/kserve/) are checked against the openAPIV3Schema of
KServe's own CRDs when a folder holding them is given (`--kserve-crds DIR`,
the `config/crd/full/` folder of a KServe checkout): types, required fields
and, where the schema lists the properties, unknown fields.

    python deploy/validate.py [--kserve-crds DIR]
"""

import argparse
import pathlib
import subprocess
import sys

import yaml

HERE = pathlib.Path(__file__).resolve().parent


def unknown_fields(value, schema, path):
    """Fields the schema does not list, where it lists them (strict mode)."""
    problems = []
    if isinstance(value, dict) and schema.get("type") == "object":
        props = schema.get("properties")
        open_ended = schema.get("x-kubernetes-preserve-unknown-fields") or "additionalProperties" in schema
        for key, v in value.items():
            if props is not None and key in props:
                problems += unknown_fields(v, props[key], f"{path}.{key}")
            elif props is not None and not open_ended:
                problems.append(f"{path}.{key}: not a field of this object")
            elif isinstance(schema.get("additionalProperties"), dict):
                problems += unknown_fields(v, schema["additionalProperties"], f"{path}.{key}")
    elif isinstance(value, list) and "items" in schema:
        for i, v in enumerate(value):
            problems += unknown_fields(v, schema["items"], f"{path}[{i}]")
    return problems


def kserve(crds):
    import jsonschema

    schemas = {}
    for crd_file in pathlib.Path(crds).glob("serving.kserve.io_*.yaml"):
        for crd in yaml.safe_load_all(crd_file.read_text()):
            if not crd or crd.get("kind") != "CustomResourceDefinition":
                continue
            group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
            for version in crd["spec"]["versions"]:
                schemas[(f"{group}/{version['name']}", kind)] = version["schema"]["openAPIV3Schema"]
    failed = False
    for manifest in sorted((HERE / "kserve").glob("*.yaml")):
        for obj in yaml.safe_load_all(manifest.read_text()):
            key = (obj["apiVersion"], obj["kind"])
            schema = schemas.get(key)
            if schema is None:
                print(f"FAIL {manifest.name}: no CRD for {key}")
                failed = True
                continue
            problems = [e.message for e in jsonschema.Draft7Validator(schema).iter_errors(obj)]
            problems += unknown_fields(obj, schema, obj["kind"])
            for p in problems:
                print(f"FAIL {manifest.name}: {p}")
            failed |= bool(problems)
            if not problems:
                print(f"ok   {manifest.name}: {obj['kind']} {obj['metadata']['name']} against KServe's CRD")
    return failed


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--kserve-crds")
    args = parser.parse_args()
    k8s = sorted(str(p) for p in (HERE / "kubernetes").glob("*.yaml"))
    failed = subprocess.run(["kubernetes-validate", "--strict", "--quiet", *k8s]).returncode != 0
    print("ok   deploy/kubernetes against the Kubernetes schemas" if not failed else "FAIL deploy/kubernetes")
    if args.kserve_crds:
        failed |= kserve(args.kserve_crds)
    else:
        print("skip deploy/kserve: pass --kserve-crds DIR (KServe's config/crd/full) to check it")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
