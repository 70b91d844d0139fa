-- GET /api/v1/sample_cases/<id>, id uniform in 1..1,000,000 (BENCH_ROWS).
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")
local rows = tonumber(os.getenv("BENCH_ROWS") or "1000000")

function request()
  return wrk.format("GET", "/api/v1/sample_cases/" .. math.random(1, rows), headers())
end
