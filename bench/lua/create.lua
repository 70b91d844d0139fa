-- POST /api/v1/sample_cases: one create per request (no unique fields set).
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

function request()
  local body = string.format(
    '{"title":"压测新增案件%d","apply_date":"2024-%02d-%02d","division":"%s",' ..
    '"amount_fen":%d,"kind":"%s","members":%d,"urgent":%s}',
    math.random(1, 1000000), math.random(1, 12), math.random(1, 28), random_community(),
    math.random(0, 5000000), math.random(2) == 1 and "a" or "b", math.random(1, 6),
    math.random(10) == 1 and "true" or "false")
  return wrk.format("POST", "/api/v1/sample_cases", headers({["Content-Type"] = "application/json"}), body)
end
