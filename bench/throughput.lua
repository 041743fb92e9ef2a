-- One sign-in after another on each connection: ask for a link (or code), read it from the mailbox folder
-- the site delivers to, use it. Run with as many threads as connections (-t N -c N): each thread then
-- drives one connection, so the steps of a sign-in never interleave.
--
-- Sites (BENCH_SITE), and the requests of one sign-in:
--   magiclink    POST /v1/auth/magiclink/signin/email, POST /v1/auth/magiclink/verify
--   sesame       POST /start, GET /login?sesame=<token>
--   magic_link   POST /start, GET /magic-link/<uuid>/ (the confirm page), POST /magic-link/<uuid>/
--   allauth      POST /_allauth/app/v1/auth/code/request, POST .../code/confirm (X-Session-Token)
-- BENCH_ASYNC=1: a worker delivers after the start call answers, so a thread starts the next user's
-- sign-in while earlier links are on their way, and uses each link once it is in the mailbox.
local mailbox = os.getenv("BENCH_MAILBOX")
local site = os.getenv("BENCH_SITE")
local project = os.getenv("BENCH_PROJECT_ID")
local per_thread = tonumber(os.getenv("BENCH_USERS_PER_THREAD"))
-- Addresses are <prefix><thread>-u<n>@example.com: scale_out.py gives each instance's wrk its own prefix.
local prefix = os.getenv("BENCH_EMAIL_PREFIX") or "t"
local async = os.getenv("BENCH_ASYNC") == "1"

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

used, missing = 0, 0
local step, n, email, token = "start", 0, nil, nil
local pending, sessions = {}, {}
local json = { ["Content-Type"] = "application/json" }
local api = { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. (project or "") }

-- The link's secret from the mailbox, removed once read so that no stale link is used twice.
local function take_link(address)
  local path = mailbox .. "/" .. address
  local f = io.open(path, "r")
  if not f then return nil end
  local text = f:read("*a")
  f:close()
  os.remove(path)
  if site == "allauth" then return text end
  return text:match("[?&]t=([^&]+)") or text:match("[?&]sesame=([^&]+)") or text:match("/magic%-link/([^/]+)/")
end

local function start_request()
  n = n % per_thread + 1
  email = string.format("%s%d-u%d@example.com", prefix, id, n)
  step = "start"
  local body = '{"email":"' .. email .. '"}'
  if site == "magiclink" then
    return wrk.format("POST", "/v1/auth/magiclink/signin/email", api, '{"loginId":"' .. email .. '"}')
  elseif site == "allauth" then
    return wrk.format("POST", "/_allauth/app/v1/auth/code/request", json, body)
  end
  return wrk.format("POST", "/start", json, body)
end

local function use_request()
  if site == "magiclink" then
    return wrk.format("POST", "/v1/auth/magiclink/verify", api, '{"token":"' .. token .. '"}')
  elseif site == "sesame" then
    return wrk.format("GET", "/login?sesame=" .. token)
  elseif site == "allauth" then
    local headers = { ["Content-Type"] = "application/json", ["X-Session-Token"] = sessions[email] }
    return wrk.format("POST", "/_allauth/app/v1/auth/code/confirm", headers, '{"code":"' .. token .. '"}')
  elseif step == "confirm" then
    return wrk.format("GET", "/magic-link/" .. token .. "/")
  end
  return wrk.format("POST", "/magic-link/" .. token .. "/")
end

local function first_use_step()
  return site == "magic_link" and "confirm" or "use"
end

function request()
  if step == "start" and async and #pending > 0 then
    local link = take_link(pending[1])
    if link then
      email, token = table.remove(pending, 1), link
      step = first_use_step()
    elseif #pending >= per_thread - 1 then
      missing = missing + 1  -- far behind: give this one up rather than void it by asking again
      table.remove(pending, 1)
    end
  end
  if step == "start" then
    return start_request()
  end
  return use_request()
end

function response(status, headers, body)
  if step == "start" then
    local accepted = status == 200 or (site == "allauth" and status == 401)
    if accepted and site == "allauth" then
      sessions[email] = body:match('"session_token"%s*:%s*"([^"]+)"')
    end
    if accepted and async then
      table.insert(pending, email)
      return
    end
    token = accepted and take_link(email) or nil
    if token then
      step = first_use_step()
    else
      missing = missing + 1
    end
    return
  end
  if step == "confirm" and status == 200 then
    step = "use"
    return
  end
  if step == "use" and status >= 200 and status < 400 then
    used = used + 1
  end
  step = "start"
end
