"""Table of benches/serve.sh results: indus serve beside the FastAPI anchor."""
import sys

def fields(line):
    return dict(kv.split("=", 1) for kv in line.split() if "=" in kv)

lines = open(sys.argv[1]).read().splitlines()
indus = [fields(l) for l in lines if l.startswith("RUN server=indus")]
anchor = [fields(l) for l in lines if l.startswith("ANCHOR RUN")]
cold = [fields(l) for l in lines if l.startswith("COLD server=indus")]
rss = [fields(l) for l in lines if l.startswith("RSS server=indus")]
a_cold = [fields(l) for l in lines if l.startswith("ANCHOR COLD")]
a_rss = [fields(l) for l in lines if l.startswith("ANCHOR RSS_WARM")]

def errors(r):
    return sum(int(r.get(k, 0)) for k in ("err_connect", "err_read", "err_write", "err_timeout", "err_status"))

print("| server | scenario | body | conc | req/s | p50 ms | p99 ms | errors | req/s vs FastAPI (w1 / w2) |")
print("|---|---|---|---|---|---|---|---|---|")
def anchor_rps(body, conc, cfg):
    for a in anchor:
        if a.get("config") == cfg and a.get("body") == body and a.get("conc") == conc:
            return float(a["rps"])
    return None
for r in indus:
    body = "row1" if r["body"].endswith("row1") else "rows100"
    ratios = []
    for cfg in ("torch-w1", "torch-w2"):
        base = anchor_rps(body, r["conc"], cfg)
        ratios.append(f"{float(r['rps']) / base:.1f}x" if base else "-")
    print(f"| indus | {r['scenario']} | {r['body']} | {r['conc']} | {float(r['rps']):.0f} | {r['p50_ms']} | {r['p99_ms']} | {errors(r)} | {' / '.join(ratios)} |")
for a in anchor:
    print(f"| FastAPI {a['config']} | mnist (seed MLP) | {a['body']} | {a['conc']} | {float(a['rps']):.0f} | {a['p50_ms']} | {a['p99_ms']} | {errors(a)} | |")
print()
print("| measure | indus serve (six scenarios) | FastAPI anchor |")
print("|---|---|---|")
print(f"| cold start to ready, s | {' / '.join(c['cold_start_s'] for c in cold)} | {' / '.join(c.get('cold_start_s', '?') + ' (' + c.get('config', '') + ')' for c in a_cold)} |")
print(f"| RSS, MiB | {' / '.join(r['rss_mib'] + ' (' + r['state'] + ')' for r in rss)} | {' / '.join(str(round(int(r.get('total_kib', 0)) / 1024)) + ' (' + r.get('config', '') + ')' for r in a_rss)} |")
