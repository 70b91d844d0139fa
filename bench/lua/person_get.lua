-- GET /api/v1/persons/<id>, id uniform in 1..BENCH_PERSONS (the demo city of
-- scripts/bench.sh; ids are dense from 1).
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")
local persons = tonumber(os.getenv("BENCH_PERSONS") or "1000000")

function request()
  return wrk.format("GET", "/api/v1/persons/" .. math.random(1, persons), headers())
end
