"""Process-wide plumbing: settings (every environment variable), logger and metrics, KMS crypto."""
