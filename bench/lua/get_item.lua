-- get_item.lua: GET /items/{id} with the bearer token in $BENCH_TOKEN; the
-- item's path is the path of the URL given to wrk (bench/run.sh seeds one
-- item per server). Run with LUA_PATH pointing at this directory.
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")
done = require("report").done
