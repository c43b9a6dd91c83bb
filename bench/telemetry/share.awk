# What share of a server's CPU samples telemetry holds, from `perf script -F tid,ip,sym` over a
# `perf record --call-graph dwarf` of the server (bench/run.sh, BENCH_PROFILE_SECONDS). A sample
# is a line with its thread id followed by its frames, leaf first; it counts for a part when any frame
# is one of that part's entry points, and for telemetry when any part claims it. A ratio within
# one run: the machine's slow and fast phases, which move whole-server throughput by more than
# telemetry costs, cancel out of it.
function flush_sample() {
  if (!in_sample) return
  samples++
  if (any) telemetry++
  for (p in hit) parts[p]++
  delete hit
  any = 0
  in_sample = 0
}
# A frame line starts with a tab; a sample's first line does not (perf right-aligns its thread
# id, so it may start with spaces).
/^[ \t]*$/ { flush_sample(); next }
!/^\t/ { flush_sample(); in_sample = 1; next }
{
  frame = $0
  # The pipeline's entry points into telemetry/telemetry.hpp (http::Exchange::respond is not
  # one: it calls the transport's own; what it adds is the record's responding, below).
  # The request line: formatted where it is logged (log_json_fields, or log_fields for other
  # sinks), written by the log sink's writer thread, whose loop is inlined into the thread's
  # lambda (perf names that frame after BufferedFdSink's constructor, not write_loop), and its
  # pages dropped behind by the DropBehind thread.
  if (frame ~ /telemetry::log_(json_)?fields|BufferedFdSink|DropBehind/) { hit["request line"] = 1; any = 1 }
  if (frame ~ /telemetry::argument_digest/) { hit["argument digest"] = 1 }
  if (frame ~ /OtlpExporter::run/) { hit["exporter thread"] = 1 }
  if (frame ~ /Telemetry::observe|telemetry::begin_operation|RequestRecord::(begin_operation|responding|stream_|abandoned|unanswered|emit|maybe_emit|set_|add_step|operation_ended|context)|telemetry::Operation::(end|finish)|telemetry::record_of|Telemetry::first_step|~RequestRecord|(RequestRecord|Operation)[^ ]*>::_M_dispose|~Operation|OtlpExporter::run/) any = 1
}
END {
  flush_sample()
  if (samples == 0) { print "no samples"; exit 1 }
  line = sprintf("%.1f%% of %d samples", 100 * telemetry / samples, samples)
  n = split("request line,argument digest,exporter thread", names, ",")
  for (i = 1; i <= n; i++) line = line sprintf("; %s %.1f%%", names[i], 100 * parts[names[i]] / samples)
  print line
}
