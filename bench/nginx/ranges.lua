-- wrk script for bench/edge_vs_nginx.py: one seeded random request per call.
--
-- wrk -s ranges.lua URL -- PATH_FORMAT COUNT OBJECT_BYTES RANGE_BYTES SEED
--   PATH_FORMAT  e.g. /obj/%03d.bin, formatted with a random index in [0, COUNT)
--   RANGE_BYTES  0: full GETs (200); else `Range: bytes=a-b` of that many bytes at a
--                uniformly random offset (any alignment) inside OBJECT_BYTES (206)
--   SEED         thread n draws from math.randomseed(SEED * 1000 + n): same requests
--                for every server run with the same seed
-- With OCDN_WRK_CHECK set in the environment, every response's status, body length
-- and Content-Range are checked (wrk then buffers bodies, so never in timed runs).
-- done() prints one machine-readable `OCDN-WRK` line, plus `OCDN-WRK-CHECK` per thread.

local threads = {}
local counter = 0

function setup(thread)
   counter = counter + 1
   thread:set("tid", counter)
   table.insert(threads, thread)
end

function init(args)
   local fmt = args[1]
   count = tonumber(args[2])
   object_bytes = tonumber(args[3])
   range_bytes = tonumber(args[4])
   math.randomseed(tonumber(args[5]) * 1000 + tid)
   paths = {}
   for i = 1, count do
      paths[i] = string.format(fmt, i - 1)
   end
   ok, bad, first_bad = 0, 0, ""
end

function request()
   local path = paths[math.random(1, count)]
   if range_bytes == 0 then
      return wrk.format("GET", path)
   end
   local first = math.random(0, object_bytes - range_bytes)
   return wrk.format("GET", path,
                     {["Range"] = "bytes=" .. first .. "-" .. (first + range_bytes - 1)})
end

local function check(status, headers, body)
   if range_bytes == 0 then
      return status == 200 and #body == object_bytes
   end
   local cr = headers["Content-Range"] or headers["content-range"] or ""
   local a, b, total = string.match(cr, "^bytes (%d+)-(%d+)/(%d+)$")
   return status == 206 and #body == range_bytes and a ~= nil
      and tonumber(b) - tonumber(a) + 1 == range_bytes and tonumber(total) == object_bytes
end

if os.getenv("OCDN_WRK_CHECK") then
   function response(status, headers, body)
      if check(status, headers, body) then
         ok = ok + 1
      else
         bad = bad + 1
         if first_bad == "" then
            first_bad = status .. "/" .. #body .. "/"
               .. string.gsub(headers["Content-Range"] or "-", " ", "_")
         end
      end
   end
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      "OCDN-WRK requests=%.0f duration_us=%.0f bytes=%.0f connect=%.0f read=%.0f"
         .. " write=%.0f status=%.0f timeout=%.0f p50_us=%.0f p99_us=%.0f\n",
      summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write,
      e.status, e.timeout, latency:percentile(50), latency:percentile(99)))
   for _, t in ipairs(threads) do
      io.write(string.format("OCDN-WRK-CHECK ok=%.0f bad=%.0f first=%s\n",
                             t:get("ok"), t:get("bad"), t:get("first_bad")))
   end
end
