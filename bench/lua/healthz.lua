-- healthz.lua: GET /healthz, the trivial public GET (no credentials).
-- Run with LUA_PATH pointing at this directory (bench/run.sh does).
done = require("report").done
