-- GET /api/v1/sample_cases?kind=a&size=20&page=N, N uniform in 1..50: a filter
-- on an unindexed field that two rows in three match.
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

function request()
  return wrk.format("GET", "/api/v1/sample_cases?kind=a&size=20&page=" .. math.random(1, 50), headers())
end
