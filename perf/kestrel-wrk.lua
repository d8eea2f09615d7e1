-- POSTs a body of BODY_BYTES bytes to the echo endpoint (wrk's URL path) on every request.
wrk.method = "POST"
wrk.body = string.rep("x", tonumber(os.getenv("BODY_BYTES") or "16384"))
wrk.headers["Content-Type"] = "application/octet-stream"
