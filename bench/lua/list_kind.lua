-- GET /api/v1/sample_cases?kind=a&size=20&page=N, N uniform in 1..50: a filter
-- on an unindexed field that two rows in three match. The 50 request texts
-- are built once per thread (common.lua).
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")
local pages = {}

function prepare()
  local prefix, suffix = request_parts("GET", "/api/v1/sample_cases?kind=a&size=20&page=@@")
  for n = 1, 50 do pages[n] = prefix .. n .. suffix end
end

function request()
  return pages[math.random(1, 50)]
end
