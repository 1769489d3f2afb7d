-- login_flood.lua: POST /token password grants with wrong passwords for
-- random unknown usernames (no per-account throttle applies, so every
-- request costs a full argon2id verification against the dummy hash).
-- Non-2xx answers are expected (400 invalid_grant, 503 when the hasher's
-- queue is full); bench/run.sh runs it beside protected.lua to measure
-- what a login flood does to the rest of the API.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
local n = 0
request = function()
  n = n + 1
  local body = string.format("grant_type=password&username=flood%d-%d&password=wrong-password-%d",
    math.random(1, 1000000000), n, n)
  return wrk.format(nil, nil, nil, body)
end
done = require("report").done
