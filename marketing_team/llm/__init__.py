"""The LLM layer: one protocol, the anthropic, openai and offline providers, prices, structured replies."""
