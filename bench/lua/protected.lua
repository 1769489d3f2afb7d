-- protected.lua: GET /protected with the bearer token in $BENCH_TOKEN: the
-- authenticated path (token verification) and nothing else.
-- Run with LUA_PATH pointing at this directory (bench/run.sh does).
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")
done = require("report").done
