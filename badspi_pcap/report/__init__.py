"""Rendering results for people: plain text, and later JSON, Markdown/HTML and plots."""
