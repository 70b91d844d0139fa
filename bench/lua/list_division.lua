-- GET /api/v1/sample_cases?division=<street or community>&size=20: half the
-- requests name a street (9 digits, ~1/100 of the rows), half a community
-- (12 digits, ~1/300 of the rows). The request text is built once per
-- thread around the code (common.lua).
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")
local prefix, suffix

function prepare()
  prefix, suffix = request_parts("GET", "/api/v1/sample_cases?division=@@&size=20")
end

function request()
  local code = math.random(2) == 1 and random_street() or random_community()
  return prefix .. code .. suffix
end
