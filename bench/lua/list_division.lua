-- GET /api/v1/sample_cases?division=<street or community>&size=20: half the
-- requests name a street (9 digits, ~1/100 of the rows), half a community
-- (12 digits, ~1/300 of the rows).
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

function request()
  local code = math.random(2) == 1 and random_street() or random_community()
  return wrk.format("GET", "/api/v1/sample_cases?division=" .. code .. "&size=20", headers())
end
