"""The HTTP edge: resolver and error envelope, request bodies, response views, idempotency, JWT."""
