-- GET /api/v1/sample_cases/<id>, id uniform in 1..1,000,000 (BENCH_ROWS).
-- The request text is built once per thread around the id (common.lua).
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")
local rows = tonumber(os.getenv("BENCH_ROWS") or "1000000")
local random = math.random
local prefix, suffix

function prepare()
  prefix, suffix = request_parts("GET", "/api/v1/sample_cases/@@")
end

function request()
  return prefix .. random(1, rows) .. suffix
end
