"""The web edge: HTTP API, OpenAI-compatible routes, gradio web chat, widget, feedback store."""
