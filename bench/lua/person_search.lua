-- Person search mix on the demo city: GET /api/v1/persons?q=<text>&size=20,
-- the text drawn uniformly from BENCH_PERSON_QUERIES (one "kind<TAB>text" a
-- line, written by scripts/bench.sh): an equal mix of name substrings
-- (2-character pieces and whole names), pinyin initials and exact ID numbers.
-- Each query's request text is built once per thread (common.lua).
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")
local queries = {}

-- Percent-encode a query value (UTF-8 bytes as %XX).
local function encode(s)
  return (s:gsub("[^%w%-_%.~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

for line in io.lines(os.getenv("BENCH_PERSON_QUERIES")) do
  local text = line:match("^[^\t]+\t(.+)$")
  if text then queries[#queries + 1] = "/api/v1/persons?size=20&q=" .. encode(text) end
end

function prepare()
  for k = 1, #queries do queries[k] = wrk.format("GET", queries[k], headers()) end
end

function request()
  return queries[math.random(1, #queries)]
end
