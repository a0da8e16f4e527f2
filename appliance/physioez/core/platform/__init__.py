"""Shared infrastructure built on the kernel: printing, exports, background jobs, the
scheduler, crypto and keys, attachments. It never imports Flask (an import-linter contract)."""
