-- common.lua - shared by the wrk scripts of scripts/bench.sh.
-- Seeds each wrk thread differently, adds the bearer token to requests,
-- builds each script's request text once per thread, and prints one
-- machine-readable line at the end ("BENCH key=value ..."), which the
-- script parses.
--
-- wrk calls request() for every request it sends. wrk.format() builds a
-- whole request from a table of headers each time (a string.format per
-- header, pairs(), table.concat); here it runs once per thread in init(),
-- around a marker in the path, and request() only joins the prefix, the
-- varying part and the suffix: the same bytes on the wire, a tenth of
-- wrk's Lua time (bench/notes.md, "sixth round").
local threads = 0
local token = os.getenv("BENCH_TOKEN")

-- Request headers: the bearer token when the script logged in (BENCH_TOKEN).
function headers(extra)
  local h = extra or {}
  if token and token ~= "" then
    h["Authorization"] = "Bearer " .. token
  end
  return h
end

-- The request text of METHOD PATH (headers() added) split at the marker
-- "@@" in PATH: returns the text before and after it. Call from init(),
-- when wrk has set the Host header.
function request_parts(method, path)
  local text = wrk.format(method, path, headers())
  local prefix, suffix = text:match("^(.-)@@(.*)$")
  assert(prefix, "request_parts: no @@ in " .. path)
  return prefix, suffix
end

-- Scripts define prepare() to build their request texts; it runs in
-- init(), after the thread's random seed is set.
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end

function init(args)
  math.randomseed(os.time() * 1000 + (tid or 0) * 7919)
  if prepare then prepare() end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH requests=%d duration_s=%.3f rps=%.1f p50_ms=%.3f p90_ms=%.3f p95_ms=%.3f p99_ms=%.3f max_ms=%.3f " ..
    "err_connect=%d err_read=%d err_write=%d err_status=%d err_timeout=%d\n",
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(95) / 1000,
    latency:percentile(99) / 1000,
    latency.max / 1000, e.connect, e.read, e.write, e.status, e.timeout))
end

-- The benchmark's division codes: 10 districts 120101..120110, each with 10
-- streets (001..010), each with 3 communities (001..003); see bench/gen.sql.
function random_street()
  return string.format("1201%02d%03d", math.random(1, 10), math.random(1, 10))
end

function random_community()
  return random_street() .. string.format("%03d", math.random(1, 3))
end
