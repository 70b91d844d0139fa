-- GET /api/v1/persons/<id>, id uniform in 1..BENCH_PERSONS (the demo city of
-- scripts/bench.sh; ids are dense from 1). The request text is built once
-- per thread around the id (common.lua).
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")
local persons = tonumber(os.getenv("BENCH_PERSONS") or "1000000")
local random = math.random
local prefix, suffix

function prepare()
  prefix, suffix = request_parts("GET", "/api/v1/persons/@@")
end

function request()
  return prefix .. random(1, persons) .. suffix
end
