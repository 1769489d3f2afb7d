-- post_item.lua: POST /items/ with the bearer token in $BENCH_TOKEN, the
-- same valid item on every request (each one creates a new item).
-- Run with LUA_PATH pointing at this directory (bench/run.sh does).
wrk.method = "POST"
wrk.body = '{"name":"bench item","description":"a description","price":12.5,"tax":2.5}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")
done = require("report").done
