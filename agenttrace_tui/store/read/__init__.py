"""The store's read side: rows -> answers, one module per question; reached through the face (`agenttrace_tui.store`)."""
