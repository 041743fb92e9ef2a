-- One sign-in after another on each connection: ask for a link, read it from the mailbox folder the
-- site delivers to, use it. Run with as many threads as connections (-t N -c N): each thread then drives
-- one connection, so the two steps of a sign-in never interleave.
local mailbox = os.getenv("BENCH_MAILBOX")
local site = os.getenv("BENCH_SITE")            -- "magiclink" or "sesame"
local project = os.getenv("BENCH_PROJECT_ID")
local per_thread = tonumber(os.getenv("BENCH_USERS_PER_THREAD"))

local next_id, threads = 1, {}
function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

-- Sign-ins completed (the link was used and accepted) and links that never arrived, over all threads.
function done(summary, latency, requests)
  local used, missing = 0, 0
  for _, thread in ipairs(threads) do
    used = used + thread:get("used")
    missing = missing + thread:get("missing")
  end
  io.write(string.format("sign-ins: %d\nmissing links: %d\n", used, missing))
end

local step, n, email, token = "start", 0, nil, nil
used, missing = 0, 0
local json = { ["Content-Type"] = "application/json" }
local api = { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. (project or "") }

function request()
  if step == "start" then
    n = n % per_thread + 1
    email = string.format("t%d-u%d@example.com", id, n)
    if site == "magiclink" then
      return wrk.format("POST", "/v1/auth/magiclink/signin/email", api, '{"loginId":"' .. email .. '"}')
    end
    return wrk.format("POST", "/start", json, '{"email":"' .. email .. '"}')
  end
  if site == "magiclink" then
    return wrk.format("POST", "/v1/auth/magiclink/verify", api, '{"token":"' .. token .. '"}')
  end
  return wrk.format("GET", "/login?sesame=" .. token)
end

function response(status, headers, body)
  if step == "use" and status >= 200 and status < 300 then
    used = used + 1
  end
  if step == "start" and status == 200 then
    local f = io.open(mailbox .. "/" .. email, "r")
    if f then
      local url = f:read("*a")
      f:close()
      token = url:match("[?&]t=([^&]+)") or url:match("[?&]sesame=([^&]+)")
      if token then
        step = "use"
        return
      end
    end
    missing = missing + 1
  end
  step = "start"
end
