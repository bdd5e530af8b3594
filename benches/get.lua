-- wrk script: GET the URL and print one RESULT line as post.lua does
-- (latencies in ms), for probes such as /health.
done = function(summary, latency, requests)
  local e = summary.errors
  local secs = summary.duration / 1e6
  io.write(string.format(
    "RESULT requests=%d duration_s=%.3f rps=%.1f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f mean_ms=%.3f " ..
    "err_connect=%d err_read=%d err_write=%d err_timeout=%d err_status=%d bytes=%d\n",
    summary.requests, secs, summary.requests / secs,
    latency:percentile(50) / 1e3, latency:percentile(90) / 1e3, latency:percentile(99) / 1e3,
    latency.max / 1e3, latency.mean / 1e3,
    e.connect, e.read, e.write, e.timeout, e.status, summary.bytes))
end
