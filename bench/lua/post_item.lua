-- post_item.lua: POST /items/ as the test user "bench", the same valid item
-- on every request (each one creates a new item).
-- Run with LUA_PATH pointing at this directory (bench/run.sh does).
wrk.method = "POST"
wrk.body = '{"name":"bench item","description":"a description","price":12.5,"tax":2.5}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Fortapi-Test-User"] = "bench"
done = require("report").done
