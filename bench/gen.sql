-- Synthetic sample_cases rows for the benchmarks (scripts/bench.sh).
-- scripts/bench.sh replaces @ROWS@ with the row count, drops the table's indexes
-- before running this and recreates them afterwards (a sort beats 1M random inserts).
-- Divisions: 10 districts (120101..120110) x 10 streets (001..010) x 3
-- communities (001..003) = 300 community codes; row i lands in community
-- (i*7) % 300, so every district holds n/10 rows spread over the whole id range.
-- Columns not named stay NULL: code (unique), and the sensitive fields, which the
-- platform stores sealed with a blind index and which plain SQL cannot write.
PRAGMA journal_mode=OFF;
PRAGMA synchronous=OFF;
PRAGMA cache_size=-262144;
BEGIN;
WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < @ROWS@)
INSERT INTO sample_cases (id, version, created_at, updated_at, created_by, updated_by, state,
                          title, amount_fen, apply_date, division, kind, members, urgent)
SELECT i, 1,
       strftime('%Y-%m-%dT%H:%M:%fZ', '2024-12-31', '-' || (i % 86400) || ' seconds'),
       strftime('%Y-%m-%dT%H:%M:%fZ', '2024-12-31', '-' || (i % 86400) || ' seconds'),
       'bench', 'bench',
       CASE i % 10 WHEN 0 THEN 'submitted' WHEN 1 THEN 'accepted' WHEN 2 THEN 'approved'
                   WHEN 3 THEN 'rejected' ELSE 'draft' END,
       '测试案件' || i,
       (i * 104729) % 10000000,
       date('2015-01-01', '+' || ((i * 37) % 3653) || ' days'),
       '1201' || printf('%02d', 1 + ((i * 7) % 300) / 30)
              || printf('%03d', 1 + (((i * 7) % 300) / 3) % 10)
              || printf('%03d', 1 + ((i * 7) % 300) % 3),
       CASE WHEN i % 3 = 0 THEN 'b' ELSE 'a' END,
       1 + i % 6,
       CASE WHEN i % 10 = 0 THEN 1 ELSE 0 END
FROM seq;
COMMIT;
