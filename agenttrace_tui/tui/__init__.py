"""The explorer (`agenttrace tui`): the only package that imports Textual."""
