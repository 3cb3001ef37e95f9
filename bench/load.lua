-- wrk's script for the benchmark (bench/load.py). wrk counts the responses it
-- read; this counts the requests it sent too, since the ones still in flight when
-- its time is up are carried out by the server but never read. After a run, every
-- request sent must show as one row and one visit, and none twice.

local threads = {}

function setup(thread)
   table.insert(threads, thread)
end

function init(args)
   sent = 0
   -- Built once per thread: the same request every time.
   prepared = wrk.format()
end

function request()
   sent = sent + 1
   return prepared
end

function done(summary, latency, requests)
   -- Less the one call wrk makes before the run, in its first thread, to see
   -- what request() returns (script_verify_request): that one is never sent.
   local total_sent = -1
   for _, thread in ipairs(threads) do
      total_sent = total_sent + thread:get("sent")
   end
   local errors = summary.errors
   io.write(string.format(
      '{"sent": %d, "completed": %d, "duration_us": %d, "status_errors": %d, '
         .. '"socket_errors": %d, "timeouts": %d, "p50_us": %d, "p99_us": %d}\n',
      total_sent, summary.requests, summary.duration, errors.status,
      errors.connect + errors.read + errors.write, errors.timeout,
      latency:percentile(50), latency:percentile(99)))
end
