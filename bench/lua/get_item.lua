-- get_item.lua: GET /items/{id} as the test user "bench"; the item's path is
-- the path of the URL given to wrk (bench/run.sh seeds one item per server).
-- Run with LUA_PATH pointing at this directory (bench/run.sh does).
wrk.headers["X-Fortapi-Test-User"] = "bench"
done = require("report").done
