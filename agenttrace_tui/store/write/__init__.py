"""The store's write side: files -> rows (ingest, pricing, redaction, follow, copy); reached through the face (`agenttrace_tui.store`)."""
