-- wrk script for bench/http_send.py: POST one JSON body again and again, count what was accepted.
--
--   wrk -t2 -c64 -d10s --latency -s bench/send.lua http://127.0.0.1:PORT/v3/email/send -- BODY_FILE [API_KEY]
--
-- BODY_FILE holds the JSON body; API_KEY, when given, is sent as X-Smtp2go-Api-Key.
-- "Accepted" is HTTP 200 whose body carries "succeeded":1 (the SMTP2GO envelope as msgspec writes it).
-- At the end one line `WRK_JSON {...}` gives the figures in machine-readable form (latencies in µs).

local threads = {}

function setup(thread)
   table.insert(threads, thread)
end

function init(args)
   local path = args[1]
   if path == nil then
      error("send.lua needs the body file as its first argument (after --)")
   end
   local f = assert(io.open(path, "rb"))
   local body = f:read("*a")
   f:close()
   wrk.method = "POST"
   wrk.body = body
   wrk.headers["Content-Type"] = "application/json"
   if args[2] ~= nil and args[2] ~= "" then
      wrk.headers["X-Smtp2go-Api-Key"] = args[2]
   end
   accepted = 0      -- 200 with "succeeded":1
   other_2xx = 0     -- 2xx without it (should stay 0)
   non_2xx = 0       -- any other status
end

function response(status, headers, body)
   if status == 200 and body ~= nil and string.find(body, '"succeeded":1', 1, true) then
      accepted = accepted + 1
   elseif status >= 200 and status < 300 then
      other_2xx = other_2xx + 1
   else
      non_2xx = non_2xx + 1
   end
end

function done(summary, latency, requests)
   local acc, o2, n2 = 0, 0, 0
   for _, t in ipairs(threads) do
      acc = acc + (t:get("accepted") or 0)
      o2 = o2 + (t:get("other_2xx") or 0)
      n2 = n2 + (t:get("non_2xx") or 0)
   end
   local e = summary.errors
   io.write(string.format(
      'WRK_JSON {"requests":%d,"duration_us":%d,"bytes":%d,"accepted":%d,"other_2xx":%d,"non_2xx":%d,' ..
      '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
      '"latency_us":{"mean":%.1f,"stdev":%.1f,"min":%d,"max":%d,"p50":%d,"p75":%d,"p90":%d,"p99":%d,"p999":%d}}\n',
      summary.requests, summary.duration, summary.bytes, acc, o2, n2,
      e.connect, e.read, e.write, e.status, e.timeout,
      latency.mean, latency.stdev, latency.min, latency.max,
      latency:percentile(50), latency:percentile(75), latency:percentile(90),
      latency:percentile(99), latency:percentile(99.9)))
end
